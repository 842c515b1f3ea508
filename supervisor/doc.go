// Package supervisor runs the imaging pipeline's stage processes: it spawns
// `imaging-tui stage KIND ...` children (re-executing its own binary), wires
// their endpoints, watches them through the status side channel, restarts
// them by policy, and carries out the operator's commands and injected
// faults. It has no UI: the TUI and the headless mode (RunHeadless) drive the
// same API and render Snapshot.
//
// # Processes
//
// Every child runs in its own process group with Pdeathsig SIGKILL, started
// and waited for by one goroutine locked to its OS thread, so children die
// with the supervisor even when it is SIGKILLed (golang/go#27505). After a
// child is reaped its whole group is SIGKILLed. Each child's stdout and
// stderr are read line by line into a ring of the last 500 lines (Logs) and
// appended to RUN/logs/NAME.log; the reader never stops draining the pipe, so
// a chatty or stuck child cannot block.
//
// # Wiring
//
// stage.Table drives it. New creates the instances in the table's order,
// one of each kind, or Config.Replicas of a replicated kind (KIND-0..n-1:
// under reliable delivery they share the generator's work pool, under
// best-effort each is given --shard i/n). Each port of a kind's Spec (but a
// ReliableOnly one under best-effort) becomes an endpoint
// flag: ipc:// sockets in the run directory (Config.RunDir), as
// stage.SupervisedEndpoints says: a stage that binds on a link binds a
// socket named after the link and itself, and the stages across the link
// connect to every such socket (a replicated kind connects, so its peers
// bind). The port a stage reads first
// (Spec.Input) also connects to inj-NAME, where the supervisor publishes
// while a corrupt or truncate fault is active on that stage. Today's table
// gives, under reliable delivery:
//
//	generator    --pub @ipc://RUN/images.generator.sock --ack >ipc://RUN/acks.logger.sock,>ipc://RUN/inj-generator --work @ipc://RUN/work.generator.sock
//	extractor-i  --sub >ipc://RUN/images.generator.sock,>ipc://RUN/inj-extractor-i --pub >ipc://RUN/processed.logger.sock --work >ipc://RUN/work.generator.sock
//	logger       --sub @ipc://RUN/processed.logger.sock,>ipc://RUN/inj-logger --ack @ipc://RUN/acks.logger.sock
//
// and under best-effort the same without --work, the extractors with
// --shard i/n instead.
//
// Every stage also gets --status (the connect form of Config.StatusBind),
// --instance NAME and --delivery, then the options only its kind has
// (generator --state, --images, --fps; extractor --workers, --threads;
// logger --db, --retain-*) and the operator's --KIND-args. A kind that
// keeps memory (Spec.KeepsMemory) starts with stage.WithKeptMemory's
// environment unless its args say --return-memory.
//
// The supervisor's own messaging, the status channel and the inject
// publishers, goes through Config.Transport (ZeroMQ's is
// bus.NewTransport), so this package builds without cgo.
//
// Across hosts (roles.go), EdgeConfig and JoinConfig set Config.Kinds (the
// kinds this supervisor runs), Config.Expose (a link's binder also binds a
// tcp:// address), Config.Remote (a link served by another host, connected
// to instead of the run folder; for status, reported to as well) and
// Config.Host (instance names KIND-i@HOST): the edge and each processing
// host are supervisors wired from the same table.
//
// # States and restarts
//
// A stage is starting (spawned, no status yet), running (reporting), stale
// (alive but no status for StaleAfter, e.g. paused or silent), backoff
// (exited unexpectedly; restarting after a delay of RestartBase·2^(n-1),
// ±20 % jitter, at most RestartCap), stopped (by the operator or at
// shutdown; never undone by the policy) or failed (QuickExits exits within
// MinUptime of start in a row, or more than MaxRestarts failures within
// RestartWindow; only Start, Restart or clearing crashloop revive it). A
// stage up for ResetAfter has its failures forgotten. An operator's kill
// goes through backoff but does not count towards failed. Stages that
// report on the status channel but were not started by this supervisor are
// shown as remote (observed only).
//
// Each restart is counted by cause (history.go): a crash (the process
// exited on its own, or by a fault such as crashloop) or the operator's
// (stop, restart, kill, restart-all). Each instance keeps its state
// changes and its processes with their exits, causes and frames; the
// snapshot sums frames and errors over every process (and Snapshot.Kinds
// over every instance, scaled-away ones included), gives the rate now (0
// while paused, silent or with no frame out for a few seconds, and since
// when), CPU and memory from /proc, the command line and the log file.
//
// # Concurrency
//
// All methods are safe for concurrent use and return at once. Run owns a
// manager goroutine per stage (spawn, wait, backoff), a status receiver
// (the only reader of the Transport's status channel), a monitor (stale
// detection, fps history), a database poller (read-only row counts once a
// second, kept open) and the fault injector (the only user of the inject
// publishers). Run closes the Transport after they have returned. Bulk
// operations (start in order, RestartAll, Scale, shutdown) run one at a time
// in goroutines Run waits for. State is guarded by one mutex; Snapshot
// returns a deep copy.
//
// # Shutdown
//
// When Run's context ends, every fault is cleared, the generators get
// SIGTERM and up to DrainGrace to drain their window of unacknowledged
// frames, then the other stages are stopped in reverse start order (SIGTERM,
// SIGKILL after StopGrace). Run returns when every child has been reaped.
package supervisor
