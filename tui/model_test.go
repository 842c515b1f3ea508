package tui

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
)

func TestInitSamplesTheSupervisor(t *testing.T) {
	f := newFake(fixture(0))
	m := newTestModel(f, Options{})
	msgs := run(t, m.Init())
	if len(msgs) != 1 {
		t.Fatalf("Init() gave %d messages; want 1", len(msgs))
	}
	sm, ok := msgs[0].(SnapshotMsg)
	if !ok {
		t.Fatalf("Init() gave %T; want SnapshotMsg", msgs[0])
	}
	if got := len(sm.Snapshot.Stages); got != 5 || sm.LogStage != "generator" || len(sm.Logs) != 40 {
		t.Fatalf("SnapshotMsg: %d stages, logs of %q (%d); want 5, generator (40)", got, sm.LogStage, len(sm.Logs))
	}
	if want := []string{"Snapshot", "Logs generator 500"}; !reflect.DeepEqual(f.calls, want) {
		t.Fatalf("calls = %q; want %q", f.calls, want)
	}

	// The loop's snapshot re-arms the tick; one sent from elsewhere does not,
	// so there is never more than one sample in flight.
	m, cmd := update(t, m, sm)
	if cmd == nil {
		t.Fatal("Update(loop SnapshotMsg) = nil command; want the next tick")
	}
	if m.selected != "generator" || len(m.logs) != 40 {
		t.Fatalf("after snapshot: selected %q, %d log lines; want generator, 40", m.selected, len(m.logs))
	}
	if _, cmd := update(t, m, SnapshotMsg{Snapshot: fixture(0)}); cmd != nil {
		t.Fatal("Update(SnapshotMsg from a test) issued a command; want none")
	}
}

func TestStageCommands(t *testing.T) {
	tests := []struct {
		key    string
		wantOp string
		want   string // the controller call
	}{
		{"s", "start extractor-0", "Start extractor-0"},
		{"x", "stop extractor-0", "Stop extractor-0"},
		{"K", "kill -9 extractor-0", "Kill extractor-0"},
		{"9", "kill -9 extractor-0", "Kill extractor-0"},
		{"r", "restart extractor-0", "Restart extractor-0"},
		{"p", "pause extractor-0", "Pause extractor-0"},
		{"[", "move up extractor-0", "MoveUp extractor-0"},
		{"shift+up", "move up extractor-0", "MoveUp extractor-0"},
		{"]", "move down extractor-0", "MoveDown extractor-0"},
		{"shift+down", "move down extractor-0", "MoveDown extractor-0"},
		{"R", "restart all", "RestartAll"},
		{"+", "scale +1", "Scale +1"},
		{"=", "scale +1", "Scale +1"},
		{"-", "scale -1", "Scale -1"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			f := newFake(fixture(0))
			m := loaded(t, f)
			m.noConfirm = true // TestConfirmation asks
			m, _ = update(t, m, keyMsg("j"))
			if m.selected != "extractor-0" {
				t.Fatalf("after j: selected %q; want extractor-0", m.selected)
			}
			m, cmd := update(t, m, keyMsg(tt.key))
			if got := f.commands(); len(got) != 0 {
				t.Fatalf("Update(%q) called the controller itself: %q", tt.key, got)
			}
			if !strings.Contains(m.flash, "…") {
				t.Errorf("flash while %q runs = %q; want a pending note", tt.key, m.flash)
			}
			msgs := run(t, cmd)
			if got := f.commands(); !reflect.DeepEqual(got, []string{tt.want}) {
				t.Fatalf("key %q: calls = %q; want [%q]", tt.key, got, tt.want)
			}
			if len(msgs) != 1 {
				t.Fatalf("key %q: %d messages; want 1", tt.key, len(msgs))
			}
			res, ok := msgs[0].(CommandResultMsg)
			if !ok {
				t.Fatalf("key %q: message %T; want CommandResultMsg", tt.key, msgs[0])
			}
			if got := strings.TrimSpace(res.Op + " " + res.Stage); got != tt.wantOp {
				t.Errorf("key %q: result %q; want %q", tt.key, got, tt.wantOp)
			}
			m, _ = update(t, m, res)
			if want := "✓ " + tt.wantOp; m.flash != want || m.flashErr {
				t.Errorf("flash = %q (err %v); want %q", m.flash, m.flashErr, want)
			}
			if !strings.Contains(m.View(), "✓ "+tt.wantOp) {
				t.Errorf("view does not show the flash %q", "✓ "+tt.wantOp)
			}
		})
	}
}

