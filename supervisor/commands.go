package supervisor

import (
	"errors"
	"fmt"
	"slices"
	"syscall"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// Errors of impossible commands.
var (
	ErrAlreadyRunning = errors.New("already running")
	ErrNotAlive       = errors.New("no process running")
	ErrNotPaused      = errors.New("not paused")
	ErrAlreadyPaused  = errors.New("already paused")
	ErrEdge           = errors.New("already at that end of the start order")
	ErrScale          = errors.New("replicas out of range")
	ErrWrongKind      = errors.New("fault does not apply to this kind of stage")
	ErrUnknownFault   = errors.New("unknown fault")
)

// Start starts a stopped, failed or backing-off stage now, forgetting its
// past failures.
func (s *Supervisor) Start(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.controlLocked("start", name)
	if err != nil {
		return err
	}
	if in.pid != 0 || in.spawning {
		return &StageError{name, "start", ErrAlreadyRunning}
	}
	s.eventLocked(in, stage.EventStart, "operator start")
	s.reviveLocked(in)
	return nil
}

// Stop stops a stage: SIGTERM to its process group, SIGKILL after StopGrace.
// The restart policy leaves it stopped until Start or Restart.
func (s *Supervisor) Stop(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.controlLocked("stop", name)
	if err != nil {
		return err
	}
	if in.pid == 0 && !in.spawning && (!in.wantRun || in.failed) {
		return &StageError{name, "stop", ErrNotAlive}
	}
	s.eventLocked(in, stage.EventStop, "operator stop")
	in.wantRun, in.restartReq, in.stopGrace = false, false, s.cfg.StopGrace
	s.wakeLocked(in)
	return nil
}

// Kill sends SIGKILL to a stage's process group. It counts as a failure: the
// restart policy brings the stage back after a backoff (the demo).
func (s *Supervisor) Kill(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.controlLocked("kill", name)
	if err != nil {
		return err
	}
	return s.killLocked(in)
}

func (s *Supervisor) killLocked(in *instance) error {
	if in.pid == 0 {
		return &StageError{in.name, "kill", ErrNotAlive}
	}
	in.kills++
	in.operatorKill = !in.stopping
	s.eventLocked(in, stage.EventKill, "SIGKILL pid %d", in.pid)
	signalGroup(in.pid, syscall.SIGKILL)
	return nil
}

// Restart stops a stage (SIGTERM, then SIGKILL after StopGrace) and starts it
// again at once; a stage that is not running is simply started.
func (s *Supervisor) Restart(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.controlLocked("restart", name)
	if err != nil {
		return err
	}
	s.eventLocked(in, stage.EventRestart, "operator restart")
	if in.pid != 0 {
		in.restartReq = true
		in.stopGrace = s.cfg.StopGrace
	}
	s.reviveLocked(in)
	return nil
}

// Pause stops a stage's process group with SIGSTOP (a hung stage) until
// Resume. It is the pause fault.
func (s *Supervisor) Pause(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.controlLocked("pause", name)
	if err != nil {
		return err
	}
	if in.faults[stage.FaultPause] {
		return &StageError{name, "pause", ErrAlreadyPaused}
	}
	return s.setFaultLocked(in, stage.FaultPause, true)
}

// Resume continues a paused or slowed stage (SIGCONT), clearing the pause and
// slow faults.
func (s *Supervisor) Resume(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.controlLocked("resume", name)
	if err != nil {
		return err
	}
	if !in.faults[stage.FaultPause] && !in.faults[stage.FaultSlow] {
		return &StageError{name, "resume", ErrNotPaused}
	}
	var errs []error
	for _, f := range []stage.Fault{stage.FaultPause, stage.FaultSlow} {
		if in.faults[f] {
			errs = append(errs, s.setFaultLocked(in, f, false))
		}
	}
	return errors.Join(errs...)
}

// MoveUp moves a stage one place earlier in the start order.
func (s *Supervisor) MoveUp(name string) error { return s.move(name, -1) }

// MoveDown moves a stage one place later in the start order.
func (s *Supervisor) MoveDown(name string) error { return s.move(name, +1) }

func (s *Supervisor) move(name string, d int) error {
	op := map[int]string{-1: "move up", 1: "move down"}[d]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting {
		return &StageError{name, op, ErrClosed}
	}
	i := slices.IndexFunc(s.insts, func(in *instance) bool { return in.name == name })
	if i < 0 {
		if s.lookupLocked(name) != nil {
			return &StageError{name, op, ErrRemote}
		}
		return &StageError{name, op, ErrUnknownStage}
	}
	j := i + d
	if j < 0 || j >= len(s.insts) {
		return &StageError{name, op, ErrEdge}
	}
	s.insts[i], s.insts[j] = s.insts[j], s.insts[i]
	s.eventLocked(s.insts[j], stage.EventReorder, "start order: %s", s.orderStringLocked())
	s.notifyLocked()
	return nil
}

func (s *Supervisor) orderStringLocked() string {
	out := ""
	for i, in := range s.insts {
		if i > 0 {
			out += " → "
		}
		out += in.name
	}
	return out
}

// RestartAll stops every stage — the generators first, so they drain while
// the rest still runs, then the others in reverse start order — and starts
// them all again in the current start order. It returns at once; the work runs in the
// background.
func (s *Supervisor) RestartAll() error {
	s.mu.Lock()
	s.eventLocked(nil, stage.EventRestart, "restart all: %s", s.orderStringLocked())
	s.mu.Unlock()
	return s.bulk("restart all", func(quit <-chan struct{}) {
		s.stopAll(s.order(nil), quit)
		s.startInOrder(s.order(nil), quit)
	})
}

// Scale changes the number of replicas of each replicated kind (the
// extractor) by delta, within 1..MaxReplicas. New replicas join the start
// order after the last one of their kind. Under reliable delivery the
// replicas share the generator's work pool, so only the replicas added or
// removed start or stop; under best-effort every replica is restarted with
// the new --shard i/n.
func (s *Supervisor) Scale(delta int) error {
	s.mu.Lock()
	if !s.running || s.shutting {
		s.mu.Unlock()
		if s.shutting {
			return fmt.Errorf("scale: %w", ErrClosed)
		}
		return fmt.Errorf("scale: %w", ErrNotRunning)
	}
	n := s.replicas + delta
	if delta == 0 || n < 1 || n > MaxReplicas {
		s.mu.Unlock()
		return fmt.Errorf("scale %+d to %d replicas (want 1..%d): %w", delta, n, MaxReplicas, ErrScale)
	}
	s.replicas = n
	s.eventLocked(nil, stage.EventScale, "%s replicas → %d", replicatedNames(), n)
	s.mu.Unlock()
	return s.bulk("scale", s.rescale)
}

// replicatedNames names the replicated kinds for an event: "extractor".
func replicatedNames() string {
	out := ""
	for _, sp := range stage.Table {
		if sp.Replicated {
			if out != "" {
				out += "/"
			}
			out += string(sp.Kind)
		}
	}
	return out
}

// rescale makes the instances of each replicated kind match s.replicas.
// Replicas sharing a work pool (reliable delivery) are left running: only
// those scaled away stop (each finishes the frames in hand; the pool gives
// the rest to the others) and only the new ones start. Best-effort
// replicas each take --shard i/n of what they receive, so they all stop and
// start again with the new count.
func (s *Supervisor) rescale(quit <-chan struct{}) {
	pool := s.cfg.Delivery == stage.Reliable
	replicas := s.order(func(in *instance) bool { return replicated(in.kind) })
	s.mu.Lock()
	var stop []*instance
	before := map[*instance]bool{}
	for _, in := range replicas {
		before[in] = true
		if !pool || in.index >= s.replicas {
			in.wantRun, in.restartReq, in.stopGrace = false, false, s.cfg.StopGrace
			s.wakeLocked(in)
			stop = append(stop, in)
		}
	}
	s.mu.Unlock()
	for _, in := range stop {
		s.stopAndWait(in, s.cfg.StopGrace, quit)
	}
	select {
	case <-quit:
		return
	default:
	}
	s.mu.Lock()
	for _, sp := range stage.Table {
		if sp.Replicated {
			s.resizeLocked(sp.Kind, s.replicas)
		}
	}
	s.notifyLocked()
	s.mu.Unlock()
	s.startInOrder(s.order(func(in *instance) bool { return replicated(in.kind) && (!pool || !before[in]) }), quit)
}

// resizeLocked removes the instances of kind with index n or more and adds
// the missing ones after the last instance of kind left in the start order.
func (s *Supervisor) resizeLocked(kind stage.Kind, n int) {
	var keep []*instance
	last := -1
	for _, in := range s.insts {
		if in.kind != kind {
			keep = append(keep, in)
			continue
		}
		if in.index < n {
			keep = append(keep, in)
			last = len(keep) - 1
			continue
		}
		in.removed = true
		s.clearAllFaultsLocked(in, "scaled away")
		s.wakeLocked(in)
	}
	have := 0
	for _, in := range keep {
		if in.kind == kind {
			have++
		}
	}
	var added []*instance
	for i := have; i < n; i++ {
		added = append(added, s.newInstance(kind, s.instanceName(kind, i), i))
	}
	if last < 0 { // none of kind left in the order: put the new ones at the end
		last = len(keep) - 1
	}
	s.insts = slices.Insert(keep, last+1, added...)
	for _, in := range added {
		s.startManagerLocked(in)
	}
}
