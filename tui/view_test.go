package tui

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/imaging-tui/imaging-tui/supervisor"
)

// checkFits fails unless view has at most h lines, none wider than w.
func checkFits(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) > h {
		t.Errorf("%d×%d: %d lines; want ≤ %d", w, h, len(lines), h)
	}
	for i, l := range lines {
		if lw := lipgloss.Width(l); lw > w {
			t.Errorf("%d×%d: line %d is %d wide: %q", w, h, i+1, lw, l)
		}
	}
}

func TestViewFits(t *testing.T) {
	sizes := [][2]int{{80, 24}, {160, 48}, {200, 50}, {100, 30}, {120, 40}, {60, 20}, {50, 16}, {30, 10}, {10, 5}, {1, 1}}
	snaps := map[string]supervisor.Snapshot{
		"five":  fixture(0),
		"ten":   bigFixture(),
		"empty": {At: t0},
	}
	styles := map[string]Styles{"ascii": asciiStyles(), "ansi256": colorStyles()}
	modes := map[string]func(m *model){
		"normal": func(*model) {},
		"menu":   func(m *model) { m.menu = true },
		"help":   func(m *model) { m.showHelp = true },
		"flash":  func(m *model) { m.setFlash(strings.Repeat("✗ a very long error ", 20), true) },
	}
	for sn, snap := range snaps {
		for stn, st := range styles {
			for mn, mode := range modes {
				for _, sz := range sizes {
					name := fmt.Sprintf("%s/%s/%s/%dx%d", sn, stn, mn, sz[0], sz[1])
					t.Run(name, func(t *testing.T) {
						m := newModel(context.Background(), newFake(snap), Options{Now: fixedNow, DBPath: "/var/lib/imaging-tui/a/rather/long/path/imaging.db"}, st)
						m, _ = update(t, m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
						m, _ = update(t, m, SnapshotMsg{Snapshot: snap, LogStage: "generator", Logs: []string{strings.Repeat("long log line \t\x1b[31mred\x1b[0m ", 30)}})
						mode(&m)
						checkFits(t, m.View(), sz[0], sz[1])
					})
				}
			}
		}
	}
}

// TestView80x24Lines is the brief's check on its own: every line of the
// 80×24 screen fits, and there are at most 24 of them, in every mode.
func TestView80x24Lines(t *testing.T) {
	m := loaded(t, newFake(fixture(0)))
	for _, k := range []string{"", "j", "f", "esc", "?"} {
		if k != "" {
			m, _ = update(t, m, keyMsg(k))
		}
		v := m.View()
		lines := strings.Split(v, "\n")
		if len(lines) > 24 {
			t.Fatalf("after %q: %d lines", k, len(lines))
		}
		for i, l := range lines {
			if lipgloss.Width(l) > 80 {
				t.Fatalf("after %q: line %d is %d wide: %q", k, i+1, lipgloss.Width(l), l)
			}
		}
	}
}

// goldenRun drives the real program (teatest) at w×h over the fixture:
// two snapshots a second apart, then j (select extractor-0), r (restart)
// and y (confirm), and compares the final screen with testdata/<test>.golden.
func goldenRun(t *testing.T, w, h int, keys ...string) {
	f := newFake(fixture(-time.Second), fixture(0))
	m := newTestModel(f, Options{})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	t.Cleanup(func() { _ = tm.Quit() })

	// Three samples taken means the second was handled (the third is
	// scheduled only then); later ones repeat it and change nothing.
	deadline := time.Now().Add(10 * time.Second)
	for f.snapshotCalls() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d snapshots taken in 10s", f.snapshotCalls())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, k := range keys {
		tm.Send(keyMsg(k))
	}
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return bytes.Contains(b, []byte("✓ restart extractor-0")) &&
			bytes.Contains(b, []byte("seq=1039 extractor-0"))
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second))
	view := fm.View()
	checkFits(t, view, w, h)
	if got := f.commands(); !slices.Equal(got, []string{"Restart extractor-0"}) {
		t.Fatalf("calls = %q; want the restart", got)
	}
	golden.RequireEqual(t, []byte(view))
}