func TestPauseTogglesResume(t *testing.T) {
	f := newFake(fixture(0))
	m := loaded(t, f)
	for range 3 {
		m, _ = update(t, m, keyMsg("down"))
	}
	if m.selected != "extractor-2" {
		t.Fatalf("selected %q; want extractor-2 (paused)", m.selected)
	}
	_, cmd := update(t, m, keyMsg("p"))
	run(t, cmd)
	if got, want := f.commands(), []string{"Resume extractor-2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("p on a paused stage: calls %q; want %q", got, want)
	}
}

func TestCommandFailureFlashes(t *testing.T) {
	f := newFake(fixture(0))
	f.err = errors.New("no such stage")
	m := loaded(t, f)
	m.noConfirm = true
	m, cmd := update(t, m, keyMsg("r"))
	for _, msg := range run(t, cmd) {
		m, _ = update(t, m, msg)
	}
	want := "✗ restart generator: no such stage"
	if m.flash != want || !m.flashErr {
		t.Fatalf("flash = %q (err %v); want %q (err)", m.flash, m.flashErr, want)
	}
	if !strings.Contains(m.View(), want) {
		t.Fatalf("view lacks %q:\n%s", want, m.View())
	}
	// The flash fades: later, the selected stage's details are back.
	m.now = func() time.Time { return t0.Add(flashFor) }
	if v := m.View(); strings.Contains(v, want) || !strings.Contains(v, "▸ generator") {
		t.Fatalf("after %s the flash is still shown or the details are missing:\n%s", flashFor, v)
	}
}

func TestNoStageSelected(t *testing.T) {
	f := newFake(supervisor.Snapshot{})
	m := newTestModel(f, Options{})
	for _, k := range []string{"s", "x", "K", "r", "p", "[", "]", "f"} {
		var cmd tea.Cmd
		m, cmd = update(t, m, keyMsg(k))
		if cmd != nil {
			run(t, cmd)
		}
		if m.menu {
			t.Fatalf("key %q opened the fault menu with no stage", k)
		}
		if !m.flashErr || !strings.Contains(m.flash, "no stage selected") {
			t.Errorf("key %q: flash %q; want a no-stage error", k, m.flash)
		}
	}
	if got := f.commands(); len(got) != 0 {
		t.Fatalf("calls with no stage: %q", got)
	}
	if v := m.View(); !strings.Contains(v, "waiting for the supervisor") {
		t.Fatalf("view before any snapshot:\n%s", v)
	}
}

