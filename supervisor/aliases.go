// Aliases of the pure-Go types in package pipeline, which the console
// imports without pulling in cgo; the supervisor keeps its own names.

package supervisor

import "github.com/imaging-tui/imaging-tui/supervisor/pipeline"

// Types of the snapshot and the operator API, from package pipeline.
type (
	State          = pipeline.State
	Fault          = pipeline.Fault
	StageSnapshot  = pipeline.StageSnapshot
	StreamSnapshot = pipeline.StreamSnapshot
	DBStats        = pipeline.DBStats
	Event          = pipeline.Event
	Snapshot       = pipeline.Snapshot
)

// States and faults, from package pipeline.
const (
	StateStarting  = pipeline.StateStarting
	StateRunning   = pipeline.StateRunning
	StateStale     = pipeline.StateStale
	StateBackoff   = pipeline.StateBackoff
	StateStopped   = pipeline.StateStopped
	StateFailed    = pipeline.StateFailed
	StateRemote    = pipeline.StateRemote
	FaultKill      = pipeline.FaultKill
	FaultPause     = pipeline.FaultPause
	FaultCrashLoop = pipeline.FaultCrashLoop
	FaultCorrupt   = pipeline.FaultCorrupt
	FaultTruncate  = pipeline.FaultTruncate
	FaultSlow      = pipeline.FaultSlow
	FaultDBFull    = pipeline.FaultDBFull
	FaultSilent    = pipeline.FaultSilent
)

// AllFaults is pipeline.AllFaults.
var AllFaults = pipeline.AllFaults
