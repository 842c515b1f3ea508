package supervisor

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// manage is the manager goroutine of one local stage instance: it starts the
// stage's process when wanted, waits for it to end, applies the restart
// policy and sleeps out the backoff. It is started by Run (or Scale) and exits
// when the supervisor is closed or the instance is removed.
func (s *Supervisor) manage(in *instance) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		switch {
		case s.closed || in.removed:
			if in.state != StateFailed {
				s.setStateLocked(in, StateStopped)
			}
			if in.removed {
				in.logs.close()
			}
			s.mu.Unlock()
			return
		case in.failed:
			s.setStateLocked(in, StateFailed)
			s.mu.Unlock()
			<-in.wake
			continue
		case !in.wantRun:
			in.backoffUntil = time.Time{}
			s.setStateLocked(in, StateStopped)
			s.mu.Unlock()
			<-in.wake
			continue
		}
		if d := time.Until(in.backoffUntil); d > 0 {
			s.setStateLocked(in, StateBackoff)
			s.mu.Unlock()
			t := time.NewTimer(d) // a wake (stop, start, shutdown) interrupts it
			select {
			case <-t.C:
			case <-in.wake:
			}
			t.Stop()
			continue
		}
		in.backoffUntil = time.Time{}
		in.restartReq = false
		in.spawning = true
		args, env := s.commandLocked(in)
		s.mu.Unlock()
		s.runOnce(in, args, env)
	}
}

// commandLocked builds the stage's command line and environment.
func (s *Supervisor) commandLocked(in *instance) (args, env []string) {
	c := &s.cfg
	ipc := func(prefix, name string) string { return prefix + "ipc://" + filepath.Join(c.RunDir, name) }
	inj := ipc(">", "inj-"+in.name)
	args = []string{"stage", in.kind, "--status", s.statusConn, "--instance", in.name, "--delivery", c.Delivery}
	switch in.kind {
	case KindGenerator:
		args = append(args, "--pub", ipc("@", "img"), "--ack", ipc(">", "ack")+","+inj)
		if c.Delivery == DeliveryReliable {
			// Keeps the stream and its frames in flight across a restart, so
			// even a SIGKILLed generator loses nothing.
			args = append(args, "--state", filepath.Join(c.RunDir, in.name+".state"))
		}
		if c.Images != "" {
			args = append(args, "--images", c.Images)
		}
		if c.FPS > 0 {
			args = append(args, "--fps", strconv.FormatFloat(c.FPS, 'g', -1, 64))
		}
	case KindExtractor:
		n := 0
		for _, x := range s.insts {
			if x.kind == KindExtractor {
				n++
			}
		}
		args = append(args, "--sub", ipc(">", "img")+","+inj, "--pub", ipc(">", "proc"),
			"--shard", strconv.Itoa(in.index)+"/"+strconv.Itoa(max(n, 1)))
		if c.Workers > 0 {
			args = append(args, "--workers", strconv.Itoa(c.Workers))
		}
		if c.Threads > 0 {
			args = append(args, "--threads", strconv.Itoa(c.Threads))
		}
	case KindLogger:
		args = append(args, "--sub", ipc("@", "proc")+","+inj, "--ack", ipc("@", "ack"), "--db", c.DB)
		if c.RetainFrames > 0 {
			args = append(args, "--retain-frames", strconv.FormatInt(c.RetainFrames, 10))
		}
		if c.RetainBytes > 0 {
			args = append(args, "--retain-bytes", strconv.FormatInt(c.RetainBytes, 10))
		}
	}
	args = append(args, c.ExtraArgs[in.kind]...)
	env = append(os.Environ(), c.Env...)
	if (in.kind == KindExtractor || in.kind == KindLogger) && !slices.Contains(c.ExtraArgs[in.kind], "--return-memory") {
		// Set here, not by the stage re-executing itself, which would
		// lose the Pdeathsig that ties it to this process.
		env, _ = stage.WithKeptMemory(env)
	}
	if in.faults[FaultCrashLoop] {
		env = append(env, "IMAGING_TUI_FAULT_CRASH=1")
	}
	return args, env
}