func TestFaultMenu(t *testing.T) {
	for i, fault := range stage.AllFaults {
		k := strconv.Itoa(i + 1)
		t.Run(k+"_"+string(fault), func(t *testing.T) {
			f := newFake(fixture(0))
			m := loaded(t, f)
			m.noConfirm = true
			m, _ = update(t, m, keyMsg("j"))
			m, cmd := update(t, m, keyMsg("f"))
			if !m.menu || cmd != nil {
				t.Fatalf("f: menu %v, cmd %v; want open, no command", m.menu, cmd != nil)
			}
			v := m.View()
			for _, fl := range stage.AllFaults {
				if !strings.Contains(v, string(fl)) || !strings.Contains(v, faultInfo(fl)) {
					t.Errorf("fault menu lacks %q:\n%s", fl, v)
				}
			}
			if !strings.Contains(v, "1-8 inject / clear") {
				t.Errorf("help bar does not follow the menu:\n%s", v)
			}
			m, cmd = update(t, m, keyMsg(k))
			if m.menu {
				t.Error("menu still open after choosing a fault")
			}
			run(t, cmd)
			want := "Inject extractor-0 " + string(fault)
			if got := f.commands(); !reflect.DeepEqual(got, []string{want}) {
				t.Fatalf("key %s in the menu: calls %q; want [%q]", k, got, want)
			}
		})
	}

	t.Run("close", func(t *testing.T) {
		f := newFake(fixture(0))
		m := loaded(t, f)
		for _, closer := range []string{"esc", "f"} {
			m, _ = update(t, m, keyMsg("f"))
			// Keys that mean something else outside the menu do nothing in it.
			for _, k := range []string{"9", "r", "s"} {
				var cmd tea.Cmd
				m, cmd = update(t, m, keyMsg(k))
				if cmd != nil || !m.menu {
					t.Fatalf("key %q in the menu: cmd %v, menu %v", k, cmd != nil, m.menu)
				}
			}
			m, _ = update(t, m, keyMsg(closer))
			if m.menu {
				t.Fatalf("%q did not close the menu", closer)
			}
		}
		if got := f.commands(); len(got) != 0 {
			t.Fatalf("calls = %q; want none", got)
		}
	})

	t.Run("shows active faults", func(t *testing.T) {
		m := loaded(t, newFake(fixture(0)))
		m, _ = update(t, m, keyMsg("j"))
		m, _ = update(t, m, keyMsg("f"))
		found := false
		for _, line := range strings.Split(m.View(), "\n") {
			switch {
			case strings.Contains(line, faultInfo(stage.FaultSlow)):
				found = true
				if !strings.Contains(line, " on ") {
					t.Errorf("active fault slow not marked: %q", line)
				}
			case strings.Contains(line, faultInfo(stage.FaultKill)):
				if strings.Contains(line, " on ") {
					t.Errorf("inactive fault kill marked: %q", line)
				}
			}
		}
		if !found {
			t.Fatal("no menu line for slow")
		}
	})
}

func TestSelection(t *testing.T) {
	f := newFake(fixture(0))
	m := loaded(t, f)
	steps := []struct {
		key, want string
	}{
		{"k", "generator"}, // clamped at the top
		{"j", "extractor-0"},
		{"down", "extractor-1"},
		{"up", "extractor-0"},
		{"j", "extractor-1"}, {"j", "extractor-2"}, {"j", "logger"},
		{"j", "logger"}, // clamped at the bottom
	}
	for _, s := range steps {
		prev := m.selected
		var cmd tea.Cmd
		m, cmd = update(t, m, keyMsg(s.key))
		if m.selected != s.want {
			t.Fatalf("%q from %s: selected %q; want %q", s.key, prev, m.selected, s.want)
		}
		if prev != s.want {
			// A new selection fetches its log lines at once.
			msgs := run(t, cmd)
			if len(msgs) != 1 {
				t.Fatalf("%q: %d messages; want the log fetch", s.key, len(msgs))
			}
			lm, ok := msgs[0].(LogsMsg)
			if !ok || lm.Stage != s.want {
				t.Fatalf("%q: message %#v; want LogsMsg for %s", s.key, msgs[0], s.want)
			}
			m, _ = update(t, m, lm)
			if m.logsFor != s.want || len(m.logs) != 40 {
				t.Fatalf("logs for %q (%d); want %s", m.logsFor, len(m.logs), s.want)
			}
		} else if cmd != nil {
			t.Fatalf("%q at the edge issued a command", s.key)
		}
	}

	// Stale log lines of another stage are ignored.
	m, _ = update(t, m, LogsMsg{Stage: "generator", Lines: []string{"x"}})
	if m.logsFor != "logger" {
		t.Fatalf("logs of generator replaced the selected logger's")
	}

	// The stages are listed as the data flows, whatever the start order:
	// the selection stays on the stage, in its place...
	s := fixture(0)
	s.Stages = append([]supervisor.StageSnapshot{s.Stages[4]}, s.Stages[:4]...)
	m, _ = update(t, m, SnapshotMsg{Snapshot: s})
	if m.selected != "logger" || m.selIdx != 4 {
		t.Fatalf("after moving logger first: selected %q at %d; want logger at 4, last as the data flows", m.selected, m.selIdx)
	}
	// ...and stays near its place when the stage goes away.
	m, _ = update(t, m, keyMsg("k"))
	m, _ = update(t, m, keyMsg("k")) // extractor-1, index 2
	s.Stages = append(s.Stages[:3:3], s.Stages[4:]...)
	m, _ = update(t, m, SnapshotMsg{Snapshot: s})
	if m.selected != "extractor-2" || m.selIdx != 2 {
		t.Fatalf("after extractor-1 went away: selected %q at %d; want extractor-2 at 2", m.selected, m.selIdx)
	}
}

