package bus

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/imaging-tui/imaging-tui/wire"
)

// Errors returned by Socket methods.
var (
	// ErrTimeout is returned by Recv when no message arrived in time.
	ErrTimeout = errors.New("bus: receive timed out")
	// ErrClosed is returned after the Socket or its Context was closed.
	ErrClosed = errors.New("bus: socket closed")
	// ErrMultipart is returned by Recv for a message of more than one part,
	// which it has read and discarded whole.
	ErrMultipart = errors.New("bus: multi-part message discarded")
	// ErrNoPeer is returned by a Dealer's Send when no peer can take the
	// message now (none connected, or its queue is full), and by a
	// Router's SendTo when the peer is gone or its queue is full: the
	// message was not sent.
	ErrNoPeer = errors.New("bus: no peer to take the message")
)

// Defaults applied for zero Options fields.
const (
	DefaultHWM        = 100
	DefaultLinger     = time.Second
	DefaultMaxMsgSize = int64(wire.MaxMessageBytes)

	reconnectIvl    = 100 * time.Millisecond
	reconnectIvlMax = time.Second
	recvSlice       = 100 * time.Millisecond // longest single wait in Recv
)

// Options tunes a socket. Zero values select the defaults.
type Options struct {
	// HWM is both ZMQ_SNDHWM and ZMQ_RCVHWM, in messages. Defaults to
	// DefaultHWM (100); negative means no limit.
	HWM int
	// MaxMsgSize is ZMQ_MAXMSGSIZE in bytes: a peer sending a larger message
	// is disconnected and the message lost (see Socket.Dropped). Defaults to
	// DefaultMaxMsgSize (wire.MaxMessageBytes); negative means no limit.
	MaxMsgSize int64
	// Joins makes a Pub socket report subscriptions (an XPUB with
	// ZMQ_XPUB_VERBOSE): see Socket.Joins. A publisher that must not send
	// into the void before anyone listens uses it.
	Joins bool
	// Linger is how long Close keeps trying to deliver queued messages.
	// Defaults to DefaultLinger (1 s); negative means forever.
	Linger time.Duration
}

func (o Options) withDefaults() Options {
	switch {
	case o.HWM == 0:
		o.HWM = DefaultHWM
	case o.HWM < 0:
		o.HWM = 0 // zmq: no limit
	}
	switch {
	case o.MaxMsgSize == 0:
		o.MaxMsgSize = DefaultMaxMsgSize
	case o.MaxMsgSize < 0:
		o.MaxMsgSize = -1
	}
	switch {
	case o.Linger == 0:
		o.Linger = DefaultLinger
	case o.Linger < 0:
		o.Linger = -1 // zmq4: exactly -1 means forever
	}
	return o
}

// Context is the process's ZeroMQ context. Create one per process.
type Context struct {
	ctx *zmq.Context
	sec *Security   // set by Secure; nil: no CURVE and no bind rule
	zap *zapHandler // with a key: answers CURVE handshakes
}

// NewContext creates a ZeroMQ context whose calls retry after EINTR, so
// signals delivered to the process do not fail sends and receives.
func NewContext() (*Context, error) {
	ctx, err := zmq.NewContext()
	if err != nil {
		return nil, fmt.Errorf("bus: new context: %w", err)
	}
	ctx.SetRetryAfterEINTR(true)
	return &Context{ctx: ctx}, nil
}

// Close terminates the context. It blocks until every Socket of the context
// is closed and has lingered; close the sockets first.
func (c *Context) Close() error {
	err := c.ctx.Term() // also ends the ZAP handler's wait, which closes its socket
	if c.zap != nil {
		<-c.zap.done
	}
	if err != nil {
		return fmt.Errorf("bus: close context: %w", err)
	}
	return nil
}

// Socket is a PUB, SUB, ROUTER or DEALER socket. It must be used by one
// goroutine at a time, except Dropped, Refused, Endpoints and Wake, which any
// goroutine may call.
type Socket struct {
	sock      *zmq.Socket
	kind      zmq.Type
	endpoints []string
	connects  []Endpoint
	wait      *fdWait // for receives: waits in the netpoller, not in libzmq
	closed    bool
	mon       *watcher
	prepare   func(Endpoint) error // sets the CURVE options for an endpoint
}

