package tui

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
)

// flashFor is how long a command's outcome stays on the flash line.
const flashFor = 6 * time.Second

// model is the console's root model. All its state belongs to the Update
// goroutine; the supervisor is only reached from commands.
type model struct {
	c      Controller
	draw   func() (string, error) // nil: not available
	now    func() time.Time
	dbPath string

	keys   KeyMap
	help   help.Model
	styles Styles

	width, height int

	snap     supervisor.Snapshot
	haveSnap bool
	rates    *rates

	selected string // instance name of the selected stage; "" before the first snapshot
	selIdx   int    // its index, to keep a nearby selection when it disappears

	logs      []string // the selected stage's recent log lines, oldest first
	logsFor   string
	logOffset int // lines scrolled back from the newest

	menu     bool // the fault menu is open
	showHelp bool // the full help replaces the panes
	detail   bool // the selected stage's detail view replaces the panes
	logFull  bool // the log pane takes the whole screen

	confirm   *confirmation // a destructive action waiting for y
	noConfirm bool

	filter      string // the log pane shows only lines holding it
	filtering   bool   // the filter is being typed
	filterBuf   string
	match       int  // the highlighted match, counted back from the newest
	wrap        bool // long log lines wrap instead of being cut
	focusEvents bool // the scroll keys move the event log, not the log pane
	eventOffset int  // events scrolled back from the newest

	startOrder []string // the stages' names in start order; snap.Stages are in flow order

	host   string // this machine's name: stages elsewhere show theirs
	runDir string
	notes  []supervisor.Event // the tour's narration, merged into the events
	tour   *tour

	flash    string
	flashErr bool
	flashAt  time.Time
}

// newModel builds the console's model. ctx is the context the draw hook
// runs under.
func newModel(ctx context.Context, c Controller, opts Options, st Styles) model {
	m := model{
		c:      c,
		now:    opts.Now,
		dbPath: opts.DBPath,
		keys:   DefaultKeyMap(),
		help:   help.New(),
		styles: st,
		width:  80,
		height: 24,
		rates:  newRates(),
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.host, _ = os.Hostname()
	m.runDir, m.noConfirm = opts.RunDir, opts.NoConfirm
	if opts.Tour {
		m.tour = &tour{steps: tourSteps()}
	}
	if opts.Draw != nil {
		draw := opts.Draw
		m.draw = func() (string, error) { return draw(ctx) }
	}
	m.help.Styles = st.Help
	m.help.ShortSeparator = " · "
	m.help.Width = m.width
	return m
}

// Init starts the refresh loop.
func (m model) Init() tea.Cmd {
	if m.tour != nil {
		return tea.Batch(fetchCmd(m.c, m.selected), m.tour.cmd(0))
	}
	return fetchCmd(m.c, m.selected)
}

// Update handles one message. It never blocks: the supervisor is reached
// only through the commands it returns.
func (m model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = max(msg.Width, 1), max(msg.Height, 1)
		m.help.Width = m.width
		m.clampLogOffset()
		return m, nil
	case SnapshotMsg:
		m.applySnapshot(msg.Snapshot)
		if msg.LogStage != "" && msg.LogStage == m.selected {
			m.setLogs(msg.LogStage, msg.Logs)
		}
		if msg.rearm {
			return m, tickCmd(m.c, m.selected)
		}
		return m, nil
	case LogsMsg:
		if msg.Stage == m.selected {
			m.setLogs(msg.Stage, msg.Lines)
		}
		return m, nil
	case CommandResultMsg:
		what := msg.Op
		if msg.Stage != "" {
			what += " " + msg.Stage
		}
		switch {
		case msg.Err != nil && msg.Stage != "" && strings.Contains(msg.Err.Error(), msg.Stage):
			m.setFlash("✗ "+msg.Err.Error(), true) // it names the stage and the operation
		case msg.Err != nil:
			m.setFlash(fmt.Sprintf("✗ %s: %v", what, msg.Err), true)
		default:
			m.setFlash("✓ "+what, false)
		}
		return m, nil
	case DrawResultMsg:
		if msg.Err != nil {
			m.setFlash(fmt.Sprintf("✗ draw: %v", msg.Err), true)
		} else {
			m.setFlash("✓ frame drawn: "+msg.Path, false)
		}
		return m, nil
	case tourMsg:
		return m.playTour(msg.step)
	case tea.KeyMsg:
		if msg.Type == tea.KeyRunes && !msg.Paste && len(msg.Runes) > 1 {
			return m.handleKeys(msg)
		}
		return m.handleKey(msg)
	}
	return m, nil
}

