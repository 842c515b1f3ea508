package tui

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/x/ansi"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
)

// faultInfo says what a fault does, for the fault menu.
func faultInfo(f stage.Fault) string {
	switch f {
	case stage.FaultKill:
		return "SIGKILL the stage once; the restart policy reacts"
	case stage.FaultPause:
		return "SIGSTOP it until cleared (a hung stage)"
	case stage.FaultCrashLoop:
		return "every start exits at once until cleared"
	case stage.FaultCorrupt:
		return "inject random bytes into its input"
	case stage.FaultTruncate:
		return "inject truncated copies of real messages"
	case stage.FaultSlow:
		return "let it run only a fraction of the time"
	case stage.FaultDBFull:
		return "the logger's database cannot grow"
	case stage.FaultSilent:
		return "it stops sending status"
	}
	return string(f)
}

// faultOnly names the kinds of stage a fault applies to, as their Specs
// say ("logger"), or "" when it applies to every kind.
func faultOnly(f stage.Fault) string {
	var kinds []string
	for _, sp := range stage.Table {
		if sp.Has(f) {
			kinds = append(kinds, string(sp.Kind))
		}
	}
	if len(kinds) == len(stage.Table) {
		return ""
	}
	return strings.Join(kinds, "/")
}

// faultApplies reports whether f applies to a stage of kind; a kind not in
// the table (a remote stage's) is given the benefit of the doubt.
func faultApplies(f stage.Fault, kind stage.Kind) bool {
	sp, ok := stage.Lookup(kind)
	return !ok || sp.Has(f)
}

// sectionTitle draws a pane title filling w cells: "─ Events ───────".
func (m model) sectionTitle(title string, w int) string {
	t := "─ " + title + " "
	if ansi.StringWidth(t) >= w {
		return m.styles.Section.Render(trunc(title, w))
	}
	return m.styles.Dim.Render("─ ") + m.styles.Section.Render(title) + " " +
		m.styles.Dim.Render(strings.Repeat("─", w-ansi.StringWidth(t)))
}

// viewPanes draws the event log and the selected stage's log lines, side by
// side when there is room, else one above the other.
func (m model) viewPanes(l layout) []string {
	if l.panesH <= 0 {
		return nil
	}
	if !l.sideBy {
		eh := l.panesH / 2
		out := m.eventPane(l.w, eh)
		return append(out, m.logPane(l.w, l.panesH-eh)...)
	}
	lw := (l.w - 1) / 2
	if l.w >= 120 {
		lw = (l.w - 1) * 2 / 5 // log lines are the longer ones
	}
	rw := l.w - 1 - lw
	left, right := m.eventPane(lw, l.panesH), m.logPane(rw, l.panesH)
	sep := m.styles.Dim.Render("│")
	out := make([]string, l.panesH)
	for i := range out {
		out[i] = fit(left[i], lw) + sep + right[i]
	}
	return out
}

// eventPane is the newest events under a title, h lines in all. An event
// too long for w goes on in a second, indented line, so its text (the pid,
// the exit, the delay) stays readable on narrow terminals.
func (m model) eventPane(w, h int) []string {
	if h <= 0 {
		return nil
	}
	events := m.events()
	end := max(0, len(events)-m.eventOffset)
	rows := h - 1
	var blocks [][]string // newest first
	for i := end - 1; i >= 0 && rows > 0; i-- {
		b := m.eventLines(events[i], w, rows > 1)
		if len(b) > rows {
			b = m.eventLines(events[i], w, false)
		}
		blocks = append(blocks, b)
		rows -= len(b)
	}
	title := "Events"
	switch {
	case m.eventOffset > 0:
		title += " ↑" + strconv.Itoa(m.eventOffset) + " (end follows)"
	case m.focusEvents:
		title += " (pgup scrolls)"
	}
	out := []string{m.paneTitle(title, w, m.focusEvents)}
	for i := len(blocks) - 1; i >= 0; i-- {
		out = append(out, blocks[i]...)
	}
	for len(out) < h {
		out = append(out, "")
	}
	return out
}

