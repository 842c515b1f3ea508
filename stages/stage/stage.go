package stage

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrUsage marks a command-line mistake whose message has been printed.
var ErrUsage = errors.New("usage error")

// Delivery is how frames travel between the stages of one pipeline.
type Delivery string

// Delivery modes.
const (
	// Reliable: the logger acknowledges stored frames, the generator resends
	// the others and never runs ahead of its window. Nothing is lost.
	Reliable Delivery = "reliable"
	// BestEffort: the seed's PUB/SUB behaviour; newest frames win, losses
	// are counted, nothing blocks.
	BestEffort Delivery = "best-effort"
)

// Deliveries lists the delivery modes, the default first.
var Deliveries = []Delivery{Reliable, BestEffort}

// ParseDelivery reads a delivery mode; "" is the default, Reliable.
func ParseDelivery(s string) (Delivery, error) {
	switch d := Delivery(s); d {
	case "":
		return Reliable, nil
	case Reliable, BestEffort:
		return d, nil
	}
	return "", fmt.Errorf("unknown delivery %q (want %s or %s)", s, Reliable, BestEffort)
}

// Set implements flag.Value.
func (d *Delivery) Set(s string) error {
	v, err := ParseDelivery(s)
	if err == nil {
		*d = v
	}
	return err
}

func (d Delivery) String() string { return string(d) }

// The control signals a running stage acts on, besides SIGINT and SIGTERM
// (stop cleanly: finish or drain what is in hand). Each toggles a fault: the
// first delivery turns it on, the next off.
const (
	// SignalSilent stops, or resumes, the stage's status reports.
	SignalSilent = syscall.SIGUSR1
	// SignalDBFull makes the logger's database refuse to grow, or grow again.
	SignalDBFull = syscall.SIGUSR2
)

// CrashFaultEnv, set to "1" in a stage's environment, makes it exit at once
// with ExitCrash: the crash-loop fault.
const CrashFaultEnv = "IMAGING_TUI_FAULT_CRASH"

// ExitCrash is the exit code of a stage started under the crash-loop fault.
const ExitCrash = 3

// Fault is a fault the operator can inject into a stage. Each is toggled:
// injecting an active fault again clears it.
type Fault string

// Faults, in menu order (AllFaults).
const (
	FaultKill      Fault = "kill"      // SIGKILL the stage (one-shot; the restart policy reacts)
	FaultPause     Fault = "pause"     // SIGSTOP until cleared
	FaultCrashLoop Fault = "crashloop" // every start exits at once (CrashFaultEnv) until cleared
	FaultCorrupt   Fault = "corrupt"   // random bytes injected into the stage's input
	FaultTruncate  Fault = "truncate"  // truncated copies of real messages injected into its input
	FaultSlow      Fault = "slow"      // the stage runs a fraction of the time (SIGSTOP/SIGCONT duty cycle)
	FaultDBFull    Fault = "dbfull"    // the logger's database cannot grow (SignalDBFull)
	FaultSilent    Fault = "silent"    // the stage stops sending status (SignalSilent)
)

// AllFaults lists every fault in menu order.
var AllFaults = []Fault{FaultKill, FaultPause, FaultCrashLoop, FaultCorrupt, FaultTruncate, FaultSlow, FaultDBFull, FaultSilent}

// commonFaults apply to a stage of any kind.
var commonFaults = []Fault{FaultKill, FaultPause, FaultCrashLoop, FaultCorrupt, FaultTruncate, FaultSlow, FaultSilent}

// EventKind classifies an entry of the supervisor's event log.
type EventKind string

// Event kinds.
const (
	EventStart       EventKind = "start"        // a process was spawned
	EventRunning     EventKind = "running"      // its first status arrived
	EventExit        EventKind = "exit"         // a process ended, or could not start
	EventKill        EventKind = "kill"         // SIGKILL sent
	EventStop        EventKind = "stop"         // stop requested
	EventRestart     EventKind = "restart"      // restart requested
	EventBackoff     EventKind = "backoff"      // waiting before a restart
	EventFailed      EventKind = "failed"       // too many failures: no more restarts
	EventFault       EventKind = "fault"        // a fault turned on or off
	EventStale       EventKind = "stale"        // silent on the status channel, or heard again
	EventRemote      EventKind = "remote"       // a stage not spawned here reported, or was forgotten
	EventReorder     EventKind = "reorder"      // the start order changed
	EventScale       EventKind = "scale"        // replicas added or removed
	EventShutdown    EventKind = "shutdown"     // the pipeline is stopping
	EventStatusError EventKind = "status-error" // malformed status messages
	EventInvariant   EventKind = "invariant"    // a delivery check failed
	EventBlocked     EventKind = "blocked"      // a stage reported itself blocked (say, on a full disk), or running again
	EventResume      EventKind = "resume"       // a stream a previous run left with frames in flight is continued, or cannot be
	EventNote        EventKind = "note"         // a line the supervisor was given to show (Config.Notes)
)

// Ends reports whether events of kind k end or stop a process: the lines a
// summary repeats.
func (k EventKind) Ends() bool {
	return k == EventExit || k == EventKill || k == EventStop || k == EventShutdown
}