// Pub creates a PUB socket on the endpoint list (entries without a prefix
// bind). Send never blocks: at the high-water mark, or while no subscriber
// is connected, messages are dropped (ZeroMQ PUB semantics).
func (c *Context) Pub(endpoints string, o Options) (*Socket, error) {
	eps, err := ParseEndpoints(endpoints, true)
	if err != nil {
		return nil, err
	}
	if o.Joins {
		return c.open(zmq.XPUB, eps, o)
	}
	return c.open(zmq.PUB, eps, o)
}

// Sub creates a SUB socket on the endpoint list (entries without a prefix
// connect), subscribed to every message.
func (c *Context) Sub(endpoints string, o Options) (*Socket, error) {
	eps, err := ParseEndpoints(endpoints, false)
	if err != nil {
		return nil, err
	}
	return c.open(zmq.SUB, eps, o)
}

func (c *Context) open(kind zmq.Type, eps []Endpoint, o Options) (_ *Socket, err error) {
	o = o.withDefaults()
	sock, err := c.ctx.NewSocket(kind)
	if err != nil {
		return nil, fmt.Errorf("bus: new %v socket: %w", kind, err)
	}
	s := &Socket{sock: sock, kind: kind}
	s.prepare = func(ep Endpoint) error { return c.secure(sock, ep) }
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	for _, set := range []struct {
		name string
		f    func() error
	}{
		{"ZMQ_SNDHWM", func() error { return sock.SetSndhwm(o.HWM) }},
		{"ZMQ_RCVHWM", func() error { return sock.SetRcvhwm(o.HWM) }},
		{"ZMQ_LINGER", func() error { return sock.SetLinger(o.Linger) }},
		{"ZMQ_MAXMSGSIZE", func() error { return sock.SetMaxmsgsize(o.MaxMsgSize) }},
		{"ZMQ_RECONNECT_IVL", func() error { return sock.SetReconnectIvl(reconnectIvl) }},
		{"ZMQ_RECONNECT_IVL_MAX", func() error { return sock.SetReconnectIvlMax(reconnectIvlMax) }},
	} {
		if err := set.f(); err != nil {
			return nil, fmt.Errorf("bus: set %s: %w", set.name, err)
		}
	}
	if err := setKindOptions(sock, kind); err != nil {
		return nil, err
	}
	if kind == zmq.SUB || kind == zmq.ROUTER || kind == zmq.DEALER {
		if s.wait, err = newFDWait(sock); err != nil {
			return nil, err
		}
	}
	for _, ep := range eps {
		if !ep.Bind {
			s.connects = append(s.connects, ep)
		}
	}
	// The monitor must run before the first bind or connect so that it sees
	// every connection.
	if s.mon, err = startMonitor(c.ctx, sock, s.connects); err != nil {
		return nil, err
	}
	for _, ep := range eps {
		if err := s.prepare(ep); err != nil {
			return nil, err
		}
		if ep.Bind {
			if err := sock.Bind(ep.Addr); err != nil {
				return nil, fmt.Errorf("bus: bind %s: %w", ep.Addr, err)
			}
			resolved, err := sock.GetLastEndpoint()
			if err != nil {
				return nil, fmt.Errorf("bus: endpoint bound to %s: %w", ep.Addr, err)
			}
			s.endpoints = append(s.endpoints, resolved)
		} else {
			if err := sock.Connect(ep.Addr); err != nil {
				return nil, fmt.Errorf("bus: connect %s: %w", ep.Addr, err)
			}
			s.endpoints = append(s.endpoints, ep.Addr)
		}
	}
	return s, nil
}

// Endpoints returns the socket's endpoints in list order, without prefixes.
// A bound endpoint is reported as ZeroMQ resolved it, so "tcp://127.0.0.1:0"
// appears with the port the system chose.
func (s *Socket) Endpoints() []string {
	return append([]string(nil), s.endpoints...)
}

