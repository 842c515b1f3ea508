package supervisor

import (
	"path/filepath"
	"slices"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// History bounds.
const (
	maxStateChanges = 40
	maxExits        = 20
	// stallAfter is how long a running stage may go without a frame out
	// before it counts as stalled (its rate is then 0, not the last one).
	stallAfter = 3 * time.Second
	// cpuEvery is the shortest interval CPU use is measured over.
	cpuEvery = time.Second
)

// StateChange is one entry of a stage's state history.
type StateChange struct {
	At    time.Time
	State State
}

// Restart causes.
const (
	CauseCrash    = "crash"    // the process exited on its own (or by a fault): the policy restarted it
	CauseOperator = "operator" // the operator stopped, restarted or killed it
)

// ProcessRun is one process of a stage instance, ended or still running.
type ProcessRun struct {
	PID       int
	Started   time.Time
	Ended     time.Time // zero while it runs
	Exit      string    // "exit 1", "signal: killed"; "" while it runs
	Cause     string    // why it ended: CauseCrash or CauseOperator; "" while it runs, at shutdown or scaled away
	In, Out   uint64    // frames in and out, from its last status
	Errors    uint64
	Args      []string // its command line, without the executable
	LastError string
}

// history is what the supervisor remembers of one instance beyond its
// current process: the console's detail view and the run's totals. Guarded
// by Supervisor.mu.
type history struct {
	states     []StateChange
	runs       []ProcessRun // newest last, bounded
	crashes    int          // restarts after the process exited on its own
	opRestarts int          // restarts the operator asked for
	crashNext  bool         // the next start is the restart policy's, after a crash

	inBase, outBase, errBase uint64 // frames of its ended processes

	lastOut   uint64    // FramesOut of the last status
	lastOutAt time.Time // when FramesOut last grew (or the process started)
	pausedAt  time.Time // when pause or slow began

	errText string    // the last error a status carried
	errAt   time.Time // when it first carried it

	cpuAt  time.Time
	cpuPID int
	cpu    time.Duration
	cpuPct float64
	rss    int64
}

// recordState notes a state change (from setStateLocked).
func (h *history) recordState(st State, now time.Time) {
	if len(h.states) >= maxStateChanges {
		h.states = slices.Delete(h.states, 0, 1)
	}
	h.states = append(h.states, StateChange{At: now, State: st})
}

// started notes a new process and counts its restart, if it is one, by
// cause.
func (h *history) started(pid int, args []string, restart bool, now time.Time) {
	if restart {
		if h.crashNext {
			h.crashes++
		} else {
			h.opRestarts++
		}
	}
	h.crashNext = false
	if len(h.runs) >= maxExits {
		h.runs = slices.Delete(h.runs, 0, 1)
	}
	h.runs = append(h.runs, ProcessRun{PID: pid, Started: now, Args: slices.Clone(args)})
	h.lastOut, h.lastOutAt = 0, now
	h.pausedAt = time.Time{}
}

// ended notes the end of process pid and why (CauseCrash, CauseOperator,
// or "" at shutdown); last is its last status (nil if none came).
func (h *history) ended(pid int, exit, cause string, last *wire.Status, now time.Time) {
	h.crashNext = cause == CauseCrash
	var r *ProcessRun
	if n := len(h.runs); n > 0 && h.runs[n-1].PID == pid {
		r = &h.runs[n-1]
	} else {
		h.runs = append(h.runs, ProcessRun{PID: pid})
		r = &h.runs[len(h.runs)-1]
	}
	r.Ended, r.Exit, r.Cause = now, exit, cause
	if last != nil && last.PID == pid {
		r.In, r.Out, r.Errors, r.LastError = last.FramesIn, last.FramesOut, last.Errors, last.LastError
		h.inBase += last.FramesIn
		h.outBase += last.FramesOut
		h.errBase += last.Errors
	}
	h.pausedAt = time.Time{}
}

// observe takes in one status of the current process.
func (h *history) observe(st *wire.Status, now time.Time) {
	if st.FramesOut != h.lastOut {
		h.lastOut, h.lastOutAt = st.FramesOut, now
	}
	if st.LastError != "" && st.LastError != h.errText {
		h.errText, h.errAt = st.LastError, now
	}
}

// observeStatusLocked files what the history keeps of a status (from
// handleStatus, for the current process).
func (in *instance) observeStatusLocked(st *wire.Status, now time.Time) {
	in.hist.observe(st, now)
}

// sampleProcLocked measures the CPU use and memory of in's process, at
// most once every cpuEvery.
func (in *instance) sampleProcLocked(now time.Time) {
	h := &in.hist
	if in.pid == 0 || in.remote {
		h.cpuPct, h.rss, h.cpuPID = 0, 0, 0
		return
	}
	if h.cpuPID == in.pid && now.Sub(h.cpuAt) < cpuEvery {
		return
	}
	p, err := ReadProcStat(in.pid)
	if err != nil {
		return
	}
	if h.cpuPID == in.pid && !h.cpuAt.IsZero() {
		h.cpuPct = 100 * (p.CPU() - h.cpu).Seconds() / now.Sub(h.cpuAt).Seconds()
	} else {
		h.cpuPct = 0
	}
	h.cpuPID, h.cpuAt, h.cpu, h.rss = in.pid, now, p.CPU(), p.RSS
}

// fillHistoryLocked adds the history's figures to a stage's snapshot.
func (in *instance) fillHistoryLocked(st *StageSnapshot, runDir string, now time.Time) {
	h := &in.hist
	st.Crashes, st.OperatorRestarts = h.crashes, h.opRestarts
	st.States = slices.Clone(h.states)
	st.Runs = slices.Clone(h.runs)
	st.FramesIn, st.FramesOut, st.Errors = h.inBase, h.outBase, h.errBase
	if s := in.status; s != nil && s.PID == in.pid && in.pid != 0 || in.remote && s != nil {
		st.FramesIn += s.FramesIn
		st.FramesOut += s.FramesOut
		st.Errors += s.Errors
	}
	if !in.remote {
		st.LogPath = filepath.Join(runDir, "logs", in.name+".log")
	}
	if n := len(h.runs); n > 0 {
		st.Args = h.runs[n-1].Args
	}
	st.LastError, st.LastErrorAt = h.errText, h.errAt
	st.CPUPercent, st.RSS = h.cpuPct, h.rss
	st.StalledSince = in.stalledSinceLocked(now)
	if st.Status != nil && current(st) && st.StalledSince.IsZero() {
		st.FPS = st.Status.FPS
	}
}

// current reports whether st's status describes the stage now.
func current(st *StageSnapshot) bool {
	return (st.State == StateRunning || st.State == StateRemote) && !st.Paused
}

// stalledSinceLocked is when in stopped moving frames, or zero while it
// moves them (or has no process): paused, silent, or no frame out for
// stallAfter.
func (in *instance) stalledSinceLocked(now time.Time) time.Time {
	h := &in.hist
	switch {
	case in.pid == 0 && !in.remote:
		return time.Time{}
	case in.paused && !in.faults[stage.FaultSlow]:
		return h.pausedAt
	case in.state == StateStale:
		return in.lastStatusAt
	case in.status != nil && !h.lastOutAt.IsZero() && now.Sub(h.lastOutAt) >= stallAfter:
		return h.lastOutAt
	}
	return time.Time{}
}

// KindTotals are one kind's figures over the whole run: every process of
// every instance, including instances scaled away.
type KindTotals struct {
	Kind             stage.Kind
	Instances        int // local instances now
	FramesIn         uint64
	FramesOut        uint64
	Errors           uint64
	Crashes          int
	OperatorRestarts int
}

// totals is what scaled-away instances did, by kind, and the last figures
// of the instances seen, to bank them once they are gone.
type totals struct {
	last map[string]KindTotals
	gone map[stage.Kind]KindTotals
}

// kindTotalsLocked sums snap's local stages by kind, adding what instances
// no longer there did.
func (s *Supervisor) kindTotalsLocked(stages []StageSnapshot) []KindTotals {
	t := &s.totals
	if t.last == nil {
		t.last, t.gone = map[string]KindTotals{}, map[stage.Kind]KindTotals{}
	}
	now := map[string]bool{}
	byKind := map[stage.Kind]*KindTotals{}
	var out []KindTotals
	for _, sp := range stage.Table {
		g := t.gone[sp.Kind]
		g.Kind, g.Instances = sp.Kind, 0
		out = append(out, g)
	}
	for i := range out {
		byKind[out[i].Kind] = &out[i]
	}
	for _, st := range stages {
		k := byKind[st.Kind]
		if st.State == StateRemote || k == nil {
			continue
		}
		now[st.Name] = true
		one := KindTotals{Kind: st.Kind, FramesIn: st.FramesIn, FramesOut: st.FramesOut, Errors: st.Errors,
			Crashes: st.Crashes, OperatorRestarts: st.OperatorRestarts}
		t.last[st.Name] = one
		k.Instances++
		k.add(one)
	}
	for name, one := range t.last {
		if !now[name] {
			g := t.gone[one.Kind]
			g.add(one)
			t.gone[one.Kind] = g
			delete(t.last, name)
			if k := byKind[one.Kind]; k != nil {
				k.add(one)
			}
		}
	}
	return out
}

func (k *KindTotals) add(o KindTotals) {
	k.FramesIn += o.FramesIn
	k.FramesOut += o.FramesOut
	k.Errors += o.Errors
	k.Crashes += o.Crashes
	k.OperatorRestarts += o.OperatorRestarts
}