// events are the supervisor's events with the tour's narration among them,
// oldest first.
func (m model) events() []supervisor.Event {
	if len(m.notes) == 0 {
		return m.snap.Events
	}
	all := append(slices.Clone(m.snap.Events), m.notes...)
	slices.SortStableFunc(all, func(a, b supervisor.Event) int { return a.At.Compare(b.At) })
	return all
}

// paneTitle is a pane's title, marked when the scroll keys move it.
func (m model) paneTitle(title string, w int, focused bool) string {
	if focused {
		title = "▸ " + title
	}
	return m.sectionTitle(title, w)
}

// eventLines draws one event in one line of at most w cells, or, if wrap,
// two when its text does not fit: the second is indented and cut with "…".
func (m model) eventLines(e supervisor.Event, w int, wrap bool) []string {
	head := m.styles.Dim.Render(e.At.Format("15:04:05")) + " "
	if e.Stage != "" {
		head += clean(e.Stage) + " "
	}
	text := clean(e.Text)
	if e.Kind != "" {
		head += m.styles.eventKind(e.Kind).Render(clean(string(e.Kind)))
		if text != "" {
			head += ": "
		}
	}
	if ansi.StringWidth(head)+ansi.StringWidth(text) <= w {
		return []string{head + text}
	}
	room := w - ansi.StringWidth(head)
	if !wrap || room < 8 {
		return []string{trunc(head+text, w)}
	}
	// Break at the last space that fits, else anywhere.
	first := ansi.Truncate(text, room, "")
	if i := strings.LastIndexByte(first, ' '); i > 0 {
		first = first[:i]
	}
	rest := strings.TrimLeft(text[len(first):], " ")
	return []string{head + first, "  " + trunc(rest, w-2)}
}

// logPane is the selected stage's log lines (those matching the filter,
// if one is set), scrolled logOffset lines back from the newest, under a
// title; h lines in all. Long lines are cut, or wrapped when wrap is on.
func (m model) logPane(w, h int) []string {
	if h <= 0 {
		return nil
	}
	logs := m.shownLogs()
	rows := h - 1
	out := []string{m.paneTitle(m.logTitle(len(logs), rows), w, !m.focusEvents)}
	switch {
	case m.logsFor != m.selected || m.selected == "":
		out = append(out, m.styles.Dim.Render(trunc("…", w)))
	case len(m.logs) == 0:
		out = append(out, m.styles.Dim.Render(trunc("no output yet", w)))
	case len(logs) == 0:
		out = append(out, m.styles.Dim.Render(trunc("no line matches "+strconv.Quote(m.filter), w)))
	}
	loc := m.now().Location()
	end := max(0, len(logs)-m.logOffset)
	var body []string // built from the newest line back until the pane is full
	for i := end - 1; i >= 0 && len(body) < rows; i-- {
		text, level := compactLog(logs[i], loc, w >= 100)
		text = clean(text)
		current := m.filter != "" && len(logs)-1-i == m.match
		if current {
			text = "» " + text // the match n and N move, visible without colour
		}
		var lines []string
		if m.wrap {
			lines = wrapText(text, w, "  ")
		} else {
			lines = []string{trunc(text, w)}
		}
		for j, l := range lines {
			switch {
			case current:
				lines[j] = m.styles.Selected.Render(l)
			case level == "ERROR":
				lines[j] = m.styles.Error.Render(l)
			case level == "WARN":
				lines[j] = m.styles.Blocked.Render(l)
			}
		}
		body = append(lines, body...)
	}
	if len(body) > rows {
		body = body[len(body)-rows:]
	}
	out = append(out, body...)
	out = out[:min(len(out), h)]
	for len(out) < h {
		out = append(out, "")
	}
	return out
}

