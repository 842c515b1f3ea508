package supervisor

import (
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// TestBlockedEvent: a stage reporting itself blocked makes one event with
// its reason, however many reports say so, and one when it runs again.
func TestBlockedEvent(t *testing.T) {
	sup, err := New(Config{RunDir: t.TempDir(), Transport: bus.NewTransport()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	report := func(state, reason string) {
		b, err := json.Marshal(wire.Status{Stage: string(stage.Logger), Instance: "logger-far", PID: 42,
			State: state, StateReason: reason, TS: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		sup.handleStatus(b, time.Now())
	}
	report(wire.StateRunning, "")
	report(wire.StateBlocked, "disk full: 0.0 MB free on /mnt/x; waiting")
	report(wire.StateBlocked, "disk full: 0.1 MB free on /mnt/x; waiting")
	report(wire.StateRunning, "")
	report(wire.StateRunning, "")
	var got []string
	for _, e := range sup.Snapshot().Events {
		if e.Kind == stage.EventBlocked {
			got = append(got, e.Stage+": "+e.Text)
		}
	}
	want := []string{"logger-far: disk full: 0.0 MB free on /mnt/x; waiting", "logger-far: running again"}
	if !slices.Equal(got, want) {
		t.Errorf("blocked events %q; want %q", got, want)
	}
}
