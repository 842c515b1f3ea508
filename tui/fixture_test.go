package tui

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
	"github.com/imaging-tui/imaging-tui/wire"
)

// t0 is the fixed "now" of every test screen.
var t0 = time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return t0 }

// asciiStyles are the styles of a colourless terminal (NO_COLOR).
func asciiStyles() Styles {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return DefaultStyles(r)
}

// colorStyles are the styles of a 256-colour terminal.
func colorStyles() Styles {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)
	return DefaultStyles(r)
}

// history is a minute of fps samples around base.
func history(base float64, n int) []float64 {
	h := make([]float64, n)
	for i := range h {
		h[i] = math.Round((base+base*0.4*math.Sin(float64(i)/4))*10) / 10
	}
	return h
}

// fixture is a five-stage pipeline mid-demo: extractor-0 slowed down,
// extractor-1 killed and backing off, extractor-2 paused. at shifts the
// status times and byte counters so two fixtures a second apart give rates.
func fixture(at time.Duration) supervisor.Snapshot {
	s := fixtureBase(at)
	now := t0.Add(at)
	for i := range s.Stages {
		st := &s.Stages[i]
		if st.Status != nil {
			st.FramesIn, st.FramesOut, st.Errors = st.Status.FramesIn, st.Status.FramesOut, st.Status.Errors
			if st.State == supervisor.StateRunning {
				st.FPS = st.Status.FPS
			}
		}
		st.LogPath = "/tmp/imaging-tui-run/logs/" + st.Name + ".log"
		st.Args = []string{"stage", string(st.Kind), "--instance", st.Name, "--delivery", "reliable"}
		st.States = []supervisor.StateChange{{At: t0.Add(-5 * time.Minute), State: supervisor.StateStarting},
			{At: t0.Add(-5*time.Minute + time.Second), State: supervisor.StateRunning}}
		if st.PID != 0 {
			st.CPUPercent, st.RSS = 42, 120<<20
			st.Runs = []supervisor.ProcessRun{{PID: st.PID, Started: st.StartedAt}}
		}
	}
	// The supervisor's figures over the run: extractor-0 crashed once and
	// was restarted once by the operator, with frames before; extractor-1
	// was killed by the operator; extractor-2 is paused.
	x0, x1, x2 := &s.Stages[1], &s.Stages[2], &s.Stages[3]
	x0.Crashes, x0.OperatorRestarts = 1, 1
	x0.FramesIn, x0.FramesOut, x0.Errors = x0.FramesIn+300, x0.FramesOut+296, x0.Errors+2
	x0.LastError, x0.LastErrorAt = x0.Status.LastError, t0.Add(-4*time.Second)
	x0.Runs = append([]supervisor.ProcessRun{
		{PID: 4201, Started: t0.Add(-5 * time.Minute), Ended: t0.Add(-3 * time.Minute), Exit: "exit 1", Cause: supervisor.CauseCrash, In: 150, Out: 148},
		{PID: 4230, Started: t0.Add(-3 * time.Minute), Ended: t0.Add(-2*time.Minute - time.Second), Exit: "exit 0", Cause: supervisor.CauseOperator, In: 150, Out: 148},
	}, x0.Runs...)
	x1.OperatorRestarts = 1
	x1.Runs = []supervisor.ProcessRun{{PID: 4251, Started: t0.Add(-5 * time.Minute), Ended: t0.Add(-time.Second), Exit: "signal: killed", Cause: supervisor.CauseOperator, In: 590, Out: 590}}
	x2.StalledSince = t0.Add(-12 * time.Second)
	s.Stages[0].Status.OldestUnacked = now.Add(-1500 * time.Millisecond)
	s.Kinds = []supervisor.KindTotals{
		{Kind: "generator", Instances: 1, FramesIn: 1210, FramesOut: 1204},
		{Kind: "extractor", Instances: 3, FramesIn: 1507, FramesOut: 1496, Errors: 3, Crashes: 1, OperatorRestarts: 2},
		{Kind: "logger", Instances: 1, FramesIn: 1180, FramesOut: 1180},
	}
	return s
}