// Dropped returns how many of the socket's connections have ended other than
// by its own Close: the peer closed or died, or libzmq cut the connection
// (an inbound message over MaxMsgSize, a protocol error), or a handshake
// failed. Every such connection may have lost messages in flight.
//
// libzmq abandons a connection it made for good after a protocol error, and
// an inbound message over MaxMsgSize is one; the Socket notices (within
// about half a second) and connects again at its next Send or Recv.
func (s *Socket) Dropped() uint64 {
	return s.mon.dropped.Load()
}

// Refused returns how many connections of the socket failed their
// handshake: a peer without a key or with the wrong one, a client whose key
// is not among the allowed peers (Security), or a peer that does not speak
// ZeroMQ. On a binding socket each is a peer turned away; a connecting
// socket counts its own refusals, and tries again like after any dropped
// connection.
func (s *Socket) Refused() uint64 {
	return s.mon.refused.Load()
}

// reconnect re-establishes connect endpoints that libzmq abandoned.
func (s *Socket) reconnect() error {
	keys := s.mon.takeAbandoned()
	if keys == nil {
		return nil
	}
	for _, ep := range s.connects {
		if !keys[endpointKey(ep.Addr)] {
			continue
		}
		_ = s.sock.Disconnect(ep.Addr) // forget the dead session, if zmq has not
		if err := s.prepare(ep); err != nil {
			return err
		}
		if err := s.sock.Connect(ep.Addr); err != nil {
			return fmt.Errorf("bus: reconnect %s: %w", ep.Addr, mapErr(err))
		}
	}
	return nil
}

// Send publishes msg as one message part. A Pub or a Dealer socket sends;
// neither blocks (see Pub and Dealer).
func (s *Socket) Send(msg []byte) error {
	if s.closed {
		return ErrClosed
	}
	return s.SendParts(msg)
}

// SendParts publishes one message of several parts. The pipeline's own
// messages are single-part; tests and fault injection use this to send
// what a hostile peer might.
func (s *Socket) SendParts(parts ...[]byte) error {
	if s.closed {
		return ErrClosed
	}
	if s.kind == zmq.DEALER {
		return s.sendNoWait(parts...)
	}
	if s.kind != zmq.PUB && s.kind != zmq.XPUB {
		return fmt.Errorf("bus: send on a %v socket", s.kind)
	}
	if err := s.reconnect(); err != nil {
		return err
	}
	for i, p := range parts {
		flag := zmq.Flag(0)
		if i < len(parts)-1 {
			flag = zmq.SNDMORE
		}
		if _, err := s.sock.SendBytes(p, flag); err != nil {
			return fmt.Errorf("bus: send: %w", mapErr(err))
		}
	}
	return nil
}

// Joins returns how many subscriptions arrived since the last call, without
// waiting: each is a subscriber that connected (or reconnected). Only a Pub
// socket opened with Options.Joins reports them; others return 0.
func (s *Socket) Joins() int {
	if s.closed || s.kind != zmq.XPUB {
		return 0
	}
	n := 0
	for {
		msg, err := s.sock.RecvBytes(zmq.DONTWAIT)
		if err != nil {
			return n
		}
		if len(msg) > 0 && msg[0] == 1 {
			n++
		}
	}
}

// Recv waits up to timeout for a message and returns a copy of it. It
// returns ErrTimeout if none arrived: timeout 0 only takes a message already
// queued, and a negative timeout waits indefinitely. A Sub or a Dealer
// socket receives this way (a Router with RecvFrom).
func (s *Socket) Recv(timeout time.Duration) ([]byte, error) { return s.RecvInto(nil, timeout) }

