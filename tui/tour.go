package tui

import (
	"slices"
	"strconv"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
)

// tourKind is the event kind of the tour's narration in the event pane.
const tourKind stage.EventKind = "tour"

// tourStep is one step of the guided walkthrough (--tour): after a pause,
// a line of narration, then keys typed as the operator would type them,
// on a stage selected first. The keys go through the console's own key
// handling, confirmations included: the tour drives the real console.
type tourStep struct {
	after time.Duration // since the previous step
	stage string        // select the first stage whose name starts with this; "" keeps the selection
	keys  string        // space-separated: single characters, or enter, esc
	say   string
}

// tourSteps is the walkthrough: a kill, a pause, a fault and a reorder.
func tourSteps() []tourStep {
	corrupt := strconv.Itoa(slices.Index(stage.AllFaults, stage.FaultCorrupt) + 1)
	return []tourStep{
		{time.Second, "", "", "tour: data flows generator → extractor → logger, as the boxes are drawn; the table counts frames over the whole run"},
		{8 * time.Second, "extractor", "K y", "kill -9 the extractor (K, then y): the supervisor sees it die and restarts it after a backoff; the generator resends what was in flight"},
		{10 * time.Second, "extractor", "enter", "its detail view (enter): the killed process with its exit, an operator restart, not a crash"},
		{8 * time.Second, "logger", "esc p", "pause the logger (p, SIGSTOP): 0 fps and its stall time; unstored frames wait at the generator and age"},
		{10 * time.Second, "logger", "p", "resume it (p): the backlog drains into the database; nothing was lost"},
		{8 * time.Second, "extractor", "f " + corrupt, "corrupt the extractor's input (f, " + corrupt + "): its error count climbs within a second while real frames flow"},
		{8 * time.Second, "", "F", "clear every fault (F)"},
		{5 * time.Second, "logger", "[ [", "move the logger first in the start order ([ twice): the data-flow picture stays; only START ORDER changes"},
		{6 * time.Second, "", "R y", "restart all (R, then y): the stages stop and start again in the new start order"},
		{12 * time.Second, "logger", "] ]", "move it back (] twice). Tour over: ? lists every key, q quits"},
	}
}

// tour is the walkthrough's progress.
type tour struct{ steps []tourStep }

// tourMsg plays step i of the tour.
type tourMsg struct{ step int }

func (t *tour) cmd(i int) tea.Cmd {
	if i >= len(t.steps) {
		return nil
	}
	return tea.Tick(t.steps[i].after, func(time.Time) tea.Msg { return tourMsg{i} })
}

// playTour plays one step: narration, selection, keys; then schedules the
// next.
func (m model) playTour(i int) (tea.Model, tea.Cmd) {
	if m.tour == nil || i >= len(m.tour.steps) {
		return m, nil
	}
	st := m.tour.steps[i]
	m.notes = append(m.notes, supervisor.Event{At: m.now(), Kind: tourKind, Text: st.say})
	cmds := []tea.Cmd{m.tour.cmd(i + 1)}
	if st.stage != "" {
		for j, s := range m.snap.Stages {
			if strings.HasPrefix(s.Name, st.stage) {
				if s.Name != m.selected {
					m.selected, m.selIdx = s.Name, j
					m.logs, m.logsFor, m.logOffset = nil, "", 0
					cmds = append(cmds, logsCmd(m.c, s.Name))
				}
				break
			}
		}
	}
	var next tea.Model = m
	for _, k := range strings.Fields(st.keys) {
		msg := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		switch k {
		case "enter":
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			msg = tea.KeyMsg{Type: tea.KeyEsc}
		}
		var cmd tea.Cmd
		next, cmd = next.(model).handleKey(msg)
		cmds = append(cmds, cmd)
	}
	return next, tea.Batch(cmds...)
}