func fixtureBase(at time.Duration) supervisor.Snapshot {
	now := t0.Add(at)
	sec := uint64(at / time.Second)
	return supervisor.Snapshot{
		At:       now,
		Delivery: "reliable",
		Stages: []supervisor.StageSnapshot{
			{
				Name: "generator", Kind: "generator", State: supervisor.StateRunning, PID: 4242,
				StartedAt: t0.Add(-5*time.Minute - 3*time.Second),
				Status: &wire.Status{Stage: "generator", Instance: "generator", PID: 4242, State: "running",
					FramesIn: 1210, FramesOut: 1204, BytesOut: 300_000_000 + sec*3_000_000, Resent: 3,
					FPS: 5.0, QueueDepth: 8, Delivery: "reliable", TS: now},
				FPSHistory: history(5, 60),
			},
			{
				Name: "extractor-0", Kind: "extractor", State: supervisor.StateRunning, PID: 4250,
				StartedAt: t0.Add(-2 * time.Minute), Restarts: 2, LastExit: "exit 1",
				Faults: []stage.Fault{stage.FaultSlow},
				Status: &wire.Status{Stage: "extractor", Instance: "extractor-0", PID: 4250, State: "running",
					FramesIn: 602, FramesOut: 598, BytesOut: 40_000_000 + sec*250_000, Errors: 1,
					FPS: 2.4, QueueDepth: 4, Latency: &wire.Latency{P50: 210, P99: 380},
					LastError: "decode: jpeg: unexpected EOF", TS: now},
				FPSHistory: history(2.4, 60),
			},
			{
				Name: "extractor-1", Kind: "extractor", State: supervisor.StateBackoff,
				Restarts: 1, LastExit: "signal: killed", BackoffUntil: t0.Add(3 * time.Second),
				Status: &wire.Status{Stage: "extractor", Instance: "extractor-1", PID: 4251, State: "running",
					FramesIn: 590, FramesOut: 590, BytesOut: 39_000_000, FPS: 2.5, QueueDepth: 2,
					TS: t0.Add(-10 * time.Second)},
				FPSHistory: append(history(2.5, 50), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
			},
			{
				Name: "extractor-2", Kind: "extractor", State: supervisor.StateStale, PID: 4252, Paused: true,
				StartedAt: t0.Add(-4 * time.Minute), Faults: []stage.Fault{stage.FaultPause},
				Status: &wire.Status{Stage: "extractor", Instance: "extractor-2", PID: 4252, State: "running",
					FramesIn: 15, FramesOut: 12, BytesOut: 800_000, FPS: 0, QueueDepth: 16,
					TS: t0.Add(-8 * time.Second)},
				FPSHistory: append(history(2, 52), 0, 0, 0, 0, 0, 0, 0, 0),
			},
			{
				Name: "logger", Kind: "logger", State: supervisor.StateRunning, PID: 4260,
				StartedAt: t0.Add(-5*time.Minute - 4*time.Second),
				Status: &wire.Status{Stage: "logger", Instance: "logger", PID: 4260, State: "running",
					FramesIn: 1180, FramesOut: 1180, FPS: 4.9, QueueDepth: 0,
					DB: &wire.DBCounts{Images: 1180, Keypoints: 2_143_880, Descriptors: 1180}, TS: now},
				FPSHistory: history(4.9, 60),
			},
		},
		DB: supervisor.DBStats{Images: 1180, Keypoints: 2_143_880, Descriptors: 1180,
			FileBytes: 312_456_789, FreeBytes: 48_200_000_000},
		Events: []supervisor.Event{
			{At: t0.Add(-5*time.Minute - 4*time.Second), Stage: "logger", Kind: "start", Text: "pid 4260"},
			{At: t0.Add(-5*time.Minute - 3*time.Second), Stage: "generator", Kind: "start", Text: "pid 4242"},
			{At: t0.Add(-2*time.Minute - 1*time.Second), Stage: "extractor-0", Kind: "exit", Text: "exit 1"},
			{At: t0.Add(-2 * time.Minute), Stage: "extractor-0", Kind: "restart", Text: "pid 4250 after 1s backoff"},
			{At: t0.Add(-90 * time.Second), Stage: "extractor-0", Kind: "fault", Text: "slow injected"},
			{At: t0.Add(-12 * time.Second), Stage: "extractor-2", Kind: "fault", Text: "pause injected"},
			{At: t0.Add(-1 * time.Second), Stage: "extractor-1", Kind: "kill", Text: "SIGKILL by the operator"},
			{At: t0.Add(-1 * time.Second), Stage: "extractor-1", Kind: "exit", Text: "signal: killed; restart in 4s"},
		},
	}
}

// bigFixture has ten stages, to overflow any box row.
func bigFixture() supervisor.Snapshot {
	s := fixture(0)
	var stages []supervisor.StageSnapshot
	stages = append(stages, s.Stages[0])
	for i := 0; i < 8; i++ {
		st := s.Stages[1+i%3]
		st.Name = fmt.Sprintf("extractor-%d", i)
		stages = append(stages, st)
	}
	stages = append(stages, s.Stages[4])
	s.Stages = stages
	return s
}

// logLinesOf is what the fake returns as a stage's log.
func logLinesOf(name string, n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf(`seq=%d %s INFO frame done keypoints=%d`, 1000+i, name, 1800+i%7)
	}
	return lines
}

