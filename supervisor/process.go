package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// proc is one running child process.
type proc struct {
	pid  int           // also its process group id
	done chan exitInfo // receives once, when the child has been reaped
}

// exitInfo says how a child ended.
type exitInfo struct {
	code   int            // exit code; -1 when killed by a signal
	signal syscall.Signal // the signal, when code == -1
	err    error          // Wait's error other than a non-zero exit, if any
}

func (e exitInfo) String() string {
	switch {
	case e.code >= 0:
		return fmt.Sprintf("exit %d", e.code)
	case e.signal != 0:
		return "signal: " + e.signal.String()
	case e.err != nil:
		return "wait: " + e.err.Error()
	}
	return "exited"
}

// startProcess starts exe with args in its own process group, its stdout and
// stderr drained line by line into sink.
//
// The child gets Pdeathsig SIGKILL, so it dies when the supervisor dies, even
// by SIGKILL. Linux sends that signal when the *thread* that forked the child
// exits, so one goroutine, locked to its OS thread, starts the child and waits
// for it; the goroutine never unlocks, so its thread ends only after the child
// has been reaped (golang/go#27505). After Wait it SIGKILLs the whole group,
// ignoring ESRCH, so nothing the child forked survives either.
//
// The goroutine is owned by the returned proc: it exits after sending on done.
func startProcess(exe string, args, env []string, sink *logSink) (*proc, error) {
	p := &proc{done: make(chan exitInfo, 1)}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		r, w, err := os.Pipe()
		if err != nil {
			started <- fmt.Errorf("output pipe: %w", err)
			return
		}
		cmd := exec.Command(exe, args...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = w, w
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		err = cmd.Start()
		_ = w.Close()
		if err != nil {
			_ = r.Close()
			started <- err
			return
		}
		p.pid = cmd.Process.Pid
		readDone := make(chan struct{})
		go func() { // owned by this goroutine, which waits for it below
			defer close(readDone)
			sink.copyFrom(r)
		}()
		started <- nil

		werr := cmd.Wait()
		signalGroup(p.pid, syscall.SIGKILL)
		t := time.NewTimer(2 * time.Second)
		select {
		case <-readDone:
		case <-t.C: // someone outside the group holds the pipe: stop reading
			_ = r.Close()
			<-readDone
		}
		t.Stop()
		_ = r.Close()
		p.done <- exitFrom(cmd.ProcessState, werr)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

func exitFrom(ps *os.ProcessState, err error) exitInfo {
	if ps == nil {
		return exitInfo{code: -1, err: err}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitInfo{code: -1, signal: ws.Signal()}
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return exitInfo{code: ps.ExitCode(), err: err}
	}
	return exitInfo{code: ps.ExitCode()}
}

// signalGroup sends sig to the process group pgid; a group that is already
// gone (ESRCH) is not an error worth reporting.
func signalGroup(pgid int, sig syscall.Signal) {
	if pgid <= 0 {
		return
	}
	_ = syscall.Kill(-pgid, sig)
}

// groupAlive reports whether any process of group pgid still exists.
func groupAlive(pgid int) bool {
	if pgid <= 0 {
		return false
	}
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
