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

// stageProc is one stage process the bench started.
type stageProc struct {
	name string
	pid  int // also its process group id
	log  string
	done chan error // receives Wait's result once, after the group is killed
	err  error      // set when done has been received
	exit bool
}

// startStage starts `exe stage NAME ARGS...` in its own process group, with
// its stdout and stderr going to the file logPath and, when nice is not 0,
// every thread reniced by nice.
//
// One goroutine, locked to its OS thread and never unlocked, starts the
// child and waits for it: the child's Pdeathsig SIGKILL fires when that
// thread ends, which is only after the child was reaped — or when this
// process dies, however it dies (golang/go#27505). After Wait the goroutine
// SIGKILLs the whole group, so nothing the child forked survives either.
func startStage(exe, name string, args, env []string, logPath string, nice int) (*stageProc, error) {
	p := &stageProc{name: name, log: logPath, done: make(chan error, 1)}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		f, err := os.Create(logPath)
		if err != nil {
			started <- fmt.Errorf("start %s: %w", name, err)
			return
		}
		defer f.Close()
		cmd := exec.Command(exe, append([]string{"stage", name}, args...)...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = f, f
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("start %s: %w", name, err)
			return
		}
		p.pid = cmd.Process.Pid
		if nice != 0 {
			renice(p.pid, nice)
		}
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
func (p *stageProc) exited() bool {
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

// stop sends SIGTERM and waits up to grace for the stage to exit (or for
// ctx to end), then kills its group. It returns the stage's exit error (nil
// for exit 0).
func (p *stageProc) stop(ctx context.Context, grace time.Duration) error {
	if p.exited() {
		return p.err
	}
	_ = syscall.Kill(p.pid, syscall.SIGTERM)
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

// kill ends the stage's group at once and waits for it.
func (p *stageProc) kill() {
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	p.err = <-p.done
	p.exit = true
}

// tail returns the last n bytes of the stage's log, for error messages.
func (p *stageProc) tail(n int) string {
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

// failure describes a stage that ended before it was asked to.
func (p *stageProc) failure() error {
	err := p.err
	if err == nil {
		err = errors.New("exit 0")
	}
	return fmt.Errorf("pipeline: %s ended early (%w); its log ends:\n%s", p.name, err, p.tail(2000))
}
