package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// child is a process the bench started itself: the limit's, which runs
// beside the supervised pipeline, not under it.
type child struct {
	name string
	pid  int // also its process group id
	log  string
	done chan error // receives Wait's result once, after the group is killed
	err  error      // set when done has been received
	exit bool
}

// startProc starts exe with argv (without the program name) in its own
// process group, with its stdout and stderr going to the file logPath;
// name is what messages call the process.
//
// One goroutine, locked to its OS thread and never unlocked, starts the
// child and waits for it: the child's Pdeathsig SIGKILL fires when that
// thread ends, which is only after the child was reaped — or when this
// process dies, however it dies (golang/go#27505). After Wait the goroutine
// SIGKILLs the whole group, so nothing the child forked survives either.
func startProc(exe, name string, argv, env []string, logPath string) (*child, error) {
	p := &child{name: name, log: logPath, done: make(chan error, 1)}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		f, err := os.Create(logPath)
		if err != nil {
			started <- fmt.Errorf("start %s: %w", name, err)
			return
		}
		defer f.Close()
		cmd := exec.Command(exe, argv...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = f, f
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("start %s: %w", name, err)
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		err = cmd.Wait()
		_ = syscall.Kill(-p.pid, syscall.SIGKILL) // ESRCH when the group is gone: fine
		p.done <- err
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// renice sets the nice value of every thread of process group pgid.
// (PRIO_PROCESS would change only the thread whose id is pid; PRIO_PGRP
// walks every thread of the group, and threads created later inherit the
// value from their creator.)
func renice(pgid, nice int) {
	_ = syscall.Setpriority(syscall.PRIO_PGRP, pgid, nice)
}

// exited reports whether the process has ended, without waiting.
func (p *child) exited() bool {
	if p.exit {
		return true
	}
	select {
	case p.err = <-p.done:
		p.exit = true
	default:
	}
	return p.exit
}

// stop sends SIGTERM and waits up to grace for the child to exit (or for
// ctx to end), then kills its group. It returns the child's exit error (nil
// for exit 0).
func (p *child) stop(ctx context.Context, grace time.Duration) error {
	if p.exited() {
		return p.err
	}
	_ = syscall.Kill(p.pid, syscall.SIGTERM)
	_ = syscall.Kill(-p.pid, syscall.SIGCONT) // if paused, it could not act on SIGTERM
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case p.err = <-p.done:
	case <-ctx.Done():
		p.kill()
		return ctx.Err()
	case <-timer.C:
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		p.err = <-p.done
		p.err = fmt.Errorf("%s did not stop within %v after SIGTERM; killed: %w", p.name, grace, p.err)
	}
	p.exit = true
	return p.err
}

// pause stops every process of the child's group (SIGSTOP) and waits
// until each of its threads has stopped; resume continues them (SIGCONT).
func (p *child) pause() error {
	return pauseGroup(p.name, p.pid, func() error {
		if p.exited() {
			return p.failure()
		}
		return nil
	})
}

func (p *child) resume() error {
	if err := resumeGroup(p.name, p.pid); err != nil && !p.exited() {
		return err
	}
	return nil
}

// pauseGroup stops every process of group pgid (SIGSTOP) and waits until
// each thread of its leader has stopped, so that the time after it returns
// is the other phase's alone. gone returns an error once the leader has
// ended.
func pauseGroup(name string, pgid int, gone func() error) error {
	if err := syscall.Kill(-pgid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("bench: pause %s: %w", name, err)
	}
	deadline := time.Now().Add(time.Second)
	for !stopped(pgid) {
		if err := gone(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s did not stop within 1s of SIGSTOP", name)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// resumeGroup continues every process of group pgid (SIGCONT).
func resumeGroup(name string, pgid int) error {
	if err := syscall.Kill(-pgid, syscall.SIGCONT); err != nil {
		return fmt.Errorf("bench: resume %s: %w", name, err)
	}
	return nil
}

// stopped reports whether every thread of process pid is stopped (state T).
func stopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name()))
		if err != nil {
			continue // the thread has ended
		}
		// The state follows the command name, which is in parentheses
		// and may hold spaces and parentheses itself.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
}

// kill ends the child's group at once and waits for it.
func (p *child) kill() {
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	p.err = <-p.done
	p.exit = true
}

// tail returns the last n bytes of the child's log, for error messages.
func (p *child) tail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(bytes.TrimSpace(b))
}

// failure describes a child that ended before it was asked to.
func (p *child) failure() error {
	err := p.err
	if err == nil {
		err = errors.New("exit 0")
	}
	return fmt.Errorf("bench: %s ended early (%w); its log ends:\n%s", p.name, err, p.tail(2000))
}
