// Package stages holds the pipeline's three stage processes — generator,
// extractor and logger — as functions that run until their context ends.
// `imaging-tui stage NAME` calls Run; the supervisor spawns exactly that.
//
// Each stage owns its sockets in one goroutine per socket (ZeroMQ sockets are
// not thread-safe), reports a wire.Status on the status side channel about
// every 250 ms, and logs with log/slog on stderr. Only the subpackages touch
// cgo: stages/bus wraps ZeroMQ and stages/sift wraps OpenCV; wire/probe
// reads image headers in pure Go.
//
// Delivery. Under reliable delivery (the default) the generator keeps a
// bounded window of frames the logger has not acknowledged, resends those
// not acknowledged in time and publishes no further than the window allows;
// the logger stores each (stream, seq) once and acknowledges after commit.
// Under best-effort delivery nothing waits: PUB sockets drop at their
// high-water mark and the logger counts the sequence gaps as dropped.
//
// Control signals: SIGINT/SIGTERM stop cleanly; SIGUSR1 toggles the status
// reports off and on (the "silent" fault); SIGUSR2 makes the logger's
// database refuse to grow, and back (the "dbfull" fault). The environment
// variable IMAGING_TUI_FAULT_CRASH=1 makes a stage exit with code 3 at once
// (the "crashloop" fault).
package stages
