package pipeline

import (
	"time"

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

// Fault is a reversible fault the operator can inject.
type Fault string

// Faults. Each is toggled: injecting an active fault again clears it.
const (
	FaultKill      Fault = "kill"      // SIGKILL the stage (one-shot; the restart policy reacts)
	FaultPause     Fault = "pause"     // SIGSTOP until cleared
	FaultCrashLoop Fault = "crashloop" // every start exits at once until cleared
	FaultCorrupt   Fault = "corrupt"   // random bytes injected into the stage's input
	FaultTruncate  Fault = "truncate"  // truncated copies of real messages injected into its input
	FaultSlow      Fault = "slow"      // the stage runs a fraction of the time (SIGSTOP/SIGCONT duty cycle)
	FaultDBFull    Fault = "dbfull"    // the logger's database cannot grow (max_page_count)
	FaultSilent    Fault = "silent"    // the stage stops sending status
)

// AllFaults lists every fault in menu order.
var AllFaults = []Fault{FaultKill, FaultPause, FaultCrashLoop, FaultCorrupt, FaultTruncate, FaultSlow, FaultDBFull, FaultSilent}

// StageSnapshot is one stage instance at one moment.
type StageSnapshot struct {
	Name         string // instance name, e.g. "extractor-1"; unique
	Kind         string // generator, extractor or logger
	State        State
	PID          int
	StartedAt    time.Time // zero when not running
	Restarts     int
	LastExit     string // e.g. "exit 1", "signal: killed"; "" before the first exit
	BackoffUntil time.Time
	Faults       []Fault      // faults active on this stage
	Paused       bool         // SIGSTOPped (pause or slow fault); shows stale once silent
	Status       *wire.Status // last status received; nil before the first
	FPSHistory   []float64    // one sample a second, oldest first, at most 60
	Kills        int          // SIGKILLs by the operator (Kill or the kill fault)
	TotalDropped uint64       // Status.Dropped summed over every process of this instance
	Shard        string       // extractor: "i/n"; "" for other kinds
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
	Kind  string // start, exit, kill, restart, fault, invariant, ...
	Text  string
}

// Snapshot is the whole pipeline at one moment. It is a copy: the caller owns it.
type Snapshot struct {
	At           time.Time
	Stages       []StageSnapshot // in start order
	DB           DBStats
	Events       []Event // newest last, bounded
	Delivery     string
	StatusErrors uint64           // status messages that were not valid JSON
	Streams      []StreamSnapshot // generator streams seen, oldest first
	Replicas     int              // extractor replicas wanted
	RunDir       string           // ipc:// endpoints and logs/NAME.log
}