// handleKeys handles keys that arrived together. Bubble Tea reports the
// printable characters of one terminal read as a single message, so keys
// typed quickly (or sent by tmux send-keys, or delayed by a slow link) come
// as "jK"; each is handled in turn, as if typed apart.
func (m model) handleKeys(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	var cmds []tea.Cmd
	for _, r := range msg.Runes {
		next, cmd := m.handleKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt})
		m = next.(model)
		cmds = append(cmds, cmd)
	}
	return m, tea.Batch(cmds...)
}

func (m model) handleKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	switch {
	case m.confirm != nil:
		return m.answer(msg)
	case m.filtering:
		return m.editFilter(msg), nil
	case msg.String() == "ctrl+c": // the way out that never asks
		return m, tea.Quit
	case key.Matches(msg, k.Quit):
		return m.ask("quit: stop every stage and leave", func(m model) (tea.Model, tea.Cmd) { return m, tea.Quit })
	case key.Matches(msg, k.Help):
		m.showHelp = !m.showHelp
		m.menu = false
		return m, nil
	case key.Matches(msg, k.Up):
		return m.selectBy(-1)
	case key.Matches(msg, k.Down):
		return m.selectBy(+1)
	}
	if m.menu {
		return m.menuKey(msg)
	}
	if next, ok := m.viewKey(msg); ok {
		return next, nil
	}
	return m.commandKey(msg)
}

// menuKey handles a key while the fault menu is open.
func (m model) menuKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	if key.Matches(msg, k.Close) || key.Matches(msg, k.Faults) {
		m.menu = false
		return m, nil
	}
	if key.Matches(msg, k.ClearAll) {
		m.menu = false
		return m.clearAllFaults()
	}
	for i, b := range k.Fault {
		if !key.Matches(msg, b) {
			continue
		}
		m.menu = false
		f := stage.AllFaults[i]
		op := "fault " + string(f) // one-shot: kill
		if st, ok := m.selectedStage(); ok && f != stage.FaultKill {
			op += " on" // faults are toggled: say which way
			if slices.Contains(st.Faults, f) {
				op = "fault " + string(f) + " off"
			}
		}
		run := func(m model) (tea.Model, tea.Cmd) {
			return m.stageCmd(op, func(name string) error { return m.c.Inject(name, f) })
		}
		if f == stage.FaultKill || f == stage.FaultCrashLoop {
			return m.ask(op+" "+m.selected, run)
		}
		return run(m)
	}
	return m, nil
}

// viewKey handles the keys that change only what is shown: views,
// scrolling, the log filter. ok is false for other keys.
func (m model) viewKey(msg tea.KeyMsg) (model, bool) {
	k := m.keys
	rows := max(1, m.layout().logRows-1)
	switch {
	case key.Matches(msg, k.Close):
		switch {
		case m.showHelp:
			m.showHelp = false
		case m.detail:
			m.detail = false
		case m.logFull:
			m.logFull = false
		case m.filter != "":
			m.filter, m.match = "", 0
		}
	case key.Matches(msg, k.Detail):
		m.detail, m.logFull, m.showHelp = !m.detail, false, false
	case key.Matches(msg, k.FullLog):
		m.logFull, m.detail, m.showHelp = !m.logFull, false, false
	case key.Matches(msg, k.Focus):
		m.focusEvents = !m.focusEvents
	case key.Matches(msg, k.Wrap):
		m.wrap = !m.wrap
	case key.Matches(msg, k.Filter):
		m.filtering, m.filterBuf = true, m.filter
	case key.Matches(msg, k.Next):
		m.stepMatch(+1)
	case key.Matches(msg, k.Prev):
		m.stepMatch(-1)
	case key.Matches(msg, k.LogUp):
		m.scroll(rows)
	case key.Matches(msg, k.LogDown):
		m.scroll(-rows)
	case key.Matches(msg, k.LogTop):
		m.scroll(1 << 30)
	case key.Matches(msg, k.LogEnd):
		m.scroll(-(1 << 30))
	default:
		return m, false
	}
	return m, true
}

// scroll moves the focused pane d lines back (d > 0) or forward.
func (m *model) scroll(d int) {
	if m.focusEvents {
		m.eventOffset = min(max(m.eventOffset+d, 0), max(0, len(m.snap.Events)-1))
		return
	}
	m.logOffset += d
	m.clampLogOffset()
}