func TestGolden80x24(t *testing.T)  { goldenRun(t, 80, 24, "j", "r", "y") }
func TestGolden120x40(t *testing.T) { goldenRun(t, 120, 40, "j", "r", "y") }
func TestGolden160x48(t *testing.T) { goldenRun(t, 160, 48, "j", "r", "y") }

// TestGoldenFaultMenu80x24 and TestGoldenHelp80x24 pin the two overlays.
func TestGoldenFaultMenu80x24(t *testing.T) {
	m := loaded(t, newFake(fixture(0)))
	m, _ = update(t, m, keyMsg("j"))
	m, _ = update(t, m, keyMsg("f"))
	golden.RequireEqual(t, []byte(m.View()))
}

func TestGoldenHelp80x24(t *testing.T) {
	m := loaded(t, newFake(fixture(0)))
	m, _ = update(t, m, keyMsg("?"))
	golden.RequireEqual(t, []byte(m.View()))
}

// TestFullHelpGroupsOnWideScreens: a terminal with room shows the keys in
// their groups, one group a column.
func TestFullHelpGroupsOnWideScreens(t *testing.T) {
	m := loaded(t, newFake(fixture(0)))
	m, _ = update(t, m, tea.WindowSizeMsg{Width: 200, Height: 50})
	m, _ = update(t, m, keyMsg("?"))
	v := m.View()
	found := false
	for _, line := range strings.Split(v, "\n") {
		// The first row of each group: navigation, stage commands, ...
		if strings.Contains(line, "previous stage") && strings.Contains(line, "filter the log") &&
			strings.Contains(line, "start stage") && strings.Contains(line, "fault menu") {
			found = true
		}
	}
	if !found {
		t.Fatalf("at 200×50 the full help is not in its groups:\n%s", v)
	}
}

// viewAt is the fixture's view at w×h after keys, each handled as typed.
func viewAt(t *testing.T, w, h int, logs int, keys ...string) (model, string) {
	t.Helper()
	f := newFake(fixture(0))
	if logs > 0 {
		f.nLines = logs
	}
	m := loaded(t, f)
	m, _ = update(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	for _, k := range keys {
		var cmd tea.Cmd
		m, cmd = update(t, m, keyMsg(k))
		for _, msg := range run(t, cmd) {
			if lm, ok := msg.(LogsMsg); ok {
				m, _ = update(t, m, lm)
			}
		}
	}
	v := m.View()
	checkFits(t, v, w, h)
	return m, v
}

// The detail view of extractor-0: its processes with their causes, the
// restarts by cause, its faults, the whole last error with its time.
func TestGoldenDetail(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			_, v := viewAt(t, sz[0], sz[1], 0, "j", "enter")
			for _, want := range []string{"extractor-0 · extractor", "1 after a crash, 1 by the operator", "esc back"} {
				if !strings.Contains(v, want) {
					t.Errorf("detail view lacks %q:\n%s", want, v)
				}
			}
			golden.RequireEqual(t, []byte(v))
		})
	}
}

// The log pane filtered to one frame's lines.
func TestGoldenFilteredLog(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			keys := append([]string{"/"}, strings.Split("seq=103", "")...)
			keys = append(keys, "enter", "N")
			m, v := viewAt(t, sz[0], sz[1], 0, keys...)
			if m.filter != "seq=103" || m.match != 1 {
				t.Fatalf("filter %q match %d; want seq=103 and the second newest", m.filter, m.match)
			}
			for _, l := range m.shownLogs() {
				if !strings.Contains(l, "seq=103") {
					t.Errorf("shown line %q does not match the filter", l)
				}
			}
			if !strings.Contains(v, "/seq=103 (") {
				t.Errorf("log title does not show the filter:\n%s", v)
			}
			golden.RequireEqual(t, []byte(v))
		})
	}
}

// A destructive key asks first; y runs it, any other key cancels.
func TestGoldenConfirm(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			m, v := viewAt(t, sz[0], sz[1], 0, "j", "K")
			if m.confirm == nil || !strings.Contains(v, "kill -9 extractor-0") || !strings.Contains(v, "? y/n") {
				t.Fatalf("K did not ask:\n%s", v)
			}
			golden.RequireEqual(t, []byte(v))
		})
	}
}