// runOnce starts one process of in and stays with it until it ends: it turns
// stop and restart requests into SIGTERM (and SIGKILL after the grace period).
func (s *Supervisor) runOnce(in *instance, args, env []string) {
	p, err := startProcess(s.cfg.Exe, args, env, in.logs)
	now := time.Now()
	s.mu.Lock()
	in.spawning = false
	if err != nil {
		s.eventLocked(in, "exit", "start failed: %v", err)
		in.lastExit = "start failed"
		s.failureLocked(in, now, 0)
		s.mu.Unlock()
		return
	}
	if in.spawns > 0 {
		in.restarts++
	}
	in.spawns++
	in.pid, in.startedAt = p.pid, now
	in.stopping, in.operatorKill = false, false
	in.status, in.lastStatusAt = nil, time.Time{}
	s.spawned = append(s.spawned, p.pid)
	if len(s.spawned) > 10000 {
		s.spawned = s.spawned[len(s.spawned)-10000:]
	}
	s.setStateLocked(in, StateStarting)
	s.notifyLocked()
	if in.restarts > 0 {
		s.eventLocked(in, "start", "started pid %d (restart %d)", p.pid, in.restarts)
	} else {
		s.eventLocked(in, "start", "started pid %d", p.pid)
	}
	in.logs.mark("start pid %d: %v", p.pid, args)
	s.mu.Unlock()

	var grace <-chan time.Time
	var graceTimer *time.Timer
	defer func() {
		if graceTimer != nil {
			graceTimer.Stop()
		}
	}()
	for {
		select {
		case ex := <-p.done:
			s.exited(in, p.pid, ex)
			return
		case <-in.wake:
			s.mu.Lock()
			if (!in.wantRun || in.restartReq || in.removed || s.closed) && !in.stopping {
				in.stopping = true
				s.clearProcFaultsLocked(in, "stopping")
				signalGroup(p.pid, syscall.SIGTERM)
				signalGroup(p.pid, syscall.SIGCONT) // a stopped process acts on SIGTERM only once continued
				graceTimer = time.NewTimer(in.stopGrace)
				grace = graceTimer.C
			}
			s.mu.Unlock()
		case <-grace:
			grace = nil
			s.mu.Lock()
			s.eventLocked(in, "kill", "pid %d still running %v after SIGTERM: SIGKILL", p.pid, in.stopGrace)
			s.mu.Unlock()
			signalGroup(p.pid, syscall.SIGKILL)
		}
	}
}

// exited records the end of in's process and decides what comes next.
func (s *Supervisor) exited(in *instance, pid int, ex exitInfo) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	uptime := now.Sub(in.startedAt)
	requested := in.stopping
	in.pid, in.startedAt, in.stopping = 0, time.Time{}, false
	in.lastExit = ex.String()
	s.clearProcFaultsLocked(in, "process exited")
	for _, st := range s.streams {
		if st.PID == pid && !st.Ended {
			st.Ended = true
			st.StopOK = requested && ex.code == 0
		}
	}
	in.logs.mark("pid %d: %s after %v", pid, ex, uptime.Round(time.Millisecond))
	s.eventLocked(in, "exit", "pid %d: %s after %v", pid, ex, uptime.Round(time.Millisecond))
	s.notifyLocked()
	if requested || !in.wantRun || s.closed || in.removed {
		if in.wantRun && in.restartReq {
			s.setStateLocked(in, StateStarting) // the manager starts it again at once
		} else if !in.wantRun || s.closed || in.removed {
			s.setStateLocked(in, StateStopped)
		}
		return
	}
	s.failureLocked(in, now, uptime)
}

// failureLocked applies the restart policy after an unexpected exit: backoff
// with jitter, or failed after too many failures. An operator's kill goes
// through backoff but does not count towards giving up.
func (s *Supervisor) failureLocked(in *instance, now time.Time, uptime time.Duration) {
	c := &s.cfg
	p := c.restartPolicy(in.kind)
	if uptime >= c.ResetAfter {
		in.consecutive, in.quick, in.failTimes = 0, 0, nil
	}
	in.consecutive++
	if !in.operatorKill {
		if uptime < c.MinUptime {
			in.quick++
		} else {
			in.quick = 0
		}
		cut := now.Add(-p.Window)
		kept := in.failTimes[:0]
		for _, t := range in.failTimes {
			if t.After(cut) {
				kept = append(kept, t)
			}
		}
		in.failTimes = append(kept, now)
	}
	in.operatorKill = false
	switch {
	case in.quick >= c.QuickExits:
		in.failed = true
		s.setStateLocked(in, StateFailed)
		s.eventLocked(in, "failed", "exited within %v of start %d times in a row: giving up", c.MinUptime, in.quick)
	case len(in.failTimes) > p.MaxRestarts:
		in.failed = true
		s.setStateLocked(in, StateFailed)
		s.eventLocked(in, "failed", "%d failures within %v: giving up", len(in.failTimes), p.Window)
	default:
		d := backoff(p.Base, p.Cap, in.consecutive)
		in.backoffUntil = now.Add(d)
		s.setStateLocked(in, StateBackoff)
		s.eventLocked(in, "backoff", "restart in %v (failure %d)", d.Round(time.Millisecond), in.consecutive)
	}
	s.wakeLocked(in)
}

// backoff returns the delay before restart n (from 1): base·2^(n-1) with
// ±20 % jitter, at most maxDelay.
func backoff(base, maxDelay time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return min(d, maxDelay)
}