// logTitle says whose log it is, the filter, and how to scroll.
func (m model) logTitle(n, rows int) string {
	title := "Logs"
	if m.selected != "" {
		title += " " + clean(m.selected)
	}
	if m.filter != "" {
		title += " /" + clean(m.filter) + " (" + strconv.Itoa(n) + " lines; n/N, esc clears)"
	}
	if m.wrap {
		title += " wrapped"
	}
	if m.logOffset > 0 {
		title += " ↑" + strconv.Itoa(m.logOffset) + " (end follows)"
	} else if n > rows && m.filter == "" {
		title += " (pgup scrolls)"
	}
	return title
}

// wrapText breaks s into lines of at most w cells, the later ones
// indented, at spaces where it can.
func wrapText(s string, w int, indent string) []string {
	if w <= len(indent)+4 || ansi.StringWidth(s) <= w {
		return []string{trunc(s, w)}
	}
	var out []string
	for prefix := ""; s != ""; prefix = indent {
		room := w - len(prefix)
		if ansi.StringWidth(s) <= room {
			out = append(out, prefix+s)
			break
		}
		cut := ansi.Truncate(s, room, "")
		if i := strings.LastIndexByte(cut, ' '); i > room/2 {
			cut = cut[:i]
		}
		if cut == "" { // a character wider than the room
			_, n := utf8.DecodeRuneInString(s)
			cut = s[:n]
		}
		out = append(out, prefix+cut)
		s = strings.TrimLeft(s[len(cut):], " ")
	}
	return out
}

// viewFaultMenu lists every fault with its key, for the selected stage, in
// h lines.
func (m model) viewFaultMenu(w, h int) []string {
	if h <= 0 {
		return nil
	}
	s := m.styles
	st, _ := m.selectedStage()
	active := map[stage.Fault]bool{}
	for _, f := range st.Faults {
		active[f] = true
	}
	out := []string{m.sectionTitle("Inject a fault into "+clean(st.Name)+" · again clears it · F clears all · esc closes", w)}
	nameW := 0
	for _, f := range stage.AllFaults {
		nameW = max(nameW, len(f))
	}
	for i, b := range m.keys.Fault {
		f := stage.AllFaults[i]
		mark := "   "
		if active[f] {
			mark = s.Active.Render(" on")
		}
		name, info := fit(string(f), nameW), faultInfo(f)
		if only := faultOnly(f); only != "" && !faultApplies(f, st.Kind) {
			name, info = s.Dim.Render(name), info+" ("+only+" only)"
		}
		line := " " + s.Key.Render(b.Help().Key) + "  " + name + mark + "  " + s.Dim.Render(info)
		out = append(out, trunc(line, w))
	}
	return out[:min(len(out), h)]
}

// viewFullHelp lists every key in columns that fit h-1 lines.
func (m model) viewFullHelp(w, h int) []string {
	if h <= 0 {
		return nil
	}
	var all []key.Binding
	for _, g := range m.helpKeys().FullHelp() {
		all = append(all, g...)
	}
	rows := max(1, h-1)
	// Keep the groups together when they fit: one group a column.
	groups := m.helpKeys().FullHelp()
	cols := groups
	tallest := 0
	for _, g := range groups {
		tallest = max(tallest, len(g))
	}
	hm := m.help
	hm.Width = w
	grouped := hm.FullHelpView(groups)
	widest := 0
	for _, line := range strings.Split(grouped, "\n") {
		widest = max(widest, ansi.StringWidth(line))
	}
	if tallest > rows || widest > w || strings.Contains(grouped, "…") {
		cols = nil
		for i := 0; i < len(all); i += rows {
			cols = append(cols, all[i:min(i+rows, len(all))])
		}
	}
	out := []string{m.sectionTitle("Keys · ? or esc closes", w)}
	out = append(out, strings.Split(hm.FullHelpView(cols), "\n")...)
	return out[:min(len(out), h)]
}
