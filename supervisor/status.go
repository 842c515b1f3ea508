package supervisor

import (
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// statusLoop is the only reader of the status channel: it decodes each
// message as a wire.Status and files it under its instance. It exits when
// quit closes, after draining what is already queued; Run closes the
// channel after.
func (s *Supervisor) statusLoop(quit <-chan struct{}) {
	draining := false
	for {
		if !draining {
			select {
			case <-quit:
				draining = true
			default:
			}
		}
		timeout := 200 * time.Millisecond
		if draining {
			timeout = 50 * time.Millisecond
		}
		msg, err := s.cfg.Transport.RecvStatus(timeout)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			if draining {
				return
			}
			continue
		case err != nil:
			if draining {
				return
			}
			s.log.Warn("status channel receive", "err", err)
			time.Sleep(50 * time.Millisecond) // not a test: avoid spinning on a broken socket
			continue
		}
		s.handleStatus(msg, time.Now())
	}
}

// handleStatus files one status message.
func (s *Supervisor) handleStatus(msg []byte, now time.Time) {
	var st wire.Status
	err := json.Unmarshal(msg, &st)
	if err == nil && st.Instance == "" {
		err = errors.New("no instance name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.statusErrs++
		if now.Sub(s.lastErrEvent) >= statusErrEvery {
			s.lastErrEvent = now
			s.eventLocked(nil, stage.EventStatusError, "invalid status message (%d so far): %v", s.statusErrs, err)
		}
		return
	}
	in := s.lookupLocked(st.Instance)
	if in == nil {
		if s.shutting {
			return
		}
		in = &instance{name: st.Instance, kind: stage.Kind(st.Stage), remote: true, state: StateRemote, faults: map[stage.Fault]bool{}}
		s.remotes = append(s.remotes, in)
		s.eventLocked(in, stage.EventRemote, "remote %s reporting (pid %d on %q)", st.Stage, st.PID, st.Host)
		s.notifyLocked()
	}
	if stage.Kind(st.Stage) == stage.Generator && st.StreamID != 0 {
		// Before the pid check: a generator's last status may arrive after
		// its exit has been processed.
		ss := s.streams[st.StreamID]
		if ss == nil {
			ss = &StreamSnapshot{StreamID: st.StreamID, Instance: st.Instance, PID: st.PID}
			s.streams[st.StreamID] = ss
			s.streamOrder = append(s.streamOrder, st.StreamID)
		}
		if ss.PID != st.PID && !in.remote && st.PID == in.pid {
			// A restarted generator resumed its stream (--state).
			ss.PID, ss.Ended, ss.StopOK = st.PID, false, false
		}
		if ss.PID == st.PID {
			ss.LastSeq = max(ss.LastSeq, st.LastSeq)
			ss.Unacked = st.QueueDepth
		}
	}
	if !in.remote && (in.pid == 0 || st.PID != in.pid) {
		return // from a process that is gone, or not ours
	}
	// A process's dropped count starts again at 0, so carry the old one
	// over — except the logger's, which is the gaps in the database,
	// counted again from the database when it starts.
	if st.PID != in.dropPID && in.kind != stage.Logger {
		in.dropBase += in.dropLast
		in.dropPID, in.dropLast = st.PID, 0
	}
	if in.kind == stage.Logger {
		in.dropPID = st.PID
	}
	in.dropLast = st.Dropped
	in.observeStatusLocked(&st, now)
	s.reportedStateLocked(in, &st)
	in.status = &st
	in.lastStatusAt = now
	if !in.remote && (in.state == StateStarting || in.state == StateStale) {
		if in.state == StateStale {
			s.eventLocked(in, stage.EventRunning, "reporting again")
		}
		s.setStateLocked(in, StateRunning)
	}
}

// monitorLoop marks silent stages stale, samples fps once a second and
// forgets remote stages that went quiet. It exits when quit closes.
func (s *Supervisor) monitorLoop(quit <-chan struct{}) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastSample := time.Now()
	for {
		select {
		case <-quit:
			return
		case now := <-tick.C:
			s.mu.Lock()
			s.checkStaleLocked(now)
			if now.Sub(lastSample) >= time.Second {
				lastSample = now
				s.sampleFPSLocked(now)
			}
			s.mu.Unlock()
		}
	}
}

func (s *Supervisor) checkStaleLocked(now time.Time) {
	for _, in := range s.insts {
		if in.pid == 0 || in.stopping || (in.state != StateRunning && in.state != StateStarting) {
			continue
		}
		switch {
		case in.lastStatusAt.IsZero() && now.Sub(in.startedAt) > s.cfg.StartWait:
			s.setStateLocked(in, StateStale)
			s.eventLocked(in, stage.EventStale, "no status %v after start", s.cfg.StartWait)
		case !in.lastStatusAt.IsZero() && now.Sub(in.lastStatusAt) > s.cfg.StaleAfter:
			s.setStateLocked(in, StateStale)
			why := ""
			if in.paused { // expected: a stopped process cannot report
				why = " (paused: stopped with SIGSTOP until resumed)"
			}
			s.eventLocked(in, stage.EventStale, "no status for %v%s", now.Sub(in.lastStatusAt).Round(100*time.Millisecond), why)
		}
	}
	kept := s.remotes[:0]
	for _, in := range s.remotes {
		if now.Sub(in.lastStatusAt) > remoteForget {
			s.eventLocked(in, stage.EventRemote, "remote stage silent for %v: forgotten", remoteForget)
			s.notifyLocked()
			continue
		}
		kept = append(kept, in)
	}
	s.remotes = kept
}

func (s *Supervisor) sampleFPSLocked(now time.Time) {
	sample := func(in *instance) {
		v := 0.0
		fresh := in.status != nil && now.Sub(in.lastStatusAt) <= 2*s.cfg.StaleAfter
		if fresh && (in.remote || in.state == StateRunning) {
			v = in.status.FPS
		}
		if len(in.fps) >= fpsHistory {
			copy(in.fps, in.fps[1:])
			in.fps = in.fps[:fpsHistory-1]
		}
		in.fps = append(in.fps, v)
	}
	for _, in := range s.insts {
		sample(in)
	}
	for _, in := range s.remotes {
		sample(in)
	}
}

// reportedStateLocked logs an event when in reports itself blocked, with
// why (a logger on a full disk), and when it runs again: the status line
// shows it only while it lasts.
func (s *Supervisor) reportedStateLocked(in *instance, st *wire.Status) {
	was := in.status != nil && in.status.State == wire.StateBlocked
	switch {
	case st.State == wire.StateBlocked && !was:
		s.eventLocked(in, stage.EventBlocked, "%s", st.StateReason)
	case was && st.State == wire.StateRunning:
		s.eventLocked(in, stage.EventBlocked, "running again")
	}
}
