// Package stages holds the pipeline's stage processes — generator,
// extractor and logger — as functions that run until their context ends
// (RunGenerator, RunExtractor, RunLogger). `imaging-tui stage KIND` calls
// Main, which runs one of them; the supervisor spawns exactly that.
//
// # Structure
//
// The stage kinds are described once, in stage.Table (package
// stages/stage): each kind's summary, ports and their default endpoints,
// faults, and whether it keeps freed memory. Main reads the table: for a
// kind it registers the flags every stage has (--status, --instance,
// --delivery, --log-format, --cpuprofile) and the kind's port flags, then
// asks the kind's command, defined in the kind's own file
// (generatorFlags in generator.go, and so on), for its other flags and the
// function that runs it. A kind that receives frames (Spec.KeepsMemory)
// re-executes itself with stage.KeptMemoryTunables first, unless given
// --return-memory or already started with them.
//
// Adding a stage kind: a Spec in stage.Table, a file here with its config,
// command and Run function, and its entry in commands (cli.go);
// TestCommandsMatchTable fails until the last two agree.
//
// The set-up every stage shares is stageRuntime (runtime.go): the
// settings' defaults, the process's ZeroMQ context and the sockets on it,
// the counters, the status reporter with its signal toggles, and the
// shutdown order. Each Run function sets up its runtime and sockets, then
// hands them to its loop.
//
// The loops are written against three small interfaces: FrameSource
// (receive a message, with a timeout), FrameSink (send one) and Transform
// (an image frame in, its PROCESSED_DATA message out). *bus.Socket is the
// source and sink of a running stage, and siftTransform (OpenCV SIFT) the
// extractor's transform; tests run the loops between channels. The
// extractor's loop is three parts joined by channels: receive (one
// goroutine, owns the source), work (a goroutine per Transform, within a
// memory budget for SIFT) and send (one goroutine, owns the sink).
//
// # Concurrency
//
// Each stage owns its sockets in one goroutine per socket (ZeroMQ sockets
// are not thread-safe), reports a wire.Status on the status side channel
// every StatusInterval, and logs with log/slog on stderr. Only the
// subpackages touch cgo: stages/bus wraps ZeroMQ and stages/sift wraps
// OpenCV; wire/probe reads image headers in pure Go.
//
// # Delivery
//
// Under reliable delivery (the default) the generator keeps a bounded
// window of frames the logger has not acknowledged, resends those not
// acknowledged in time and publishes no further than the window allows;
// the logger stores each (stream, seq) once and acknowledges after commit.
// Under best-effort delivery nothing waits: PUB sockets drop at their
// high-water mark and the logger counts the sequence gaps as dropped.
//
// # Signals and faults
//
// SIGINT/SIGTERM stop cleanly; stage.SignalSilent (SIGUSR1) toggles the
// status reports off and on (the "silent" fault); stage.SignalDBFull
// (SIGUSR2) makes the logger's database refuse to grow, and back (the
// "dbfull" fault). stage.CrashFaultEnv=1 in the environment makes a stage
// exit with stage.ExitCrash at once (the "crashloop" fault).
package stages
