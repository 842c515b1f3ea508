package tui

import (
	"strings"
	"testing"

	"github.com/imaging-tui/imaging-tui/wire"
)

const unackedReason = "8 frames in flight, none acknowledged for 10s: no logger acknowledges; " +
	"a seed-protocol logger? use --delivery best-effort for this chain"

// TestUnackedShown: a generator whose frames nobody acknowledges shows the
// unacked state in its box, and why in the details and the table.
func TestUnackedShown(t *testing.T) {
	s := fixture(0)
	st := *s.Stages[0].Status
	st.State, st.StateReason = wire.StateUnacked, unackedReason
	s.Stages[0].Status = &st
	m := newTestModel(newFake(s), Options{})
	m, _ = update(t, m, SnapshotMsg{Snapshot: s})
	if got := displayState(m.snap.Stages[0]); got != wire.StateUnacked {
		t.Fatalf("displayState = %q; want unacked", got)
	}
	v := m.View()
	if !strings.Contains(v, "● unacked") || !strings.Contains(v, "2/5 running") {
		t.Errorf("unacked generator not shown as such, or counted as running:\n%s", v)
	}
	if d := m.viewDetail(400); !strings.Contains(d, "unacked: "+unackedReason) {
		t.Errorf("details = %q; want the reason and hint", d)
	}
	var row string
	for _, l := range m.viewTable(400) {
		if strings.Contains(l, "generator") {
			row = l
		}
	}
	if !strings.Contains(row, "no logger acknowledges") || strings.Contains(row, "decode: jpeg") {
		t.Errorf("generator row = %q; want the reason in the last error column", row)
	}
}

// TestSeedLinkMarked: the link into a stage that receives frames without
// our trailer is marked as passing through a seed stage, and only that one.
func TestSeedLinkMarked(t *testing.T) {
	s := fixture(0)
	lg := *s.Stages[4].Status
	lg.SeedFrames = 1180
	s.Stages[4].Status = &lg
	m := loaded(t, newFake(s))
	m, _ = update(t, m, SnapshotMsg{Snapshot: s})
	links := m.viewInfo(200)[1]
	want := "extractor → logger 0.25 MB/s via seed stage (1,180 without trailer)"
	if !strings.Contains(links, want) || strings.Count(links, "seed") != 1 {
		t.Errorf("links = %q; want %q, and no other link marked", links, want)
	}
	if short := m.viewInfo(60)[1]; !strings.Contains(short, "ext→log 0.25 MB/s via seed") {
		t.Errorf("narrow links = %q; want the short mark", short)
	}
	if plain := loaded(t, newFake(fixture(0))).viewInfo(200)[1]; strings.Contains(plain, "seed") {
		t.Errorf("links without seed frames = %q; want no mark", plain)
	}
}
