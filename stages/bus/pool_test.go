package bus

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestRouterDealer: a Dealer's message reaches the Router with the peer's
// id, the Router's reply reaches that Dealer, a reply to an unknown peer is
// ErrNoPeer, a Dealer with no peer does not block, and Wake ends a wait at
// once.
func TestRouterDealer(t *testing.T) {
	ctx := securedContext(t, nil)
	defer ctx.Close()
	r, err := ctx.Router("@tcp://127.0.0.1:0", Options{MaxMsgSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d, err := ctx.Dealer(r.Endpoints()[0], Options{Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	id, msg := routerRecv(t, r, d, []byte("ready"))
	if string(msg) != "ready" {
		t.Fatalf("router received %q; want ready", msg)
	}
	if err := r.SendTo(id, []byte("frame")); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Recv(5 * time.Second); err != nil || string(got) != "frame" {
		t.Fatalf("dealer received %q, %v; want frame", got, err)
	}
	if err := r.SendTo([]byte("nobody"), []byte("frame")); !errors.Is(err, ErrNoPeer) {
		t.Errorf("SendTo an unknown peer = %v; want ErrNoPeer", err)
	}
	// Larger than MaxMsgSize: the dealer is cut off, the router gets nothing.
	_ = d.Send(bytes.Repeat([]byte{1}, 100))
	if _, _, err := r.RecvFrom(nil, 300*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Errorf("router received a message over its MaxMsgSize: %v", err)
	}

	lone, err := ctx.Dealer(">tcp://127.0.0.1:1", Options{Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer lone.Close()
	if err := lone.Send([]byte("ready")); !errors.Is(err, ErrNoPeer) {
		t.Errorf("Send with no peer = %v; want ErrNoPeer at once", err)
	}
	done := make(chan time.Duration)
	go func() {
		t0 := time.Now()
		_, err := lone.Recv(time.Minute)
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("woken Recv = %v; want ErrTimeout", err)
		}
		done <- time.Since(t0)
	}()
	time.Sleep(100 * time.Millisecond)
	lone.Wake()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Wake did not end a Recv of a minute")
	}
}

// routerRecv sends msg on d until r receives it (the connection is made in
// the background) and returns what r received.
func routerRecv(t *testing.T, r, d *Socket, msg []byte) (id, got []byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_ = d.Send(msg)
		if id, got, err := r.RecvFrom(nil, 100*time.Millisecond); err == nil {
			return id, got
		}
	}
	t.Fatal("the router received nothing")
	return nil, nil
}

// TestCurveWorkPool: a CURVE Router takes messages from a Dealer with an
// allowed key only.
func TestCurveWorkPool(t *testing.T) {
	server, good, stranger := newKeypair(t), newKeypair(t), newKeypair(t)
	sctx := securedContext(t, &Security{Key: server, Peers: []string{good.Public}})
	r, err := sctx.Router("@tcp://127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := ">" + r.Endpoints()[0]
	var socks []*Socket
	var ctxs []*Context
	for _, sec := range []*Security{{Key: good, ServerKey: server.Public}, {Key: stranger, ServerKey: server.Public}, nil} {
		c := securedContext(t, sec)
		d, err := c.Dealer(addr, Options{Linger: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctxs, socks = append(ctxs, c), append(socks, d)
	}
	names := []string{"allowed", "not allowed", "no key"}
	from := map[string]bool{}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && (len(from) == 0 || r.Refused() < 2) {
		for i, d := range socks {
			_ = d.Send([]byte(names[i]))
		}
		for {
			_, msg, err := r.RecvFrom(nil, 20*time.Millisecond)
			if err != nil {
				break
			}
			from[string(msg)] = true
		}
	}
	if !from["allowed"] || from["not allowed"] || from["no key"] {
		t.Errorf("router received from %v; want the allowed dealer only", from)
	}
	if r.Refused() < 2 {
		t.Errorf("Refused() = %d; want >= 2", r.Refused())
	}
	for _, s := range socks {
		s.Close()
	}
	r.Close()
	for _, c := range append(ctxs, sctx) {
		c.Close()
	}
}
