package supervisor

import (
	"io"
	"time"
)

// Transport is the messaging the supervisor does itself: it binds the status
// channel every stage reports on and reads it, and it publishes the messages
// the corrupt and truncate faults inject into a stage's input. It is an
// interface so that the supervisor, and the console above it, build without
// cgo; main gives it bus.NewTransport, ZeroMQ's.
//
// Run calls BindStatus once, then RecvStatus from one goroutine and
// OpenPublisher, and the publishers it returns, from another; it closes
// every publisher before Close, which it calls last.
type Transport interface {
	// BindStatus binds the status channel on endpoints, a comma-separated
	// list in bind form ("@tcp://127.0.0.1:5557"), and returns the addresses
	// bound, without prefix, as resolved: a tcp port 0 with the port chosen.
	BindStatus(endpoints string) (bound []string, err error)
	// RecvStatus returns the next status message, waiting up to timeout. An
	// error wrapping os.ErrDeadlineExceeded means none arrived in time.
	RecvStatus(timeout time.Duration) ([]byte, error)
	// OpenPublisher binds a publisher on endpoint (bind form). Each Write
	// sends one message, without blocking: one nobody receives is dropped.
	OpenPublisher(endpoint string) (io.WriteCloser, error)
	// Close closes the status channel and releases the transport.
	Close() error
}