func TestHelpToggle(t *testing.T) {
	m := loaded(t, newFake(fixture(0)))
	m, _ = update(t, m, keyMsg("?"))
	if !m.showHelp {
		t.Fatal("? did not open the full help")
	}
	v := m.View()
	km := DefaultKeyMap()
	for _, g := range km.FullHelp() {
		for _, b := range g {
			h := b.Help()
			if !strings.Contains(v, h.Key) || !strings.Contains(v, h.Desc) {
				t.Errorf("full help at 80×24 lacks %q %q:\n%s", h.Key, h.Desc, v)
			}
		}
	}
	m, _ = update(t, m, keyMsg("?"))
	if m.showHelp {
		t.Fatal("? did not close the full help")
	}
	m, _ = update(t, m, keyMsg("?"))
	m, _ = update(t, m, keyMsg("esc"))
	if m.showHelp {
		t.Fatal("esc did not close the full help")
	}
}

// TestEveryKeyBound checks that the key map has no two commands on one key.
func TestEveryKeyBound(t *testing.T) {
	km := DefaultKeyMap()
	seen := map[string]string{}
	for _, g := range km.FullHelp()[:3] {
		for _, b := range g {
			for _, k := range b.Keys() {
				if other, dup := seen[k]; dup {
					t.Errorf("key %q bound to %q and %q", k, other, b.Help().Desc)
				}
				seen[k] = b.Help().Desc
			}
		}
	}
	for _, b := range []int{0, 4} {
		for _, kb := range km.FullHelp()[b] {
			if len(kb.Keys()) == 0 {
				t.Errorf("binding %q has no keys", kb.Help().Desc)
			}
		}
	}
	if len(km.Fault) != min(9, len(stage.AllFaults)) {
		t.Fatalf("%d fault keys for %d faults", len(km.Fault), len(stage.AllFaults))
	}
}

func TestQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		for _, menu := range []bool{false, true} {
			m := loaded(t, newFake(fixture(0)))
			m.menu = menu
			next, cmd := update(t, m, keyMsg(k))
			if k == "q" && !m.noConfirm { // q asks first; ctrl+c never does
				if cmd != nil {
					t.Fatalf("q (menu %v) acted before y", menu)
				}
				_, cmd = update(t, next, keyMsg("y"))
			}
			if cmd == nil {
				t.Fatalf("%q (menu %v): no command; want quit", k, menu)
			}
			if _, ok := cmd().(tea.QuitMsg); !ok {
				t.Fatalf("%q (menu %v): command gives %T; want tea.QuitMsg", k, menu, cmd())
			}
		}
	}
}