// commandKey handles the keys that act on the pipeline.
func (m model) commandKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	switch {
	case key.Matches(msg, k.Start):
		return m.stageCmd("start", m.c.Start)
	case key.Matches(msg, k.Stop):
		return m.askStage("stop", "TERM, then KILL; it stays stopped until s", m.c.Stop)
	case key.Matches(msg, k.Kill):
		return m.askStage("kill -9", "the restart policy brings it back", m.c.Kill)
	case key.Matches(msg, k.Restart):
		return m.askStage("restart", "stop it and start it again", m.c.Restart)
	case key.Matches(msg, k.Pause):
		if st, ok := m.selectedStage(); ok && st.Paused {
			return m.stageCmd("resume", m.c.Resume)
		}
		return m.stageCmd("pause", m.c.Pause)
	case key.Matches(msg, k.MoveUp):
		return m.stageCmd("move up", m.c.MoveUp)
	case key.Matches(msg, k.MoveDown):
		return m.stageCmd("move down", m.c.MoveDown)
	case key.Matches(msg, k.RestartA):
		return m.ask("restart all stages in the start order", func(m model) (tea.Model, tea.Cmd) {
			m.setFlash("restart all…", false)
			return m, commandCmd("restart all", "", m.c.RestartAll)
		})
	case key.Matches(msg, k.ScaleUp):
		m.setFlash("scale +1…", false)
		return m, commandCmd("scale +1", "", func() error { return m.c.Scale(+1) })
	case key.Matches(msg, k.ScaleDn):
		return m.ask("remove the last extractor", func(m model) (tea.Model, tea.Cmd) {
			m.setFlash("scale -1…", false)
			return m, commandCmd("scale -1", "", func() error { return m.c.Scale(-1) })
		})
	case key.Matches(msg, k.ClearAll):
		return m.clearAllFaults()
	case key.Matches(msg, k.Faults):
		if _, ok := m.selectedStage(); !ok {
			m.setFlash("✗ faults: no stage selected", true)
			return m, nil
		}
		m.menu = true
		m.showHelp = false
	case key.Matches(msg, k.Draw):
		if m.draw == nil {
			m.setFlash("✗ draw: not available", true)
			return m, nil
		}
		m.setFlash("drawing the latest frame…", false)
		return m, drawCmd(m.draw)
	}
	return m, nil
}

// stageCmd runs an operator command on the selected stage.
func (m model) stageCmd(op string, do func(name string) error) (tea.Model, tea.Cmd) {
	name := m.selected
	if _, ok := m.selectedStage(); !ok {
		m.setFlash("✗ "+op+": no stage selected", true)
		return m, nil
	}
	m.setFlash(op+" "+name+"…", false)
	return m, commandCmd(op, name, func() error { return do(name) })
}

// selectBy moves the selection by delta stages, clamped.
func (m model) selectBy(delta int) (tea.Model, tea.Cmd) {
	n := len(m.snap.Stages)
	if n == 0 {
		return m, nil
	}
	i := min(max(m.selIdx+delta, 0), n-1)
	name := m.snap.Stages[i].Name
	m.selIdx = i
	if name == m.selected {
		return m, nil
	}
	m.selected = name
	m.logs, m.logsFor, m.logOffset = nil, "", 0
	return m, logsCmd(m.c, name)
}

// applySnapshot takes a new snapshot in, keeping the selection on the same
// stage instance (by name, so it follows moves) or near where it was.
func (m *model) applySnapshot(s supervisor.Snapshot) {
	m.rates.observe(s)
	// The console lists the stages as the data flows, everywhere; the
	// start order has its own line.
	m.startOrder = m.startOrder[:0]
	for _, st := range s.Stages {
		m.startOrder = append(m.startOrder, st.Name)
	}
	s.Stages = flowOrder(s.Stages)
	m.snap = s
	m.haveSnap = true
	if len(s.Stages) == 0 {
		m.selected, m.selIdx = "", 0
		return
	}
	for i, st := range s.Stages {
		if st.Name == m.selected {
			m.selIdx = i
			return
		}
	}
	m.selIdx = min(max(m.selIdx, 0), len(s.Stages)-1)
	m.selected = s.Stages[m.selIdx].Name
	m.logs, m.logsFor, m.logOffset = nil, "", 0
}

func (m *model) setLogs(stage string, lines []string) {
	m.logs, m.logsFor = lines, stage
	m.clampLogOffset()
}

func (m *model) clampLogOffset() {
	maxOff := max(0, len(m.logs)-max(1, m.layout().logRows))
	m.logOffset = min(max(m.logOffset, 0), maxOff)
}

func (m *model) setFlash(s string, isErr bool) {
	m.flash, m.flashErr, m.flashAt = s, isErr, m.now()
}

func (m model) selectedStage() (supervisor.StageSnapshot, bool) {
	for _, st := range m.snap.Stages {
		if st.Name == m.selected {
			return st, true
		}
	}
	return supervisor.StageSnapshot{}, false
}
