package bus

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// The work pool's sockets (the ZeroMQ guide's load-balancing pattern): the
// generator's Router hands each frame to one extractor's Dealer, which asks
// for frames when a worker is free. Both have the defaults of every socket
// (Options), CURVE per endpoint as every other (Context.Secure), and
// receive in Go's netpoller.

// Router creates a ROUTER socket on the endpoint list (entries without a
// prefix bind). It receives with RecvFrom, which names the peer, and sends
// with SendTo, which never blocks.
func (c *Context) Router(endpoints string, o Options) (*Socket, error) {
	eps, err := ParseEndpoints(endpoints, true)
	if err != nil {
		return nil, err
	}
	return c.open(zmq.ROUTER, eps, o)
}

// Dealer creates a DEALER socket on the endpoint list (entries without a
// prefix connect). It receives with RecvInto; Send never blocks (ErrNoPeer)
// and, with several endpoints, goes to each in turn.
func (c *Context) Dealer(endpoints string, o Options) (*Socket, error) {
	eps, err := ParseEndpoints(endpoints, false)
	if err != nil {
		return nil, err
	}
	return c.open(zmq.DEALER, eps, o)
}

// sendNoWait sends one message of parts without blocking: ErrNoPeer when
// ZeroMQ cannot take it now.
func (s *Socket) sendNoWait(parts ...[]byte) error {
	if err := s.reconnect(); err != nil {
		return err
	}
	for i, p := range parts {
		flag := zmq.DONTWAIT
		if i < len(parts)-1 {
			flag |= zmq.SNDMORE
		}
		if _, err := s.sock.SendBytes(p, flag); err != nil {
			switch zmq.AsErrno(err) {
			case zmq.Errno(syscall.EAGAIN), zmq.Errno(syscall.EHOSTUNREACH):
				// The first part is all or nothing: a ROUTER drops an
				// unroutable message whole.
				return fmt.Errorf("%w: %v", ErrNoPeer, err)
			}
			return fmt.Errorf("bus: send: %w", mapErr(err))
		}
	}
	return nil
}

// SendTo sends msg to the Router's peer id (as RecvFrom named it), without
// blocking: ErrNoPeer when that peer is gone or cannot take it now.
func (s *Socket) SendTo(id, msg []byte) error {
	if s.closed {
		return ErrClosed
	}
	if s.kind != zmq.ROUTER {
		return fmt.Errorf("bus: send to a peer on a %v socket", s.kind)
	}
	return s.sendNoWait(id, msg)
}

// RecvFrom waits up to timeout for a message on a Router and returns the
// peer it came from and a copy of the message, in buf's memory when it fits
// (see RecvInto for timeout). A message of more than one part after the
// peer's id is read whole and reported as ErrMultipart.
func (s *Socket) RecvFrom(buf []byte, timeout time.Duration) (id, msg []byte, err error) {
	if s.closed {
		return nil, nil, ErrClosed
	}
	if s.kind != zmq.ROUTER {
		return nil, nil, fmt.Errorf("bus: receive from a peer on a %v socket", s.kind)
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	var rerr error
	try := func() bool {
		id, rerr = s.sock.RecvBytes(zmq.DONTWAIT)
		return zmq.AsErrno(rerr) != zmq.Errno(syscall.EAGAIN)
	}
	if timeout == 0 {
		deadline = time.Now()
	}
	switch err := s.wait.until(deadline, try); {
	case errors.Is(err, errWoken) || errors.Is(err, ErrTimeout):
		return nil, nil, ErrTimeout
	case err != nil:
		return nil, nil, err
	case rerr != nil:
		return nil, nil, fmt.Errorf("bus: receive: %w", mapErr(rerr))
	}
	// The id is the first part of a message: the rest is already here.
	if more, _ := s.sock.GetRcvmore(); !more {
		return nil, nil, fmt.Errorf("%w: a peer id without a message", ErrMultipart)
	}
	msg, more, rerr := recvInto(s.sock, buf, 0)
	if rerr != nil {
		return nil, nil, fmt.Errorf("bus: receive: %w", mapErr(rerr))
	}
	if more {
		return nil, nil, s.discardParts()
	}
	return id, msg, nil
}

// Wake ends the receive in progress on s (RecvInto, RecvFrom), or the next
// one, at once with ErrTimeout. Unlike every other method it may be called
// from any goroutine: a worker that has become free wakes the goroutine
// that asks for frames.
func (s *Socket) Wake() {
	if s.wait != nil {
		s.wait.wake()
	}
}