func TestResize(t *testing.T) {
	m := loaded(t, newFake(fixture(0)))
	m, cmd := update(t, m, tea.WindowSizeMsg{Width: 160, Height: 48})
	if cmd != nil {
		t.Fatal("resize issued a command")
	}
	if m.width != 160 || m.height != 48 || m.help.Width != 160 {
		t.Fatalf("after resize: %d×%d, help %d; want 160×48", m.width, m.height, m.help.Width)
	}
	checkFits(t, m.View(), 160, 48)
	small := m.layout()
	m, _ = update(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	if l := m.layout(); l.logRows >= small.logRows || l.boxW >= small.boxW {
		t.Fatalf("80×24 layout %+v not smaller than 160×48 %+v", l, small)
	}
	checkFits(t, m.View(), 80, 24)
}

func TestDraw(t *testing.T) {
	t.Run("not available", func(t *testing.T) {
		m := loaded(t, newFake(fixture(0)))
		m, cmd := update(t, m, keyMsg("d"))
		if cmd != nil || !m.flashErr || !strings.Contains(m.flash, "not available") {
			t.Fatalf("d without a hook: cmd %v, flash %q", cmd != nil, m.flash)
		}
	})
	t.Run("draws", func(t *testing.T) {
		var gotCtx context.Context
		ctx := context.WithValue(context.Background(), struct{}{}, "run")
		f := newFake(fixture(0))
		m := newModel(ctx, f, Options{Now: fixedNow, Draw: func(ctx context.Context) (string, error) {
			gotCtx = ctx
			return "/tmp/frame-1180.png", nil
		}}, asciiStyles())
		m, _ = update(t, m, SnapshotMsg{Snapshot: fixture(0)})
		m, cmd := update(t, m, keyMsg("d"))
		if gotCtx != nil {
			t.Fatal("Update ran the draw hook itself")
		}
		msgs := run(t, cmd)
		if gotCtx != ctx {
			t.Fatal("draw hook did not get Run's context")
		}
		m, _ = update(t, m, msgs[0])
		if want := "✓ frame drawn: /tmp/frame-1180.png"; m.flash != want {
			t.Fatalf("flash = %q; want %q", m.flash, want)
		}
	})
}

func TestLogScroll(t *testing.T) {
	f := newFake(fixture(0))
	m := loaded(t, f)
	lines := logLinesOf("generator", 100)
	m, _ = update(t, m, LogsMsg{Stage: "generator", Lines: lines})
	rows := m.layout().logRows
	if !strings.Contains(m.View(), "seq=1099") {
		t.Fatal("newest log line not shown")
	}
	m, _ = update(t, m, keyMsg("pgup"))
	if m.logOffset != rows-1 {
		t.Fatalf("pgup: offset %d; want %d", m.logOffset, rows-1)
	}
	v := m.View()
	if strings.Contains(v, "seq=1099") || !strings.Contains(v, "seq="+strconv.Itoa(1099-m.logOffset)) {
		t.Fatalf("after pgup the pane shows the wrong lines:\n%s", v)
	}
	m, _ = update(t, m, keyMsg("home"))
	if m.logOffset != 100-rows || !strings.Contains(m.View(), "seq=1000 ") {
		t.Fatalf("home: offset %d; want %d and the oldest line", m.logOffset, 100-rows)
	}
	m, _ = update(t, m, keyMsg("pgdown"))
	if m.logOffset != 100-rows-(rows-1) {
		t.Fatalf("pgdown: offset %d; want %d", m.logOffset, 100-rows-(rows-1))
	}
	m, _ = update(t, m, keyMsg("end"))
	if m.logOffset != 0 {
		t.Fatalf("end: offset %d; want 0", m.logOffset)
	}
	for range 3 {
		m, _ = update(t, m, keyMsg("pgdown"))
	}
	if m.logOffset != 0 {
		t.Fatalf("pgdown past the end: offset %d", m.logOffset)
	}
	if got := f.commands(); len(got) != 0 {
		t.Fatalf("scrolling called the controller: %q", got)
	}
}

func TestLinkRates(t *testing.T) {
	m := loaded(t, newFake(fixture(0)))
	m.width, m.height = 120, 40
	v := m.View()
	// generator: 3 MB in 1 s; extractors: 0.25 MB/s from extractor-0 only
	// (extractor-1 is backing off, extractor-2 paused).
	for _, want := range []string{"generator → extractor 3.00 MB/s", "extractor → logger 0.25 MB/s"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}

	r := newRates()
	s := fixture(0)
	r.observe(s)
	s2 := fixture(time.Second)
	r.observe(s2)
	if got := r.rate("generator"); got != 3e6 {
		t.Fatalf("rate = %v; want 3e6", got)
	}
	r.observe(s2) // the same status again changes nothing
	if got := r.rate("generator"); got != 3e6 {
		t.Fatalf("rate after a repeated status = %v; want 3e6", got)
	}
	s3 := fixture(2 * time.Second)
	s3.Stages[0].Status.PID = 9999 // restarted: counters begin again
	s3.Stages[0].Status.BytesOut = 10
	r.observe(s3)
	if got := r.rate("generator"); got != 0 {
		t.Fatalf("rate just after a restart = %v; want 0", got)
	}
	s4 := fixture(3 * time.Second)
	s4.Stages[0].State = supervisor.StateStopped
	r.observe(s4)
	if got := r.rate("generator"); got != 0 {
		t.Fatalf("rate of a stopped stage = %v; want 0", got)
	}
}

func TestNoColorIsReadable(t *testing.T) {
	m := loaded(t, newFake(fixture(0)))
	v := m.View()
	if strings.Contains(v, "\x1b") {
		t.Fatalf("colourless view holds escape sequences:\n%q", v)
	}
	for _, want := range []string{"running", "backoff", "paused", "fault slow", "▸ generator", "╔ generator"} {
		if !strings.Contains(v, want) {
			t.Errorf("colourless view lacks %q:\n%s", want, v)
		}
	}
	c := newModel(context.Background(), newFake(fixture(0)), Options{Now: fixedNow}, colorStyles())
	c, _ = update(t, c, SnapshotMsg{Snapshot: fixture(0)})
	if !strings.Contains(c.View(), "\x1b[") {
		t.Fatal("256-colour view has no colour")
	}
}

// TestKeysTogether: a terminal read may hold several keys ("jK" when typed
// quickly or sent by tmux send-keys); each acts as if typed alone.
func TestKeysTogether(t *testing.T) {
	f := newFake(fixture(0))
	m := loaded(t, f)
	m, cmd := update(t, m, keyMsg("jKy"))
	if m.selected != "extractor-0" {
		t.Fatalf("after \"jKy\": selected %q; want extractor-0", m.selected)
	}
	for _, msg := range run(t, cmd) {
		m, _ = update(t, m, msg)
	}
	if got, want := f.commands(), []string{"Kill extractor-0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("\"jK\": calls %q; want %q", got, want)
	}
	// A paste is text, not keys.
	f2 := newFake(fixture(0))
	m2 := loaded(t, f2)
	paste := keyMsg("jK")
	paste.Paste = true
	_, cmd = update(t, m2, paste)
	run(t, cmd)
	if got := f2.commands(); len(got) != 0 {
		t.Fatalf("pasted \"jK\": calls %q; want none", got)
	}
}

