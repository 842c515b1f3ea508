package supervisor

import (
	"context"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// fillPastRetention stores n small frames of an earlier stream in a new
// database at path: a database that, as after a long demo, is past the
// retention of the run about to use it.
func fillPastRetention(t *testing.T, path string, n int) {
	t.Helper()
	d, err := db.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	kp := make([]db.Keypoint, 50)
	desc := make([]float32, len(kp)*128)
	for i := 1; i <= n; i++ {
		f := &db.Frame{StreamID: 99, Seq: uint64(i), Timestamp: int64(i), Filename: "earlier.png", Width: 8, Height: 8,
			Channels: 1, Image: []byte("not decoded: a stored frame's bytes"), Keypoints: kp, Descriptors: desc,
			ReceivedAt: time.Now()}
		if _, _, err := d.Store(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDemoAfterRetention is `just demo-headless` after `just demo`, shortened:
// on a database already past its retention (which then deletes frames as
// the run stores them), the demo's chaos script — an extractor killed, the
// logger paused, resumed and killed, then restart-all — loses nothing, and
// the drain of restart-all ends promptly: within the floor of the
// generator's resend timeout (10 s), so no frame had to wait for one.
func TestDemoAfterRetention(t *testing.T) {
	dir := shortTempDir(t)
	cfg := realConfig(t, dir)
	cfg.Delivery = stage.Reliable
	cfg.RetainFrames = 12
	fillPastRetention(t, cfg.DB, 30)
	const runFor = 24 * time.Second
	sup, sum := mustRunHeadless(t, dir, cfg, HeadlessOptions{
		For:   runFor,
		Chaos: "3s kill extractor; 6s pause logger; 8s resume logger; 10s kill logger; 14s restart-all",
	})
	if sum.Lost != 0 || sum.InFlight != 0 || sum.RetainedAway == 0 {
		t.Errorf("lost %d, in flight %d, retained away %d; want 0, 0 and retention at work", sum.Lost, sum.InFlight, sum.RetainedAway)
	}
	// restart-all stops the generator first, which drains; the other
	// stages stop after it, and all start again.
	var begun, restarted time.Time
	for _, e := range sup.Snapshot().Events {
		switch {
		case e.Kind == stage.EventRestart && e.Stage == "" && begun.IsZero():
			begun = e.At
		case e.Kind == stage.EventStart && e.Stage == "generator" && !begun.IsZero() && restarted.IsZero():
			restarted = e.At
		}
	}
	if begun.IsZero() || restarted.IsZero() {
		t.Fatalf("no restart-all followed by a generator start in the events")
	}
	if d := restarted.Sub(begun); d >= 10*time.Second {
		dumpLogs(t, dir)
		t.Errorf("restart-all took %v to start the generator again; a drain that waits for a resend timeout takes 10 s or more", d.Round(time.Millisecond))
	}
	if over := time.Duration(sum.Seconds*float64(time.Second)) - runFor; over >= 10*time.Second {
		t.Errorf("the run overran --for by %v: its last drain waited for a resend timeout", over.Round(time.Millisecond))
	}
}