// fakeController is the console's side of its interface boundary: it
// records every call and returns canned snapshots (in order; the last one
// repeats).
type fakeController struct {
	mu     sync.Mutex
	snaps  []supervisor.Snapshot
	nSnap  int
	nLines int
	calls  []string
	err    error
}

func newFake(snaps ...supervisor.Snapshot) *fakeController {
	return &fakeController{snaps: snaps, nLines: 40}
}

func (f *fakeController) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

// commands returns the recorded calls other than Snapshot and Logs.
func (f *fakeController) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if c != "Snapshot" && !strings.HasPrefix(c, "Logs ") {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeController) snapshotCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nSnap
}

func (f *fakeController) Snapshot() supervisor.Snapshot {
	f.record("Snapshot")
	f.mu.Lock()
	defer f.mu.Unlock()
	i := min(f.nSnap, len(f.snaps)-1)
	f.nSnap++
	return f.snaps[i]
}

func (f *fakeController) Logs(name string, n int) []string {
	f.record("Logs %s %d", name, n)
	f.mu.Lock()
	defer f.mu.Unlock()
	return logLinesOf(name, min(n, f.nLines))
}

func (f *fakeController) Start(name string) error    { return f.record("Start %s", name) }
func (f *fakeController) Stop(name string) error     { return f.record("Stop %s", name) }
func (f *fakeController) Kill(name string) error     { return f.record("Kill %s", name) }
func (f *fakeController) Restart(name string) error  { return f.record("Restart %s", name) }
func (f *fakeController) Pause(name string) error    { return f.record("Pause %s", name) }
func (f *fakeController) Resume(name string) error   { return f.record("Resume %s", name) }
func (f *fakeController) MoveUp(name string) error   { return f.record("MoveUp %s", name) }
func (f *fakeController) MoveDown(name string) error { return f.record("MoveDown %s", name) }
func (f *fakeController) RestartAll() error          { return f.record("RestartAll") }
func (f *fakeController) Scale(delta int) error      { return f.record("Scale %+d", delta) }
func (f *fakeController) Inject(name string, fl stage.Fault) error {
	return f.record("Inject %s %s", name, fl)
}
func (f *fakeController) Clear(name string, fl stage.Fault) error {
	return f.record("Clear %s %s", name, fl)
}

// newTestModel is a model over f with fixed time and colourless styles.
func newTestModel(f *fakeController, opts Options) model {
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	if opts.DBPath == "" {
		opts.DBPath = "imaging.db"
	}
	return newModel(context.Background(), f, opts, asciiStyles())
}

// keyMsg builds the key message bubbletea sends for a key name.
func keyMsg(k string) tea.KeyMsg {
	named := map[string]tea.KeyType{
		"up": tea.KeyUp, "down": tea.KeyDown, "shift+up": tea.KeyShiftUp, "shift+down": tea.KeyShiftDown,
		"pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown, "home": tea.KeyHome, "end": tea.KeyEnd,
		"esc": tea.KeyEsc, "ctrl+c": tea.KeyCtrlC, "enter": tea.KeyEnter, "tab": tea.KeyTab, "backspace": tea.KeyBackspace,
	}
	if t, ok := named[k]; ok {
		return tea.KeyMsg{Type: t}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// update sends msg to m and returns the new model and command.
func update(t *testing.T, m model, msg tea.Msg) (model, tea.Cmd) {
	t.Helper()
	nm, cmd := m.Update(msg)
	mm, ok := nm.(model)
	if !ok {
		t.Fatalf("Update returned %T; want model", nm)
	}
	return mm, cmd
}

// run executes a command the way bubbletea would and returns its messages
// (a batch's in order). It must not be given the refresh tick.
func run(t *testing.T, cmd tea.Cmd) []tea.Msg {
	t.Helper()
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range b {
			out = append(out, run(t, c)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

// loaded is a model that has taken in fixture snapshots a second apart
// (so link rates are known) and the first stage's logs.
func loaded(t *testing.T, f *fakeController) model {
	t.Helper()
	m := newTestModel(f, Options{})
	m, _ = update(t, m, SnapshotMsg{Snapshot: fixture(-time.Second)})
	m, _ = update(t, m, SnapshotMsg{Snapshot: fixture(0), LogStage: "generator", Logs: logLinesOf("generator", 40)})
	return m
}