// TestFaultFlashSaysWhichWay: faults are toggles, so the flash says
// whether the key turned the fault on or off.
func TestFaultFlashSaysWhichWay(t *testing.T) {
	for _, tt := range []struct{ key, want string }{
		{"6", "✓ fault slow off extractor-0"}, // active in the fixture
		{"2", "✓ fault pause on extractor-0"},
		{"1", "✓ fault kill extractor-0"}, // one-shot
	} {
		m := loaded(t, newFake(fixture(0)))
		m.noConfirm = true
		m, _ = update(t, m, keyMsg("j"))
		m, _ = update(t, m, keyMsg("f"))
		m, cmd := update(t, m, keyMsg(tt.key))
		for _, msg := range run(t, cmd) {
			m, _ = update(t, m, msg)
		}
		if m.flash != tt.want {
			t.Errorf("f %s: flash %q; want %q", tt.key, m.flash, tt.want)
		}
	}
}

// TestErrorFlashNamesStageOnce: the supervisor's errors already name the
// operation and the stage; the flash does not repeat them.
func TestErrorFlashNamesStageOnce(t *testing.T) {
	m := loaded(t, newFake(fixture(0)))
	m, _ = update(t, m, CommandResultMsg{Op: "fault dbfull on", Stage: "extractor-0",
		Err: errors.New("inject dbfull extractor-0: fault does not apply to this kind of stage")})
	if want := "✗ inject dbfull extractor-0: fault does not apply to this kind of stage"; m.flash != want {
		t.Fatalf("flash %q; want %q", m.flash, want)
	}
}

// TestSlowIsNotPaused: the slow fault pauses a stage part of the time;
// the console calls it slow, and counts it as running.
func TestSlowIsNotPaused(t *testing.T) {
	s := fixture(0)
	s.Stages[1].Paused = true // what the supervisor reports for slow
	m := newTestModel(newFake(s), Options{})
	m, _ = update(t, m, SnapshotMsg{Snapshot: s})
	if got := displayState(s.Stages[1]); got != "slow" {
		t.Fatalf("displayState(slow) = %q; want slow", got)
	}
	v := m.View()
	if !strings.Contains(v, "● slow") || !strings.Contains(v, "3/5 running") {
		t.Fatalf("slow stage not shown as slow and running:\n%s", v)
	}
}

