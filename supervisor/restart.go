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

// commandLocked builds the stage's command line and environment from its
// Spec: an endpoint flag for each of its ports (ipc:// in the run folder,
// bound or connected as stage.SupervisedBind says), the inject endpoint
// added to its input (the work pool only under reliable delivery), --shard
// for a replicated kind under best-effort, then the options only
// its kind has (kindArgs) and the operator's --KIND-args.
func (s *Supervisor) commandLocked(in *instance) (args, env []string) {
	c := &s.cfg
	sp, _ := stage.Lookup(in.kind)
	args = []string{"stage", string(in.kind), "--" + stage.StatusPort.Flag, s.statusEndpoints(),
		"--instance", in.name, "--delivery", string(c.Delivery),
		"--log-format", "json"} // the console and the bench read the logs as JSON, whatever a stage defaults to
	input, _ := sp.Input()
	for _, p := range sp.Ports {
		if p.ReliableOnly && c.Delivery != stage.Reliable {
			continue
		}
		ep := s.portEndpoints(in.kind, p)
		if p.Flag == input.Flag {
			ep += "," + stage.Connect(s.injectAddr(in.name))
		}
		args = append(args, "--"+p.Flag, ep)
	}
	if sp.Replicated && c.Delivery != stage.Reliable {
		// Reliable replicas share the work pool; best-effort ones each
		// receive every frame and keep their share.
		args = append(args, "--shard", strconv.Itoa(in.index)+"/"+strconv.Itoa(max(s.countLocked(in.kind), 1)))
	}
	args = append(args, s.kindArgs(in)...)
	args = append(args, c.ExtraArgs[in.kind]...)
	env = append(os.Environ(), c.Env...)
	if sp.KeepsMemory && !slices.Contains(c.ExtraArgs[in.kind], "--return-memory") {
		// Set here, not by the stage re-executing itself, which would
		// lose the Pdeathsig that ties it to this process.
		env, _ = stage.WithKeptMemory(env)
	}
	if in.faults[stage.FaultCrashLoop] {
		env = append(env, stage.CrashFaultEnv+"=1")
	}
	return args, env
}

// kindArgs are the options that only one kind of stage has: what to read
// and how fast (generator), how many threads (extractor), where to store
// and how much to keep (logger).
func (s *Supervisor) kindArgs(in *instance) []string {
	c := &s.cfg
	var args []string
	switch in.kind {
	case stage.Generator:
		if c.Delivery == stage.Reliable {
			// Keeps the stream and its frames in flight across a restart, so
			// even a SIGKILLed generator loses nothing; next to the database,
			// across runs too (streamstate.go).
			args = append(args, "--state", s.statePath(in.name))
		}
		if c.Images != "" {
			args = append(args, "--images", c.Images)
		}
		if c.FPS > 0 {
			args = append(args, "--fps", strconv.FormatFloat(c.FPS, 'g', -1, 64))
		}
	case stage.Extractor:
		if c.Workers > 0 {
			args = append(args, "--workers", strconv.Itoa(c.Workers))
		}
		if c.Threads > 0 {
			args = append(args, "--threads", strconv.Itoa(c.Threads))
		}
	case stage.Logger:
		args = append(args, "--db", c.DB)
		if c.RetainFrames > 0 {
			args = append(args, "--retain-frames", strconv.FormatInt(c.RetainFrames, 10))
		}
		if c.RetainBytes > 0 {
			args = append(args, "--retain-bytes", strconv.FormatInt(c.RetainBytes, 10))
		}
	}
	return args
}

// countLocked returns the number of local instances of kind.
func (s *Supervisor) countLocked(kind stage.Kind) int {
	n := 0
	for _, x := range s.insts {
		if x.kind == kind {
			n++
		}
	}
	return n
}

// ipcAddr is the ipc:// address of name in the run folder dir.
func ipcAddr(dir, name string) string { return "ipc://" + filepath.Join(dir, name) }

