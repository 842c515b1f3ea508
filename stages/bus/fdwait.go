package bus

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// fdWait lets a goroutine wait for a ZeroMQ socket in Go's network poller
// rather than inside a blocking libzmq call.
//
// A goroutine blocked in a cgo call keeps its thread, and the runtime's
// sysmon thread takes its P away after 10 ms and then polls every 20 µs for
// the next millisecond: each wait inside libzmq made the process wake some
// 60 times. With a receive loop and a monitor per socket waiting in 100 ms
// slices, an idle stage woke 300–450 times a second, each wake a context
// switch away from SIFT on the same two cores. A goroutine waiting in the
// netpoller is parked instead, and an idle process sleeps.
//
// libzmq signals a socket's ZMQ_FD edge-triggered, when its command mailbox
// turns non-empty; a non-blocking receive that finds nothing to read has
// emptied the mailbox, so the next message signals the descriptor again.
// wait therefore always tries before it waits.
type fdWait struct {
	f     *os.File // a duplicate of ZMQ_FD, so that closing it leaves libzmq's alone
	rc    syscall.RawConn
	woken atomic.Bool // wake was called: the wait in progress, or the next, ends
}

// errWoken ends a wait that wake cut short.
var errWoken = errors.New("bus: wait woken")

// wake ends the wait in progress, or the next one, with errWoken. Any
// goroutine may call it: it touches only the descriptor's deadline, never
// the ZeroMQ socket.
func (w *fdWait) wake() {
	w.woken.Store(true)
	_ = w.f.SetReadDeadline(time.Now())
}

func newFDWait(sock *zmq.Socket) (*fdWait, error) {
	fd, err := sock.GetFd()
	if err != nil {
		return nil, fmt.Errorf("bus: ZMQ_FD: %w", err)
	}
	dup, err := syscall.Dup(fd)
	if err != nil {
		return nil, fmt.Errorf("bus: dup ZMQ_FD: %w", err)
	}
	syscall.CloseOnExec(dup)
	if err := syscall.SetNonblock(dup, true); err != nil {
		syscall.Close(dup)
		return nil, fmt.Errorf("bus: ZMQ_FD non-blocking: %w", err)
	}
	f := os.NewFile(uintptr(dup), "zmq-fd")
	// A deadline can be set only on a descriptor in the netpoller.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, fmt.Errorf("bus: ZMQ_FD cannot be polled: %w", err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("bus: ZMQ_FD: %w", err)
	}
	return &fdWait{f: f, rc: rc}, nil
}

// until calls try, then, while it reports false, waits for the socket's
// signal and calls it again. It returns ErrTimeout once deadline has passed
// (a zero deadline never passes); try is always called at least once.
// try must not block: it receives with zmq.DONTWAIT.
func (w *fdWait) until(deadline time.Time, try func() bool) error {
	if try() {
		return nil
	}
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return ErrTimeout
	}
	if err := w.f.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("bus: wait: %w", err)
	}
	// After the deadline is set: a wake before it would be overwritten.
	if w.woken.Swap(false) {
		return errWoken
	}
	err := w.rc.Read(func(uintptr) bool { return try() })
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if w.woken.Swap(false) {
			return errWoken
		}
		return ErrTimeout
	}
	if err != nil {
		return fmt.Errorf("bus: wait: %w", err)
	}
	return nil
}

func (w *fdWait) close() error { return w.f.Close() }
