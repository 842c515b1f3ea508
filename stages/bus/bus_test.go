package bus

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newContext returns a context closed (after the test's sockets) at cleanup.
func newContext(t *testing.T) *Context {
	t.Helper()
	c, err := NewContext()
	if err != nil {
		t.Fatalf("NewContext: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Context.Close: %v", err)
		}
	})
	return c
}

// open creates a socket closed at cleanup; fast linger keeps tests quick.
func open(t *testing.T, c *Context, pub bool, endpoints string, o Options) *Socket {
	t.Helper()
	if o.Linger == 0 {
		o.Linger = 10 * time.Millisecond
	}
	var s *Socket
	var err error
	if pub {
		s, err = c.Pub(endpoints, o)
	} else {
		s, err = c.Sub(endpoints, o)
	}
	if err != nil {
		t.Fatalf("open %q: %v", endpoints, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// ipcEndpoint returns a short ipc:// endpoint under t.TempDir. Socket paths
// stop at 107 bytes; if the temp dir (named after the test) is too long, it
// falls back to a short directory of its own.
func ipcEndpoint(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if len(path) > maxIPCPath {
		dir, err := os.MkdirTemp("", "bus")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		path = filepath.Join(dir, name)
	}
	return "ipc://" + path
}

// deliver publishes msg repeatedly until sub receives it or the deadline
// passes: PUB/SUB drops messages sent before the subscription propagates
// (the slow-joiner), so a first message cannot be relied on.
func deliver(t *testing.T, pub, sub *Socket, msg []byte) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err := pub.Send(msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		got, err := sub.Recv(20 * time.Millisecond)
		if errors.Is(err, ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if !bytes.Equal(got, msg) {
			continue // an earlier message or an earlier copy of this one
		}
		drain(sub) // the extra copies
		return
	}
	t.Fatalf("message of %d bytes not delivered in 5s", len(msg))
}

// drain discards queued messages until none arrives for a short while.
func drain(sub *Socket) {
	for {
		if _, err := sub.Recv(50 * time.Millisecond); err != nil {
			return
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		bindPub bool // else the SUB binds and the PUB connects
		addr    func(t *testing.T) string
	}{
		{"tcp pub binds", true, func(*testing.T) string { return "tcp://127.0.0.1:0" }},
		{"tcp sub binds", false, func(*testing.T) string { return "tcp://127.0.0.1:*" }},
		{"ipc pub binds", true, func(t *testing.T) string { return ipcEndpoint(t, "s") }},
		{"ipc sub binds", false, func(t *testing.T) string { return ipcEndpoint(t, "s") }},
		{"inproc", true, func(*testing.T) string { return "inproc://roundtrip" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newContext(t)
			var pub, sub *Socket
			if tt.bindPub {
				pub = open(t, c, true, tt.addr(t), Options{})
				sub = open(t, c, false, pub.Endpoints()[0], Options{})
			} else {
				sub = open(t, c, false, "@"+tt.addr(t), Options{})
				pub = open(t, c, true, ">"+sub.Endpoints()[0], Options{})
			}
			if ep := pub.Endpoints()[0]; strings.HasSuffix(ep, ":0") || strings.HasSuffix(ep, ":*") {
				t.Fatalf("Endpoints = %q; want a resolved port", ep)
			}
			deliver(t, pub, sub, []byte("hello"))
			big := bytes.Repeat([]byte{0xab}, 3<<20)
			deliver(t, pub, sub, big)
			deliver(t, pub, sub, []byte{}) // an empty message is a message
		})
	}
}

func TestEndpointsResolved(t *testing.T) {
	c := newContext(t)
	pub := open(t, c, true, "tcp://127.0.0.1:0, @tcp://127.0.0.1:*, >tcp://127.0.0.1:9", Options{})
	eps := pub.Endpoints()
	if len(eps) != 3 || eps[0] == eps[1] || eps[2] != "tcp://127.0.0.1:9" {
		t.Fatalf("Endpoints = %q; want two distinct resolved binds and the connect", eps)
	}
	for _, ep := range eps[:2] {
		if !strings.HasPrefix(ep, "tcp://127.0.0.1:") || strings.HasSuffix(ep, ":0") {
			t.Errorf("endpoint %q not resolved", ep)
		}
	}
}

// TestSubscriberFirst starts the SUB before the PUB exists, then restarts
// the PUB on the same endpoint: the SUB reconnects on its own.
func TestSubscriberFirst(t *testing.T) {
	for _, transport := range []string{"ipc", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			c := newContext(t)
			addr := ipcEndpoint(t, "p")
			if transport == "tcp" {
				// Learn a free port, then release it for the real PUB.
				probe := open(t, c, true, "tcp://127.0.0.1:0", Options{})
				addr = probe.Endpoints()[0]
				probe.Close()
			}
			sub := open(t, c, false, addr, Options{})
			if _, err := sub.Recv(50 * time.Millisecond); !errors.Is(err, ErrTimeout) {
				t.Fatalf("Recv with no publisher = %v; want ErrTimeout", err)
			}
			pub := open(t, c, true, addr, Options{})
			deliver(t, pub, sub, []byte("first life"))
			if err := pub.Close(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the SUB to see the PUB go", func() bool { return sub.Dropped() >= 1 })
			pub2 := open(t, c, true, addr, Options{})
			drain(sub)
			deliver(t, pub2, sub, []byte("second life"))
		})
	}
}

func TestRecvTimeout(t *testing.T) {
	c := newContext(t)
	sub := open(t, c, false, "@"+ipcEndpoint(t, "t"), Options{})
	for _, d := range []time.Duration{0, 500 * time.Microsecond, 100 * time.Millisecond} {
		start := time.Now()
		_, err := sub.Recv(d)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("Recv(%v) = %v; want ErrTimeout", d, err)
		}
		if el := time.Since(start); el < d || el > d+2*time.Second {
			t.Errorf("Recv(%v) returned after %v", d, el)
		}
	}
}

// TestRecvWakes checks that a waiting Recv wakes when a message arrives,
// not when its wait slice (recvSlice, 100 ms) ends: a waiter in the
// netpoller that missed libzmq's edge-triggered signal would still get
// every message, each up to a slice late. 100 messages, each sent only
// after the one before was received, take well under a second when every
// wake-up comes, and at least 100 slices (10 s) when none does.
func TestRecvWakes(t *testing.T) {
	c := newContext(t)
	ep := ipcEndpoint(t, "w")
	pub := open(t, c, true, "@"+ep, Options{})
	sub := open(t, c, false, ">"+ep, Options{})
	deliver(t, pub, sub, []byte("hello"))
	const n = 100
	got := make(chan int, 1)
	go func() { // owns sub until it has received n messages or failed
		defer close(got)
		for i := range n {
			msg, err := sub.Recv(10 * time.Second)
			if err != nil || len(msg) != 1 || int(msg[0]) != i {
				return
			}
			got <- i
		}
	}()
	start := time.Now()
	for i := range n {
		time.Sleep(time.Millisecond) // so that Recv is waiting when it comes
		if err := pub.Send([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if j, ok := <-got; !ok || j != i {
			t.Fatalf("message %d not received (got %d, %v)", i, j, ok)
		}
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("%d messages took %v one at a time; wake-ups are missed", n, el)
	}
}

// TestMaxMsgSize sends a message over the SUB's limit: libzmq drops the
// connection rather than deliver it, Dropped counts that, the SUB
// reconnects, and a message under the limit still gets through.
func TestMaxMsgSize(t *testing.T) {
	tests := []struct {
		name     string
		subBinds bool
		host     string // the host the connecting side names
	}{
		{"sub connects", false, "127.0.0.1"},
		{"sub connects by name", false, "localhost"},
		{"sub binds", true, "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newContext(t)
			const limit = 1000
			var pub, sub *Socket
			if tt.subBinds {
				sub = open(t, c, false, "@tcp://127.0.0.1:0", Options{MaxMsgSize: limit})
				pub = open(t, c, true, ">"+sub.Endpoints()[0], Options{})
			} else {
				pub = open(t, c, true, "tcp://127.0.0.1:0", Options{})
				ep := strings.Replace(pub.Endpoints()[0], "127.0.0.1", tt.host, 1)
				sub = open(t, c, false, ep, Options{MaxMsgSize: limit})
			}
			deliver(t, pub, sub, bytes.Repeat([]byte("a"), limit))
			if d := sub.Dropped(); d != 0 {
				t.Fatalf("Dropped = %d before any oversized message", d)
			}
			// Twice: the second drop proves the first recovery was complete.
			for round := range 2 {
				before := sub.Dropped()
				if err := pub.Send(bytes.Repeat([]byte("b"), limit+1)); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "Dropped to move", func() bool { return sub.Dropped() > before })
				// Whatever arrives now must be small: the big one is gone,
				// and the connection comes back (libzmq abandons a connecting
				// socket's connection after this protocol error; the Socket
				// reconnects it).
				small := []byte(fmt.Sprintf("still alive %d", round))
				deadline := time.Now().Add(5 * time.Second)
				for {
					if err := pub.Send(small); err != nil {
						t.Fatal(err)
					}
					got, err := sub.Recv(20 * time.Millisecond)
					if err == nil {
						if len(got) > limit {
							t.Fatalf("received %d bytes, over the %d-byte limit", len(got), limit)
						}
						if bytes.Equal(got, small) {
							break
						}
						continue
					}
					if !errors.Is(err, ErrTimeout) || time.Now().After(deadline) {
						t.Fatalf("round %d: Recv after drop: %v", round, err)
					}
				}
				drain(sub)
			}
		})
	}
}

// TestEndpointList subscribes one SUB to two publishers, one over ipc and
// one over tcp.
func TestEndpointList(t *testing.T) {
	c := newContext(t)
	a := open(t, c, true, ipcEndpoint(t, "a"), Options{})
	b := open(t, c, true, "tcp://127.0.0.1:0", Options{})
	sub := open(t, c, false, a.Endpoints()[0]+", "+b.Endpoints()[0], Options{})
	deliver(t, a, sub, []byte("from a"))
	deliver(t, b, sub, []byte("from b"))
	if d := sub.Dropped(); d != 0 {
		t.Errorf("Dropped = %d with healthy peers", d)
	}
}

// TestCloseIsPrompt checks that Close does not wait for a monitor poll or
// the linger of an idle socket.
func TestCloseIsPrompt(t *testing.T) {
	c := newContext(t)
	for range 5 {
		s, err := c.Sub("@tcp://127.0.0.1:0", Options{})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el > 50*time.Millisecond {
			t.Errorf("Close took %v", el)
		}
	}
}

func TestWrongDirection(t *testing.T) {
	c := newContext(t)
	pub := open(t, c, true, "inproc://wrong", Options{})
	sub := open(t, c, false, "inproc://wrong", Options{})
	if _, err := pub.Recv(0); err == nil {
		t.Error("Recv on a PUB succeeded")
	}
	if err := sub.Send([]byte("x")); err == nil {
		t.Error("Send on a SUB succeeded")
	}
	sub.Close()
	if _, err := sub.Recv(0); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close = %v; want ErrClosed", err)
	}
	if err := sub.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	c := newContext(t)
	taken := open(t, c, true, "tcp://127.0.0.1:0", Options{})
	tests := []struct {
		name, endpoints string
	}{
		{"bad syntax", "localhost:5555"},
		{"missing dir", "ipc:///nonexistent-dir-bus-test/x"},
		{"port in use", taken.Endpoints()[0]},
		{"unknown host", "tcp://no-such-host.invalid:5555"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := c.Pub(tt.endpoints, Options{Linger: -1})
			if err == nil {
				s.Close()
				t.Fatalf("Pub(%q) succeeded", tt.endpoints)
			}
			if !strings.Contains(err.Error(), "bus:") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestParseEndpoints(t *testing.T) {
	long := "ipc:///" + strings.Repeat("x", maxIPCPath)
	tests := []struct {
		list        string
		defaultBind bool
		want        []Endpoint
		wantErr     string
	}{
		{"tcp://127.0.0.1:5555", true, []Endpoint{{"tcp://127.0.0.1:5555", true}}, ""},
		{"tcp://127.0.0.1:5555", false, []Endpoint{{"tcp://127.0.0.1:5555", false}}, ""},
		{"@tcp://*:5555, >ipc:///tmp/a ,inproc://x", false, []Endpoint{
			{"tcp://*:5555", true}, {"ipc:///tmp/a", false}, {"inproc://x", false}}, ""},
		{"@tcp://[::1]:0", false, []Endpoint{{"tcp://[::1]:0", true}}, ""},
		{"@ipc://*", false, []Endpoint{{"ipc://*", true}}, ""},
		{"", true, nil, "empty endpoint list"},
		{" , ", true, nil, "empty entry"},
		{"tcp://a:1,,tcp://b:2", true, nil, "empty entry"},
		{"127.0.0.1:5555", true, nil, "no transport"},
		{"://x", true, nil, "no transport"},
		{"udp://127.0.0.1:5555", true, nil, "unsupported transport"},
		{"tcp://127.0.0.1", true, nil, "want tcp://host:port"},
		{"tcp://:5555", true, nil, "no host"},
		{"tcp://127.0.0.1:http", true, nil, "port"},
		{"tcp://127.0.0.1:70000", true, nil, "port"},
		{">tcp://127.0.0.1:0", true, nil, "cannot connect to port 0"},
		{"tcp://*:5555", false, nil, "cannot connect to host"},
		{"ipc://", true, nil, "no path"},
		{">ipc://*", true, nil, "cannot connect"},
		{long, true, nil, "longer than"},
		{"inproc://", true, nil, "no name"},
	}
	for _, tt := range tests {
		got, err := ParseEndpoints(tt.list, tt.defaultBind)
		if tt.wantErr != "" {
			if !errors.Is(err, ErrBadEndpoint) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseEndpoints(%q) = %v, %v; want error containing %q", tt.list, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("ParseEndpoints(%q, %v) = %v, %v; want %v", tt.list, tt.defaultBind, got, err, tt.want)
		}
	}
	if s := (Endpoint{"tcp://a:1", true}).String(); s != "@tcp://a:1" {
		t.Errorf("String = %q", s)
	}
}

func TestMultipartDiscarded(t *testing.T) {
	zctx, err := NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Close()
	ep := "ipc://" + t.TempDir() + "/m"
	pub, err := zctx.Pub("@"+ep, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := zctx.Sub(">"+ep, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	// Until the subscription has propagated, messages are dropped: resend.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := pub.SendParts([]byte("a"), []byte("b"), []byte("c")); err != nil {
			t.Fatal(err)
		}
		_, err := sub.Recv(100 * time.Millisecond)
		if errors.Is(err, ErrMultipart) {
			break
		}
		if !errors.Is(err, ErrTimeout) || time.Now().After(deadline) {
			t.Fatalf("Recv of a 3-part message = %v; want ErrMultipart", err)
		}
	}
	// The socket is still usable, and the parts did not leak into later messages.
	for {
		if err := pub.Send([]byte("single")); err != nil {
			t.Fatal(err)
		}
		msg, err := sub.Recv(100 * time.Millisecond)
		if errors.Is(err, ErrMultipart) || errors.Is(err, ErrTimeout) {
			continue // queued copies of the earlier multi-part message
		}
		if err != nil || string(msg) != "single" {
			t.Fatalf("Recv after a multi-part message = %q, %v; want \"single\"", msg, err)
		}
		break
	}
}

func TestJoinsReportSubscribers(t *testing.T) {
	zctx, err := NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Close()
	ep := "ipc://" + t.TempDir() + "/j"
	pub, err := zctx.Pub("@"+ep, Options{Joins: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if n := pub.Joins(); n != 0 {
		t.Fatalf("Joins with no subscriber = %d; want 0", n)
	}
	joined := 0
	for i := range 2 {
		sub, err := zctx.Sub(">"+ep, Options{})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for joined < i+1 && time.Now().Before(deadline) {
			joined += pub.Joins()
			time.Sleep(10 * time.Millisecond)
		}
		if joined != i+1 {
			t.Fatalf("after %d subscribers connected, Joins counted %d", i+1, joined)
		}
		if err := pub.Send([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		if msg, err := sub.Recv(5 * time.Second); err != nil || string(msg) != "hello" {
			t.Fatalf("subscriber %d Recv = %q, %v", i, msg, err)
		}
		sub.Close()
	}
}

// TestRecvInto receives into one reused buffer: a message that fits lands
// in the buffer's memory, a larger one grows it, and each arrives whole.
func TestRecvInto(t *testing.T) {
	c := newContext(t)
	pub := open(t, c, true, "inproc://recvinto", Options{})
	sub := open(t, c, false, pub.Endpoints()[0], Options{})
	deliver(t, pub, sub, []byte("hello")) // subscription in place
	buf := make([]byte, 0, 64)
	for _, n := range []int{10, 64, 1000, 0, 700} {
		want := bytes.Repeat([]byte{byte(n)}, n)
		if err := pub.Send(want); err != nil {
			t.Fatal(err)
		}
		got, err := sub.RecvInto(buf, 5*time.Second)
		if err != nil {
			t.Fatalf("RecvInto (%d bytes): %v", n, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("RecvInto got %d bytes %.8x…; want %d bytes of %#x", len(got), got, n, byte(n))
		}
		if n <= cap(buf) && n > 0 && &got[:1][0] != &buf[:1][0] {
			t.Errorf("a %d-byte message did not land in the %d-byte buffer", n, cap(buf))
		}
		buf = got[:0]
	}
	if cap(buf) < 1000 {
		t.Errorf("buffer capacity %d after a 1000-byte message", cap(buf))
	}
	if _, _, err := recvInto(nil, nil, 0); err == nil {
		t.Error("recvInto(nil socket) succeeded")
	}
}

// TestSecondConnectionNotStarved: a SUB whose first connection always has a
// message queued still takes in a second connection made later, and its
// messages, within a few receives (libzmq processes such commands only
// every 100 receives otherwise): the supervisor's injector reaches a busy
// extractor at once.
func TestSecondConnectionNotStarved(t *testing.T) {
	c := newContext(t)
	busyAddr, lateAddr := ipcEndpoint(t, "busy"), ipcEndpoint(t, "late")
	busy := open(t, c, true, "@"+busyAddr, Options{HWM: 1000})
	sub := open(t, c, false, ">"+busyAddr+",>"+lateAddr, Options{HWM: 1000})
	deliver(t, busy, sub, []byte("hello"))
	drain(sub)
	for range 400 {
		if err := busy.Send([]byte("busy")); err != nil {
			t.Fatal(err)
		}
	}
	if m, err := sub.Recv(time.Second); err != nil || string(m) != "busy" {
		t.Fatalf("first busy message: %q, %v", m, err)
	}
	late := open(t, c, true, "@"+lateAddr, Options{HWM: 1000})
	stop := make(chan struct{})
	defer close(stop)
	go func() { // the injector: one message every 10 ms, dropped until the SUB has subscribed
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				_ = late.Send([]byte("late"))
			}
		}
	}()
	for i := 1; i <= 60; i++ {
		m, err := sub.Recv(time.Second)
		if err != nil {
			t.Fatalf("receive %d: %v", i, err)
		}
		if string(m) == "late" {
			t.Logf("the late connection's message came at receive %d", i)
			return
		}
		time.Sleep(10 * time.Millisecond) // a busy receiver: the injector gets ahead
	}
	t.Fatal("60 receives from the busy connection and none from the late one")
}