// TestStoppingIsNotRunning: the title counts stages that are running, not
// those stopping or blocked.
func TestStoppingIsNotRunning(t *testing.T) {
	s := fixture(0)
	st := *s.Stages[0].Status
	st.State = "stopping"
	s.Stages[0].Status = &st
	m := newTestModel(newFake(s), Options{})
	m, _ = update(t, m, SnapshotMsg{Snapshot: s})
	if v := m.View(); !strings.Contains(v, "2/5 running") || !strings.Contains(v, "● stopping") {
		t.Fatalf("stopping generator counted as running or not shown:\n%s", v)
	}
}

// TestEventsWrap: at 80 columns an event's text goes on in a second line
// rather than being cut, as long as there is room.
func TestEventsWrap(t *testing.T) {
	m := loaded(t, newFake(fixture(0)))
	v := m.View()
	for _, want := range []string{"09:59:59 extractor-1 exit: signal:", "  killed; restart in 4s"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	lines := m.eventPane(39, 2) // room for one line
	if len(lines) != 2 || !strings.HasSuffix(lines[1], "…") || !strings.Contains(lines[1], "exit: signal") {
		t.Errorf("eventPane(39, 2) = %q; want the newest event cut on one line", lines)
	}
}

// TestBoxFaultsFit: faults that do not fit the state line move to the
// third line rather than being cut.
func TestBoxFaultsFit(t *testing.T) {
	m := loaded(t, newFake(fixture(0)))
	st := m.snap.Stages[2] // backing off
	st.Faults = []stage.Fault{stage.FaultCrashLoop}
	got := m.boxContent(st, displayState(st), 22, 3)
	want := []string{"● backoff 3s", "last exit: killed", "restarts 1 · crashloop"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("boxContent = %q; want %q", got, want)
	}
}

// TestConfirmation: the destructive keys ask; y (or enter) runs the
// command, any other key cancels it; --no-confirm runs it at once.
func TestConfirmation(t *testing.T) {
	for _, k := range []string{"x", "K", "9", "r", "R", "-"} {
		for _, answer := range []string{"y", "enter", "n", "esc"} {
			f := newFake(fixture(0))
			m := loaded(t, f)
			m, _ = update(t, m, keyMsg("j"))
			m, cmd := update(t, m, keyMsg(k))
			if m.confirm == nil || cmd != nil {
				t.Fatalf("%s: confirm %v, command %v; want a question and no command", k, m.confirm, cmd != nil)
			}
			m, cmd = update(t, m, keyMsg(answer))
			run(t, cmd)
			got := f.commands()
			if yes := answer == "y" || answer == "enter"; yes != (len(got) == 1) || m.confirm != nil {
				t.Errorf("%s then %s: calls %q, still asking %v", k, answer, got, m.confirm != nil)
			}
		}
	}
	f := newFake(fixture(0))
	m := newTestModel(f, Options{NoConfirm: true})
	m, _ = update(t, m, SnapshotMsg{Snapshot: fixture(0)})
	_, cmd := update(t, m, keyMsg("K"))
	run(t, cmd)
	if got := f.commands(); len(got) != 1 {
		t.Errorf("K with NoConfirm: calls %q; want the kill at once", got)
	}
}

// TestClearAllFaults: F clears every fault on every stage.
func TestClearAllFaults(t *testing.T) {
	f := newFake(fixture(0))
	m := loaded(t, f)
	_, cmd := update(t, m, keyMsg("F"))
	run(t, cmd)
	want := []string{"Clear extractor-0 slow", "Clear extractor-2 pause"}
	if got := f.commands(); !reflect.DeepEqual(got, want) {
		t.Fatalf("F: calls %q; want %q", got, want)
	}
}

// TestDataFlowOrder: the boxes follow the data, not the start order.
func TestDataFlowOrder(t *testing.T) {
	s := fixture(0)
	// The logger moved first in the start order.
	s.Stages = append([]supervisor.StageSnapshot{s.Stages[4]}, s.Stages[:4]...)
	m := loaded(t, newFake(s))
	m, _ = update(t, m, SnapshotMsg{Snapshot: s})
	v := m.View()
	lines := strings.Split(v, "\n")
	top := lines[1]
	g, x, l := strings.Index(top, "generator"), strings.Index(top, "extractor-0"), strings.Index(top, "logger")
	if g < 0 || x < g || l < x {
		t.Fatalf("boxes not in flow order:\n%s", v)
	}
	if !strings.Contains(v, "logger › generator › extractor-0") {
		t.Fatalf("start order not shown:\n%s", v)
	}
	// Replicas side by side: no arrow between extractor boxes.
	mid := lines[3]
	if i, j := strings.Index(mid, "│pid 4250"), strings.LastIndex(mid, "pid 4252"); i < 0 || j < 0 || strings.Contains(mid[i:j], "→") {
		t.Errorf("an arrow between replicas:\n%s", v)
	}
}

// TestWrapAndFullLog: w wraps long log lines; L shows the log alone.
func TestWrapAndFullLog(t *testing.T) {
	m := loaded(t, newFake(fixture(0)))
	m, _ = update(t, m, keyMsg("L"))
	v := m.View()
	if !m.logFull || strings.Contains(v, "STAGE") || strings.Count(v, "seq=") < 15 {
		t.Fatalf("L: not a full-screen log:\n%s", v)
	}
	m, _ = update(t, m, keyMsg("w"))
	if !m.wrap || !strings.Contains(m.View(), "wrapped") {
		t.Fatalf("w: not wrapped:\n%s", m.View())
	}
	m, _ = update(t, m, keyMsg("esc"))
	if m.logFull {
		t.Fatal("esc did not leave the full-screen log")
	}
}

// TestEventScroll: tab gives the scroll keys to the event log.
func TestEventScroll(t *testing.T) {
	m := loaded(t, newFake(fixture(0)))
	m, _ = update(t, m, keyMsg("tab"))
	m, _ = update(t, m, keyMsg("pgup"))
	if m.eventOffset == 0 || m.logOffset != 0 || !strings.Contains(m.View(), "Events ↑") {
		t.Fatalf("tab, pgup: event offset %d, log offset %d:\n%s", m.eventOffset, m.logOffset, m.View())
	}
}

// TestTourDrivesTheConsole: each step of the tour narrates in the event
// pane and types its keys through the console's own handling, confirmations
// included: a kill, a pause and resume, a fault, a clear, a reorder and a
// restart of all reach the controller.
func TestTourDrivesTheConsole(t *testing.T) {
	f := newFake(fixture(0))
	m := newTestModel(f, Options{Tour: true})
	m, _ = update(t, m, SnapshotMsg{Snapshot: fixture(0)})
	for i := range m.tour.steps {
		m.tour.steps[i].after = 0 // the next step's tick comes at once, and is not played here
	}
	for i := range m.tour.steps {
		var cmd tea.Cmd
		m, cmd = update(t, m, tourMsg{i})
		for _, msg := range run(t, cmd) {
			switch msg := msg.(type) {
			case LogsMsg, CommandResultMsg:
				m, _ = update(t, m, msg)
			}
		}
		if v := m.View(); !m.detail && !strings.Contains(v, "tour: ") {
			t.Errorf("step %d: no narration on screen:\n%s", i, v)
		}
	}
	want := []string{"Kill extractor-0", "Pause logger", "Pause logger", "Inject extractor-0 corrupt",
		"Clear extractor-0 slow", "Clear extractor-2 pause", "MoveUp logger", "MoveUp logger", "RestartAll",
		"MoveDown logger", "MoveDown logger"}
	if got := f.commands(); !reflect.DeepEqual(got, want) {
		t.Errorf("the tour's commands:\n got %q\nwant %q", got, want)
	}
	if len(m.notes) != len(m.tour.steps) {
		t.Errorf("%d narration lines; want one a step (%d)", len(m.notes), len(m.tour.steps))
	}
}

// TestHostsShown: an extractor on another host shows its host in its box,
// and the extractors' rate is given per host.
func TestHostsShown(t *testing.T) {
	s := fixture(0)
	s.Stages[3].Status.Host = "far-host" // extractor-2
	s.Stages[3].Paused, s.Stages[3].State, s.Stages[3].FPS = false, supervisor.StateRunning, 1.5
	m := loaded(t, newFake(s))
	m, _ = update(t, m, SnapshotMsg{Snapshot: s})
	m, _ = update(t, m, tea.WindowSizeMsg{Width: 160, Height: 48})
	v := m.View()
	if !strings.Contains(v, "@far-host") || !strings.Contains(v, "extractors here 2.4 fps, far-host 1.5 fps") {
		t.Fatalf("hosts not shown:\n%s", v)
	}
}
