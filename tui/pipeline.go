package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
	"github.com/imaging-tui/imaging-tui/wire"
)

// displayState is the state word shown for a stage: the supervisor's state,
// refined by what it knows besides (paused, or slowed by the slow fault)
// and what the stage reports (blocked on a full database, stopping, frames
// not acknowledged).
func displayState(st supervisor.StageSnapshot) string {
	if st.Paused {
		if slices.Contains(st.Faults, stage.FaultSlow) && !slices.Contains(st.Faults, stage.FaultPause) {
			return "slow"
		}
		return "paused"
	}
	if st.State == supervisor.StateRunning && st.Status != nil {
		switch st.Status.State {
		case wire.StateBlocked, wire.StateStopping, wire.StateUnacked:
			return st.Status.State
		}
	}
	if st.State == "" {
		return "unknown"
	}
	return string(st.State)
}

// current reports whether the stage's last status describes it now: it
// runs, reports on time and is not paused (a slowed stage still reports).
func current(st supervisor.StageSnapshot) bool {
	return (st.State == supervisor.StateRunning || st.State == supervisor.StateRemote) && displayState(st) != "paused"
}

// live reports whether the stage has a process the supervisor watches.
func live(st supervisor.StageSnapshot) bool {
	switch st.State {
	case supervisor.StateRunning, supervisor.StateStale, supervisor.StateStarting, supervisor.StateRemote:
		return true
	}
	return false
}

// flowOrder is the stages as the data flows through them: the kinds in
// stage.Table's order (generator, extractor pool, logger), each kind's
// instances together in their start order, then kinds the table does not
// know (a remote stage's). It does not change when the start order does.
func flowOrder(stages []supervisor.StageSnapshot) []supervisor.StageSnapshot {
	rank := func(k stage.Kind) int {
		for i, sp := range stage.Table {
			if sp.Kind == k {
				return i
			}
		}
		return len(stage.Table)
	}
	out := slices.Clone(stages)
	slices.SortStableFunc(out, func(a, b supervisor.StageSnapshot) int { return rank(a.Kind) - rank(b.Kind) })
	return out
}

// viewPipeline draws the stages as boxes in the order the data flows, an
// arrow between one kind and the next and replicas side by side, wrapping
// onto more rows when they do not fit across.
func (m model) viewPipeline(l layout) []string {
	stages := m.snap.Stages // in flow order (applySnapshot)
	h := l.boxLines + 2
	var out []string
	for start := 0; start < len(stages); start += l.perRow {
		row := stages[start:min(start+l.perRow, len(stages))]
		boxes := make([][]string, len(row))
		for i, st := range row {
			boxes[i] = m.renderBox(st, l.boxW, l.boxLines, st.Name == m.selected)
		}
		// A row that goes on from the one above starts with the arrow
		// into it, when there is room.
		into := start > 0 && row[0].Kind != stages[start-1].Kind &&
			len(row)*l.boxW+(len(row)-1)*max(l.arrowW, l.gapW)+3 <= l.w
		for line := 0; line < h; line++ {
			var b strings.Builder
			if into {
				b.WriteString(m.arrow(line == h/2, 3))
			}
			for i, bx := range boxes {
				switch {
				case i > 0 && row[i].Kind == row[i-1].Kind:
					b.WriteString(strings.Repeat(" ", l.gapW)) // replicas side by side
				case i > 0:
					b.WriteString(m.arrow(line == h/2, l.arrowW))
				}
				b.WriteString(bx[line])
			}
			out = append(out, b.String())
		}
	}
	return out[:min(len(out), l.pipeH)]
}

// viewOrder is the start order, apart from the picture, where [ and ] act.
func (m model) viewOrder(w int) string {
	s := m.styles
	names := make([]string, len(m.startOrder))
	for i, name := range m.startOrder {
		names[i] = clean(name)
		if name == m.selected {
			names[i] = s.Key.Render(names[i])
		}
	}
	order := strings.Join(names, s.Dim.Render(" › "))
	return pick(w,
		s.Section.Render("START ORDER")+" "+order+s.Dim.Render("  the order stages start in (and restart on R); [ ] move the selected one; the data flows as drawn above"),
		s.Section.Render("START ORDER")+" "+order+s.Dim.Render("  stages start in this order; [ ] move"),
		s.Section.Render("START ORDER")+" "+order+s.Dim.Render("  (who starts first; [ ] move)"),
		s.Section.Render("START ORDER")+" "+order+s.Dim.Render("  [ ] move"),
		s.Section.Render("START")+" "+order+s.Dim.Render("  [ ] move"),
		s.Section.Render("START")+" "+order,
	)
}

func (m model) arrow(mid bool, w int) string {
	if !mid || w <= 0 {
		return strings.Repeat(" ", max(w, 0))
	}
	if w == 1 {
		return m.styles.Dim.Render("→")
	}
	if w == 2 {
		return m.styles.Dim.Render("→") + " "
	}
	return " " + m.styles.Dim.Render(strings.Repeat("─", w-3)+"→") + " "
}

