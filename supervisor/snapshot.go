package supervisor

import (
	"slices"
	"strconv"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// State is what the supervisor knows of one stage instance.
type State string

// Stage states, as shown by the console and --no-tui.
const (
	StateStarting State = "starting" // spawned, no status received yet
	StateRunning  State = "running"  // alive and reporting
	StateStale    State = "stale"    // alive but silent on the status channel
	StateBackoff  State = "backoff"  // exited; waiting to be restarted
	StateStopped  State = "stopped"  // not running, by the operator's choice or at the end
	StateFailed   State = "failed"   // exited too often; no more restarts
	StateRemote   State = "remote"   // reporting from elsewhere; observed, not controlled
)

// StageSnapshot is one stage instance at one moment.
type StageSnapshot struct {
	Name         string // instance name, e.g. "extractor-1"; unique
	Kind         stage.Kind
	State        State
	PID          int
	StartedAt    time.Time // zero when not running
	Restarts     int       // Crashes + OperatorRestarts
	LastExit     string    // e.g. "exit 1", "signal: killed"; "" before the first exit
	BackoffUntil time.Time
	Faults       []stage.Fault // faults active on this stage
	Paused       bool          // SIGSTOPped (pause or slow fault); shows stale once silent
	Status       *wire.Status  // last status received; nil before the first
	FPSHistory   []float64     // one sample a second, oldest first, at most 60
	Kills        int           // SIGKILLs by the operator (Kill or the kill fault)
	TotalDropped uint64        // Status.Dropped summed over every process of this instance
	Shard        string        // a best-effort replica: "i/n" (--shard); "" for other kinds and for reliable replicas, which share a work pool
	Host         string        // the host it runs on: its status's, else this host's for a local stage

	// Crashes are the restarts after the process exited on its own (or
	// by a fault); OperatorRestarts those after the operator stopped,
	// restarted or killed it.
	Crashes, OperatorRestarts int
	// FramesIn, FramesOut and Errors are summed over every process of
	// this instance (each process's own are in Runs and Status).
	FramesIn, FramesOut, Errors uint64
	// FPS is the rate now: the status's while the stage reports and moves
	// frames, 0 when it is paused, silent, stalled or gone.
	FPS float64
	// StalledSince is when the stage stopped moving frames (paused,
	// silent, or no frame out for a few seconds); zero while it moves them.
	StalledSince time.Time
	States       []StateChange // state history, oldest first, bounded
	Runs         []ProcessRun  // its processes, oldest first, bounded; the last may still run
	Args         []string      // the current (or last) process's command line, without the executable
	LogPath      string        // its log file; "" for a remote stage
	LastError    string        // the last error it reported, kept after it is gone from its status
	LastErrorAt  time.Time     // when it was first reported
	CPUPercent   float64       // CPU use of its process over the last second or so (100 = one core)
	RSS          int64         // resident memory of its process, bytes
}

// StreamSnapshot is one generator stream (one generator process), as learnt
// from the generator's statuses.
type StreamSnapshot struct {
	StreamID uint64
	Instance string // the generator instance that published it
	PID      int
	LastSeq  uint64 // highest sequence number reported published
	Unacked  int    // frames unacknowledged (queue_depth) in its last status
	Ended    bool   // its generator process has exited
	StopOK   bool   // ... with exit 0 after a stop request
	Clean    bool   // StopOK and its last status had no frame unacknowledged: it drained its window
}

// DBStats are the database's row counts and sizes, read by the supervisor.
type DBStats struct {
	Images      int64
	Keypoints   int64
	Descriptors int64
	FileBytes   int64
	FreeBytes   int64
	Err         string // why the counts could not be read, if so
}

// Event is one entry of the event log.
type Event struct {
	Seq   uint64 // 1, 2, 3, ... in the order events happened
	At    time.Time
	Stage string // "" for pipeline-wide events
	Kind  stage.EventKind
	Text  string
}

// Snapshot is the whole pipeline at one moment. It is a copy: the caller owns it.
type Snapshot struct {
	At           time.Time
	Stages       []StageSnapshot // in start order
	DB           DBStats
	Events       []Event // newest last, bounded
	Delivery     stage.Delivery
	StatusErrors uint64           // status messages that were not valid JSON
	Streams      []StreamSnapshot // generator streams seen, oldest first
	Replicas     int              // replicas wanted of each replicated kind
	RunDir       string           // ipc:// endpoints and logs/NAME.log
	Kinds        []KindTotals     // per kind over the run, in stage.Table order
}

// Snapshot returns a deep copy of the pipeline's state: local stages in
// start order, then remote ones.
func (s *Supervisor) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{
		At:           time.Now(),
		DB:           s.dbStats,
		Events:       slices.Clone(s.events),
		Delivery:     s.cfg.Delivery,
		StatusErrors: s.statusErrs,
		Replicas:     s.replicas,
		RunDir:       s.cfg.RunDir,
	}
	for _, in := range s.insts {
		in.sampleProcLocked(snap.At)
		st := in.snapshotLocked()
		in.fillHistoryLocked(&st, s.cfg.RunDir, snap.At)
		if replicated(in.kind) && s.cfg.Delivery != stage.Reliable {
			st.Shard = strconv.Itoa(in.index) + "/" + strconv.Itoa(s.countLocked(in.kind))
		}
		snap.Stages = append(snap.Stages, st)
	}
	for _, in := range s.remotes {
		st := in.snapshotLocked()
		in.fillHistoryLocked(&st, s.cfg.RunDir, snap.At)
		snap.Stages = append(snap.Stages, st)
	}
	snap.Kinds = s.kindTotalsLocked(snap.Stages)
	for _, id := range s.streamOrder {
		ss := *s.streams[id]
		ss.Clean = ss.StopOK && ss.Unacked == 0
		snap.Streams = append(snap.Streams, ss)
	}
	return snap
}

func (in *instance) snapshotLocked() StageSnapshot {
	st := StageSnapshot{
		Name:         in.name,
		Kind:         in.kind,
		State:        in.state,
		PID:          in.pid,
		StartedAt:    in.startedAt,
		Restarts:     in.restarts,
		LastExit:     in.lastExit,
		BackoffUntil: in.backoffUntil,
		Paused:       in.paused,
		FPSHistory:   slices.Clone(in.fps),
		Kills:        in.kills,
		TotalDropped: in.dropBase + in.dropLast,
	}
	if in.state != StateBackoff {
		st.BackoffUntil = time.Time{}
	}
	for _, f := range stage.AllFaults {
		if in.faults[f] {
			st.Faults = append(st.Faults, f)
		}
	}
	if in.status != nil {
		c := *in.status
		if c.Latency != nil {
			l := *c.Latency
			c.Latency = &l
		}
		if c.DB != nil {
			d := *c.DB
			c.DB = &d
		}
		st.Status = &c
	}
	st.Host = hostOf(in)
	return st
}

// Logs returns the last n captured output lines of stage name (all kept
// lines when n <= 0), oldest first, or nil for an unknown or remote stage.
func (s *Supervisor) Logs(name string, n int) []string {
	s.mu.Lock()
	in := s.lookupLocked(name)
	s.mu.Unlock()
	if in == nil || in.logs == nil {
		return nil
	}
	return in.logs.tail(n)
}