// linkFile is the name of the endpoint in the run folder that stage kind
// binder binds on link l: "images.generator.sock" (the suffix keeps it clear
// of other files there, such as an images folder).
func linkFile(l stage.Link, binder stage.Kind) string {
	return string(l) + "." + string(binder) + ".sock"
}

// statusFile is the status channel's endpoint in the run folder, unless
// Config.StatusBind names another.
const statusFile = "status.sock"

// injectAddr is the address where the supervisor publishes the messages it
// injects into instance name's input.
func (s *Supervisor) injectAddr(name string) string { return ipcAddr(s.cfg.RunDir, "inj-"+name) }

// longestEndpointName is the longest file name an ipc:// endpoint in the
// run folder may have: a link's, or an inject endpoint's of the last
// replica there may be.
func longestEndpointName() string {
	longest := statusFile
	for _, sp := range stage.Table {
		name := "inj-" + string(sp.Kind)
		if sp.Replicated {
			name = "inj-" + replicaName(sp.Kind, MaxReplicas-1)
		}
		for _, p := range sp.Ports {
			if f := linkFile(p.Link, sp.Kind); len(f) > len(longest) {
				longest = f
			}
		}
		if len(name) > len(longest) {
			longest = name
		}
	}
	return longest
}

// runOnce starts one process of in and stays with it until it ends: it turns
// stop and restart requests into SIGTERM (and SIGKILL after the grace period).
func (s *Supervisor) runOnce(in *instance, args, env []string) {
	p, err := startProcess(s.cfg.Exe, args, env, in.logs)
	now := time.Now()
	s.mu.Lock()
	in.spawning = false
	if err != nil {
		s.eventLocked(in, stage.EventExit, "start failed: %v", err)
		in.lastExit = "start failed"
		s.failureLocked(in, now, 0)
		s.mu.Unlock()
		return
	}
	if in.spawns > 0 {
		in.restarts++
	}
	in.hist.started(p.pid, args, in.spawns > 0, now)
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
		s.eventLocked(in, stage.EventStart, "started pid %d (restart %d)", p.pid, in.restarts)
	} else {
		s.eventLocked(in, stage.EventStart, "started pid %d", p.pid)
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
			s.eventLocked(in, stage.EventKill, "pid %d still running %v after SIGTERM: SIGKILL", p.pid, in.stopGrace)
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
	cause := CauseOperator // stopped, restarted or killed on the operator's command
	switch {
	case s.closed || in.removed:
		cause = "" // shutdown or scaled away: not restarted
	case !requested && in.wantRun && !in.operatorKill:
		cause = CauseCrash
	}
	in.hist.ended(pid, in.lastExit, cause, in.status, now)
	s.clearProcFaultsLocked(in, "process exited")
	for _, st := range s.streams {
		if st.PID == pid && !st.Ended {
			st.Ended = true
			st.StopOK = requested && ex.code == 0
		}
	}
	in.logs.mark("pid %d: %s after %v", pid, ex, uptime.Round(time.Millisecond))
	s.eventLocked(in, stage.EventExit, "pid %d: %s after %v", pid, ex, uptime.Round(time.Millisecond))
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
		in.hist.crashNext = false // only the operator starts it again
		s.setStateLocked(in, StateFailed)
		s.eventLocked(in, stage.EventFailed, "exited within %v of start %d times in a row: giving up", c.MinUptime, in.quick)
	case len(in.failTimes) > p.MaxRestarts:
		in.failed = true
		in.hist.crashNext = false
		s.setStateLocked(in, StateFailed)
		s.eventLocked(in, stage.EventFailed, "%d failures within %v: giving up", len(in.failTimes), p.Window)
	default:
		d := backoff(p.Base, p.Cap, in.consecutive)
		in.backoffUntil = now.Add(d)
		s.setStateLocked(in, StateBackoff)
		s.eventLocked(in, stage.EventBackoff, "restart in %v (failure %d)", d.Round(time.Millisecond), in.consecutive)
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