// renderBox draws one stage as a box w cells wide with n content lines. The
// border takes the state's colour; the selected box has a double border, so
// the selection shows without colour too.
func (m model) renderBox(st supervisor.StageSnapshot, w, n int, selected bool) []string {
	word := displayState(st)
	bs := m.styles.state(word)
	tl, tr, bl, br, hz, vt := "╭", "╮", "╰", "╯", "─", "│"
	if selected {
		tl, tr, bl, br, hz, vt = "╔", "╗", "╚", "╝", "═", "║"
		bs = bs.Bold(true)
	}
	iw := max(0, w-2)
	name := clean(st.Name)
	title := " " + name + " "
	if ansi.StringWidth(title) > iw {
		title = trunc(name, iw)
	}
	nameStyle := m.styles.Title
	if !selected {
		nameStyle = bs.Bold(true)
	}
	top := bs.Render(tl) + nameStyle.Render(title) + bs.Render(strings.Repeat(hz, iw-ansi.StringWidth(title))+tr)
	lines := []string{top}
	for _, c := range m.boxContent(st, word, iw, n) {
		lines = append(lines, bs.Render(vt)+fit(c, iw)+bs.Render(vt))
	}
	lines = append(lines, bs.Render(bl+strings.Repeat(hz, iw)+br))
	return lines
}

// shortExit shortens an exit description for a narrow box: "signal:
// killed" becomes "killed", "exit status 1" becomes "exit 1".
func shortExit(s string) string {
	s = strings.TrimPrefix(s, "signal: ")
	return strings.Replace(s, "exit status ", "exit ", 1)
}

// boxContent is a box's n content lines: state, pid or last exit, uptime
// and restarts, and with four lines the stage's rate. Active faults go on
// the state line when they fit, else on the third line.
func (m model) boxContent(st supervisor.StageSnapshot, word string, iw, n int) []string {
	now := m.now()
	wide := iw >= 22
	state := "● " + word
	if st.State == supervisor.StateBackoff && !st.BackoffUntil.IsZero() {
		state += " " + fmtDur(st.BackoffUntil.Sub(now).Round(time.Second))
	}
	if stalled := stallFor(st, now); stalled != "" {
		if word == "running" {
			state = "● stalled"
		}
		state += " " + stalled
	}
	var fs []string
	for _, f := range st.Faults {
		// The state word already says "paused" or "slow".
		if (f == stage.FaultPause && word == "paused") || (f == stage.FaultSlow && word == "slow") {
			continue
		}
		fs = append(fs, string(f))
	}
	faults := strings.Join(fs, ",")
	restarts := restartsShort(st)
	var second, third string
	if live(st) {
		second = "pid " + strconv.Itoa(st.PID)
		if st.PID == 0 {
			second = "pid -"
		}
		if h := m.hostOf(st); h != "" {
			second += " @" + h
		}
		up := "up -"
		if !st.StartedAt.IsZero() {
			up = "up " + fmtDur(now.Sub(st.StartedAt))
		}
		if wide {
			third = pick(iw, up+" · "+restartsText(st), up+" · ↻"+restarts, up)
		} else {
			second += " ↻" + restarts
			third = up
		}
	} else {
		exit := clean(st.LastExit)
		switch {
		case exit == "":
			second = "not running"
		case wide:
			second = pick(iw, "last exit: "+exit, "last exit: "+shortExit(exit), shortExit(exit))
		default:
			second = shortExit(exit)
		}
		if wide {
			third = restartsText(st)
		} else {
			second += " ↻" + restarts
		}
	}
	fstyle := m.styles.Paused
	stateLine := m.styles.state(word).Render(state)
	if strings.HasPrefix(state, "● stalled") {
		stateLine = m.styles.Blocked.Render(state)
	}
	switch {
	case faults == "":
	case ansi.StringWidth(state+" ["+faults+"]") <= iw:
		stateLine += " [" + fstyle.Render(faults) + "]"
	case third != "" && ansi.StringWidth(third+" · "+faults) <= iw:
		third += " · " + fstyle.Render(faults)
	default:
		third = "fault " + fstyle.Render(faults)
	}
	rate := ""
	if live(st) && st.Status != nil {
		rate = fmt.Sprintf("%.1f fps · queue %d", st.FPS, st.Status.QueueDepth)
		if !current(st) {
			rate = m.styles.Dim.Render(rate) // the last status: old news
		}
	}
	lines := []string{stateLine, second, third, rate}
	return lines[:min(n, len(lines))]
}

// stallFor is how long the stage has not moved frames ("12s"), or "" while
// it moves them.
func stallFor(st supervisor.StageSnapshot, now time.Time) string {
	if st.StalledSince.IsZero() {
		return ""
	}
	return fmtDur(now.Sub(st.StalledSince))
}

// restartsShort is the restart count for a narrow place.
func restartsShort(st supervisor.StageSnapshot) string { return strconv.Itoa(st.Restarts) }

// restartsText is the restart count, saying how many were crashes (the
// rest were the operator's).
func restartsText(st supervisor.StageSnapshot) string {
	switch {
	case st.Crashes == 1:
		return "restarts " + strconv.Itoa(st.Restarts) + " (1 crash)"
	case st.Crashes > 1:
		return "restarts " + strconv.Itoa(st.Restarts) + " (" + strconv.Itoa(st.Crashes) + " crashes)"
	}
	return "restarts " + strconv.Itoa(st.Restarts)
}

// restartsLong splits the restarts into crashes and the operator's.
func restartsLong(st supervisor.StageSnapshot) string {
	return "crashes " + strconv.Itoa(st.Crashes) + " · op " + strconv.Itoa(st.OperatorRestarts)
}

// hostOf is the host a stage reports from, when it is not this one.
func (m model) hostOf(st supervisor.StageSnapshot) string {
	host := st.Host
	if host == "" && st.Status != nil {
		host = st.Status.Host
	}
	if host == "" || host == m.host {
		return ""
	}
	return clean(host)
}
