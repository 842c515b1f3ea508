package stages

import (
	"log/slog"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/wire"
)

// TestPoolPeers: credit is what a peer wants less what is on its way; a
// peer silent for peerSilence is forgotten, but not for time the generator
// itself did not run; a peer back after being forgotten starts with nothing
// on its way.
func TestPoolPeers(t *testing.T) {
	p := newWorkPool(nil, &counters{}, &limiter{}, slog.New(slog.DiscardHandler))
	t0 := time.Now()
	p.expire(t0)
	p.onReady("a", &wire.Ready{Session: 1, Want: 3, Got: 10}, t0)
	a := p.peers["a"]
	if c := a.credit(); c != 3 {
		t.Fatalf("credit %d; want 3 (nothing sent yet)", c)
	}
	a.sent += 2 // two frames on their way
	if c := a.credit(); c != 1 {
		t.Errorf("credit %d with 2 in transit; want 1", c)
	}
	p.onReady("a", &wire.Ready{Session: 1, Want: 1, Got: 12}, t0) // both arrived, two workers busy
	if c := a.credit(); c != 1 {
		t.Errorf("credit %d after they arrived; want 1", c)
	}
	if p.free() != a {
		t.Error("free() did not return the peer with credit")
	}
	// Checked every so often: silent for peerSilence, it is gone.
	for at := t0; at.Before(t0.Add(peerSilence - readyInterval)); at = at.Add(readyInterval) {
		if gone := p.expire(at); len(gone) > 0 {
			t.Fatalf("expired after %v", at.Sub(t0))
		}
	}
	// A generator stopped for a minute: the peer's READYs wait unread.
	if gone := p.expire(t0.Add(time.Minute)); len(gone) > 0 {
		t.Fatalf("expired %v after the generator's own pause", gone)
	}
	var gone []string
	for at := t0.Add(time.Minute); len(gone) == 0 && at.Before(t0.Add(time.Minute+2*peerSilence)); at = at.Add(readyInterval) {
		gone = p.expire(at)
	}
	if len(gone) != 1 || gone[0] != "a" || p.live() {
		t.Fatalf("expired %v, live %v; want a gone", gone, p.live())
	}
	p.onReady("a", &wire.Ready{Session: 1, Want: 2, Got: 40}, t0.Add(2*time.Minute))
	if c := p.peers["a"].credit(); c != 2 {
		t.Errorf("credit of a peer back %d; want 2", c)
	}
}
