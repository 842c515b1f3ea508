package tui

import (
	"errors"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
)

// confirmation is a destructive action waiting for the operator's y.
type confirmation struct {
	prompt string
	act    func(m model) (tea.Model, tea.Cmd)
}

// ask runs act once the operator confirms with y (or enter); any other key
// cancels. With confirmations off (--no-confirm) act runs at once.
func (m model) ask(prompt string, act func(m model) (tea.Model, tea.Cmd)) (tea.Model, tea.Cmd) {
	if m.noConfirm {
		return act(m)
	}
	m.confirm = &confirmation{prompt: prompt, act: act}
	m.menu, m.showHelp = false, false
	return m, nil
}

// askStage asks before running op on the selected stage; what says what
// it does.
func (m model) askStage(op, what string, do func(name string) error) (tea.Model, tea.Cmd) {
	if _, ok := m.selectedStage(); !ok {
		m.setFlash("✗ "+op+": no stage selected", true)
		return m, nil
	}
	return m.ask(op+" "+m.selected+" ("+what+")", func(m model) (tea.Model, tea.Cmd) { return m.stageCmd(op, do) })
}

// answer takes the key that answers a confirmation.
func (m model) answer(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	c := m.confirm
	m.confirm = nil
	if msg.String() == "y" || msg.String() == "Y" || msg.Type == tea.KeyEnter {
		return c.act(m)
	}
	m.setFlash("cancelled: "+c.prompt, false)
	return m, nil
}

// confirmLine is the question on the status line.
func (m model) confirmLine(w int) string {
	return m.styles.Blocked.Render(trunc(clean(m.confirm.prompt)+"? y/n", w))
}

// clearAllFaults turns off every fault on every stage (F).
func (m model) clearAllFaults() (tea.Model, tea.Cmd) {
	n := 0
	for _, st := range m.snap.Stages {
		n += len(st.Faults)
	}
	if n == 0 {
		m.setFlash("no fault is on", false)
		return m, nil
	}
	c := m.c
	m.setFlash("clearing every fault…", false)
	return m, commandCmd("clear every fault", "", func() error {
		var errs []error
		for _, st := range m.snap.Stages {
			for _, f := range st.Faults {
				errs = append(errs, c.Clear(st.Name, f))
			}
		}
		return errors.Join(errs...)
	})
}

// editFilter takes one key while the filter is typed: enter applies it,
// esc cancels, backspace deletes.
func (m model) editFilter(msg tea.KeyMsg) model {
	switch msg.Type {
	case tea.KeyEnter:
		m.filtering, m.filter, m.match = false, m.filterBuf, 0
		m.logOffset = 0
	case tea.KeyEsc:
		m.filtering = false
	case tea.KeyBackspace:
		if r := []rune(m.filterBuf); len(r) > 0 {
			m.filterBuf = string(r[:len(r)-1])
		}
	case tea.KeySpace:
		m.filterBuf += " "
	case tea.KeyRunes:
		m.filterBuf += string(msg.Runes)
	}
	return m
}

// shownLogs are the log lines the pane shows: all, or those matching the
// filter (case-insensitive).
func (m model) shownLogs() []string {
	if m.filter == "" {
		return m.logs
	}
	f := strings.ToLower(m.filter)
	var out []string
	for _, l := range m.logs {
		if strings.Contains(strings.ToLower(l), f) {
			out = append(out, l)
		}
	}
	return out
}

// stepMatch moves the highlighted match d matches newer (n) or older (N),
// scrolling it into view. Without a filter, n and N say how to set one.
func (m *model) stepMatch(d int) {
	if m.filter == "" {
		m.setFlash("no filter: / sets one", false)
		return
	}
	n := len(m.shownLogs())
	if n == 0 {
		return
	}
	// match counts back from the newest: 0 is the newest line.
	m.match = min(max(m.match-d, 0), n-1)
	rows := max(1, m.layout().logRows)
	if m.match < m.logOffset {
		m.logOffset = m.match
	} else if m.match >= m.logOffset+rows {
		m.logOffset = m.match - rows + 1
	}
	m.clampLogOffset()
}