// RecvInto is Recv that copies the message into buf's memory when it fits
// (a new buffer otherwise) and returns it there: the caller must be done
// with buf's previous contents. A receiver that reuses one buffer saves a
// new allocation of the message's size each time.
func (s *Socket) RecvInto(buf []byte, timeout time.Duration) ([]byte, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if s.kind != zmq.SUB && s.kind != zmq.DEALER {
		return nil, fmt.Errorf("bus: receive on a %v socket", s.kind)
	}
	// libzmq takes in its pending commands (a connection just made, a pipe
	// that has messages again) only once every 100 receives while messages
	// keep coming on one pipe, so a second connection, such as the
	// supervisor's injector, would wait behind a busy first one for as
	// many messages. Asking for the events processes them now.
	_, _ = s.sock.GetEvents()
	// Wait in slices so that abandoned connections are re-established
	// while we wait.
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		if err := s.reconnect(); err != nil {
			return nil, err
		}
		slice := time.Now() // timeout 0: try once
		if timeout != 0 {
			slice = slice.Add(recvSlice)
		}
		if timeout > 0 && deadline.Before(slice) {
			slice = deadline
		}
		var msg []byte
		var more bool
		var rerr error
		err := s.wait.until(slice, func() bool {
			msg, more, rerr = recvInto(s.sock, buf, zmq.DONTWAIT)
			return zmq.AsErrno(rerr) != zmq.Errno(syscall.EAGAIN)
		})
		switch {
		case err == nil && rerr != nil:
			return nil, fmt.Errorf("bus: receive: %w", mapErr(rerr))
		case err == nil && more:
			return nil, s.discardParts()
		case err == nil:
			return msg, nil
		case errors.Is(err, errWoken):
			return nil, ErrTimeout
		case !errors.Is(err, ErrTimeout):
			return nil, err
		}
		if timeout == 0 || (timeout > 0 && !time.Now().Before(deadline)) {
			return nil, ErrTimeout
		}
	}
}

// discardParts reads the rest of a multi-part message and reports it: every
// message of the pipeline is a single part, so extra parts mean a peer that
// does not speak our protocol.
func (s *Socket) discardParts() error {
	n := 1
	for more := true; more; n++ {
		if _, err := s.sock.RecvBytes(0); err != nil {
			return fmt.Errorf("bus: receive: %w", mapErr(err))
		}
		more, _ = s.sock.GetRcvmore()
	}
	return fmt.Errorf("%w: %d parts", ErrMultipart, n)
}

// Close stops the monitor, closes the socket and waits for the monitor
// goroutine to exit. Queued outgoing messages linger in the background for
// up to Options.Linger (Context.Close waits for them). Close is idempotent.
func (s *Socket) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.mon != nil {
		// Stopping the monitor now, rather than when libzmq reaps the socket
		// after its linger, makes it send EVENT_MONITOR_STOPPED at once.
		_ = s.sock.Monitor("", 0)
		s.mon.stopped.Store(true)
	}
	err := s.sock.Close()
	if s.wait != nil {
		s.wait.close()
	}
	if s.mon != nil {
		<-s.mon.done
	}
	if err != nil {
		return fmt.Errorf("bus: close: %w", err)
	}
	return nil
}

// mapErr turns a terminated context into ErrClosed.
func mapErr(err error) error {
	if zmq.AsErrno(err) == zmq.ETERM {
		return fmt.Errorf("%w: context terminated", ErrClosed)
	}
	return err
}

// setKindOptions sets the options one kind of socket needs.
func setKindOptions(sock *zmq.Socket, kind zmq.Type) error {
	switch kind {
	case zmq.XPUB:
		if err := sock.SetXpubVerbose(1); err != nil {
			return fmt.Errorf("bus: set ZMQ_XPUB_VERBOSE: %w", err)
		}
	case zmq.SUB:
		if err := sock.SetSubscribe(""); err != nil {
			return fmt.Errorf("bus: subscribe: %w", err)
		}
	case zmq.ROUTER:
		// A frame for a peer that has gone is an error, not a silent drop:
		// the pool gives it to another.
		if err := sock.SetRouterMandatory(1); err != nil {
			return fmt.Errorf("bus: set ZMQ_ROUTER_MANDATORY: %w", err)
		}
	case zmq.DEALER:
		// Messages go to completed connections only: a Ready is not queued
		// for a generator that may never answer, and with several
		// generators one that is down gets none.
		if err := sock.SetImmediate(true); err != nil {
			return fmt.Errorf("bus: set ZMQ_IMMEDIATE: %w", err)
		}
	}
	return nil
}
