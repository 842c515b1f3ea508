package supervisor

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// TestHeadlessLineUnacked: a stage's own state beyond running (a generator
// whose frames nobody acknowledges) and its reason reach the headless
// status lines, text and JSON, as do the frames that came without trailer.
func TestHeadlessLineUnacked(t *testing.T) {
	const reason = "8 frames in flight, none acknowledged for 10s: no logger acknowledges; " +
		"a seed-protocol logger? use --delivery best-effort for this chain"
	snap := Snapshot{Stages: []StageSnapshot{
		{Name: "generator", Kind: stage.Generator, State: StateRunning,
			Status: &wire.Status{State: wire.StateUnacked, StateReason: reason}},
		{Name: "logger", Kind: stage.Logger, State: StateRunning,
			Status: &wire.Status{State: wire.StateRunning, SeedFrames: 12}},
	}}
	for _, asJSON := range []bool{false, true} {
		var out bytes.Buffer
		h := &headless{o: HeadlessOptions{JSON: asJSON}, out: &out, start: time.Now(), fpsSum: map[string]float64{},
			fpsN: map[string]int{}, peakRSS: map[string]int64{}, remote: map[string]stage.Kind{}}
		h.statusLine(snap)
		line := out.String()
		if !asJSON {
			if !strings.Contains(line, "generator running 0.0fps q0 d0 e0 r0 unacked ("+reason+")") ||
				!strings.Contains(line, "logger running 0.0fps q0 d0 e0 r0 seed12 |") {
				t.Errorf("status line = %q; want the generator's unacked state with its reason, the logger's seed frames", line)
			}
			continue
		}
		var got struct {
			Stages []struct {
				Name, Reported, Reason string
				Seed                   uint64 `json:"seed_frames"`
			}
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil || len(got.Stages) != 2 {
			t.Fatalf("JSON line %q: %v", line, err)
		}
		if g, l := got.Stages[0], got.Stages[1]; g.Reported != wire.StateUnacked || g.Reason != reason || l.Reported != "" || l.Seed != 12 {
			t.Errorf("JSON stages = %+v; want the generator unacked with its reason, the logger's 12 seed frames", got.Stages)
		}
	}
}
