package bus

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Transport is the supervisor's messaging over ZeroMQ: the status channel
// it binds and reads, and publishers for the messages its faults inject. It
// satisfies supervisor.Transport, which declares the methods without naming
// this package, so that the supervisor builds without cgo; bus does not
// import the supervisor.
//
// The status channel is used by one goroutine at a time, each publisher
// likewise; BindStatus, OpenPublisher and Close may be called from any.
type Transport struct {
	mu     sync.Mutex
	ctx    *Context // created at the first bind
	status *Socket
	closed bool
	sec    Security // applied to the context when it is created
}

// Socket options of the supervisor's sockets.
var (
	// Status messages are small JSON objects, one a stage every 100 ms or
	// so: a deep queue rides out a busy supervisor, and the size limit
	// keeps a stray sender from making it buffer frames.
	statusOptions = Options{HWM: 1000, MaxMsgSize: 1 << 20}
	// Injected messages are expendable: a short queue, and no linger so
	// that clearing a fault stops them at once.
	injectOptions = Options{HWM: 10, Linger: time.Millisecond}
)

// NewTransport returns a Transport. Its ZeroMQ context is created when it
// first binds; Close terminates it.
func NewTransport() *Transport { return &Transport{} }

// NewSecureTransport returns a Transport whose sockets follow sec (see
// Security). A Transport from NewTransport has the zero Security: no
// CURVE, and no tcp bind beyond loopback.
func NewSecureTransport(sec Security) *Transport { return &Transport{sec: sec} }

// contextLocked returns the transport's context, creating it if needed.
func (t *Transport) contextLocked() (*Context, error) {
	if t.closed {
		return nil, ErrClosed
	}
	if t.ctx == nil {
		ctx, err := NewContext()
		if err != nil {
			return nil, err
		}
		if err := ctx.Secure(t.sec); err != nil {
			ctx.Close()
			return nil, err
		}
		t.ctx = ctx
	}
	return t.ctx, nil
}

// BindStatus binds the status channel, a SUB socket, on endpoints (a
// comma-separated list in bind form, "@ADDR"; as for any Sub, an entry
// without a prefix connects) and returns the
// addresses bound, without prefix, as resolved: a tcp port 0 with the port
// chosen. A Transport has one status channel.
func (t *Transport) BindStatus(endpoints string) ([]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.status != nil {
		return nil, errors.New("bus: status channel already bound")
	}
	ctx, err := t.contextLocked()
	if err != nil {
		return nil, err
	}
	if t.status, err = ctx.Sub(endpoints, statusOptions); err != nil {
		return nil, err
	}
	return t.status.Endpoints(), nil
}

// RecvStatus waits up to timeout for a status message. When none arrives
// in time its error wraps both ErrTimeout and os.ErrDeadlineExceeded, which
// the supervisor can match without importing bus.
func (t *Transport) RecvStatus(timeout time.Duration) ([]byte, error) {
	t.mu.Lock()
	sock := t.status
	t.mu.Unlock()
	if sock == nil {
		return nil, fmt.Errorf("bus: status channel not bound: %w", ErrClosed)
	}
	msg, err := sock.Recv(timeout)
	if errors.Is(err, ErrTimeout) {
		return nil, fmt.Errorf("%w (%w)", ErrTimeout, os.ErrDeadlineExceeded)
	}
	return msg, err
}

// Refused returns how many peers the status channel turned away at the
// handshake (see Socket.Refused): stages without the right key.
func (t *Transport) Refused() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.status == nil || t.closed {
		return 0
	}
	return t.status.Refused()
}

// OpenPublisher binds a PUB socket on endpoint (entries without a prefix
// bind). Each Write sends one message; Write never blocks: a message nobody
// receives is dropped.
func (t *Transport) OpenPublisher(endpoint string) (io.WriteCloser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ctx, err := t.contextLocked()
	if err != nil {
		return nil, err
	}
	sock, err := ctx.Pub(endpoint, injectOptions)
	if err != nil {
		return nil, err
	}
	return publisher{sock}, nil
}

// publisher is a Pub socket as an io.WriteCloser.
type publisher struct{ sock *Socket }

func (p publisher) Write(msg []byte) (int, error) {
	if err := p.sock.Send(msg); err != nil {
		return 0, err
	}
	return len(msg), nil
}

func (p publisher) Close() error { return p.sock.Close() }

// Close closes the status channel and terminates the context, which waits
// until every publisher has been closed. Close is idempotent.
func (t *Transport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	if t.status != nil {
		errs = append(errs, t.status.Close())
	}
	if t.ctx != nil {
		errs = append(errs, t.ctx.Close())
	}
	return errors.Join(errs...)
}
