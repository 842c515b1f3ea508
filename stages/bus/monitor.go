package bus

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// Monitor events the watcher reads. libzmq emits EVENT_DISCONNECTED for
// every connection that ends on an error, including failed handshakes (which
// also emit a HANDSHAKE_FAILED event first), so Dropped counts only
// EVENT_DISCONNECTED. The connect events tell a connection that libzmq will
// retry from one it abandoned.
const monitorEvents = zmq.EVENT_DISCONNECTED |
	zmq.EVENT_CONNECT_RETRIED |
	zmq.EVENT_CONNECT_DELAYED |
	zmq.EVENT_CONNECTED |
	zmq.EVENT_MONITOR_STOPPED |
	handshakeFailed

// handshakeFailed are the events of a connection refused at the handshake,
// counted by Refused; libzmq then disconnects it as well.
const handshakeFailed = zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL |
	zmq.EVENT_HANDSHAKE_FAILED_AUTH

const (
	// monitorPoll bounds one wait of the watcher for an event. It wakes
	// earlier for a connection that may have been abandoned; this only
	// guards the end of the monitor should its last event never come.
	monitorPoll = time.Second
	// abandonAfter is how long after EVENT_DISCONNECTED on a connecting
	// endpoint libzmq has to announce a reconnection before the watcher
	// declares the connection abandoned. libzmq announces it (with
	// EVENT_CONNECT_RETRIED) within the same I/O thread turn.
	abandonAfter = 300 * time.Millisecond
)

var monitorSeq atomic.Uint64

// watcher reads a socket monitor on its own goroutine. It counts dropped
// connections and finds connections libzmq abandoned: libzmq reconnects a
// connecting socket after a connection error, but after a protocol error —
// including an inbound message over ZMQ_MAXMSGSIZE — it terminates that
// connection for good. The watcher reports such endpoints; the socket's
// owner goroutine reconnects them (a zmq socket is not thread safe).
type watcher struct {
	pair    *zmq.Socket // owned by the goroutine
	wait    *fdWait     // for pair
	keys    map[string]bool
	dropped atomic.Uint64
	refused atomic.Uint64
	stopped atomic.Bool   // set once the monitor is stopped: no more events
	done    chan struct{} // closed when the goroutine has exited

	mu        sync.Mutex
	abandoned map[string]bool // endpoint keys to reconnect
	pending   atomic.Bool     // len(abandoned) > 0
}

// endpointKey identifies an endpoint in monitor events, which name a tcp
// connection by the address as given at first and as resolved later:
// "tcp://localhost:5555", then "tcp://127.0.0.1:5555". So tcp endpoints are
// keyed by port only; others by their whole address.
func endpointKey(addr string) string {
	if rest, ok := strings.CutPrefix(addr, "tcp://"); ok {
		if _, port, err := net.SplitHostPort(rest); err == nil {
			return "tcp:" + port
		}
	}
	return addr
}

// startMonitor attaches a ZeroMQ socket monitor to sock and starts the
// goroutine that reads it. connects are the endpoints the socket will
// connect to. The PAIR socket that receives the events is connected before
// startMonitor returns: libzmq sends monitor events with blocking sends, so
// an event emitted with no reader attached would hang the socket.
func startMonitor(ctx *zmq.Context, sock *zmq.Socket, connects []Endpoint) (*watcher, error) {
	addr := fmt.Sprintf("inproc://bus-monitor-%d", monitorSeq.Add(1))
	pair, err := ctx.NewSocket(zmq.PAIR)
	if err != nil {
		return nil, fmt.Errorf("bus: monitor socket: %w", err)
	}
	setup := func() error {
		if err := sock.Monitor(addr, monitorEvents); err != nil {
			return err
		}
		if err := pair.SetLinger(0); err != nil {
			return err
		}
		return pair.Connect(addr)
	}
	if err := setup(); err != nil {
		pair.Close()
		return nil, fmt.Errorf("bus: start monitor: %w", err)
	}
	wait, err := newFDWait(pair)
	if err != nil {
		pair.Close()
		return nil, err
	}
	w := &watcher{
		pair:      pair,
		wait:      wait,
		keys:      map[string]bool{},
		done:      make(chan struct{}),
		abandoned: map[string]bool{},
	}
	for _, ep := range connects {
		w.keys[endpointKey(ep.Addr)] = true
	}
	go w.run()
	return w, nil
}

// run reads events until the monitor stops. It must keep reading until
// then: libzmq blocks the monitored socket when its monitor is not read.
func (w *watcher) run() {
	defer close(w.done)
	defer w.pair.Close()
	defer w.wait.close()
	disconnected := map[string]time.Time{} // connect keys awaiting a retry
	for {
		deadline := time.Now().Add(monitorPoll)
		for _, at := range disconnected {
			if t := at.Add(abandonAfter); t.Before(deadline) {
				deadline = t
			}
		}
		var ev zmq.Event
		var addr string
		var err error
		werr := w.wait.until(deadline, func() bool {
			ev, addr, _, err = w.pair.RecvEvent(zmq.DONTWAIT)
			return zmq.AsErrno(err) != zmq.Errno(syscall.EAGAIN)
		})
		now := time.Now()
		for key, at := range disconnected {
			if now.Sub(at) >= abandonAfter {
				delete(disconnected, key)
				w.abandon(key)
			}
		}
		if werr != nil {
			if w.stopped.Load() {
				return // the monitor is gone and its queue is empty
			}
			if !errors.Is(werr, ErrTimeout) {
				time.Sleep(10 * time.Millisecond) // cannot wait: poll, but keep reading
			}
			continue
		}
		if err != nil {
			if zmq.AsErrno(err) == zmq.ETERM {
				return
			}
			continue // a malformed event to skip
		}
		key := endpointKey(addr)
		switch ev {
		case zmq.EVENT_MONITOR_STOPPED:
			return
		case zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_AUTH:
			w.refused.Add(1)
		case zmq.EVENT_DISCONNECTED:
			w.dropped.Add(1)
			if w.keys[key] {
				disconnected[key] = now
			}
		default: // libzmq is (re)connecting: the endpoint is alive
			delete(disconnected, key)
		}
	}
}

func (w *watcher) abandon(key string) {
	w.mu.Lock()
	w.abandoned[key] = true
	w.pending.Store(true)
	w.mu.Unlock()
}

// takeAbandoned returns and clears the abandoned endpoint keys.
func (w *watcher) takeAbandoned() map[string]bool {
	if !w.pending.Load() {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	keys := w.abandoned
	w.abandoned = map[string]bool{}
	w.pending.Store(false)
	return keys
}
