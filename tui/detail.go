package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/imaging-tui/imaging-tui/supervisor"
)

// detailLabelW is the width of the detail view's labels.
const detailLabelW = 10

// viewStageDetail is the selected stage's detail view, h lines of w cells:
// its process, frames over the run and per process, restarts by cause,
// faults, the whole last error, its command line and log file, its state
// history and processes, then its newest log lines, wrapped.
func (m model) viewStageDetail(w, h int) []string {
	if h <= 0 {
		return nil
	}
	st, ok := m.selectedStage()
	if !ok {
		return []string{m.sectionTitle("no stage selected · esc back", w)}
	}
	word := displayState(st)
	out := []string{m.sectionTitle(clean(st.Name)+" · "+clean(string(st.Kind))+" · "+word+" · esc back", w)}
	add := func(label, text string) {
		for i, l := range wrapText(text, w-detailLabelW, "") {
			if i == 0 {
				out = append(out, m.styles.Section.Render(fit(label, detailLabelW))+l)
			} else {
				out = append(out, strings.Repeat(" ", detailLabelW)+l)
			}
		}
	}
	add("process", m.detailProcess(st))
	add("frames", detailFrames(st))
	add("restarts", detailRestarts(st))
	add("faults", detailFaults(st))
	if st.LastError != "" {
		when := ""
		if !st.LastErrorAt.IsZero() {
			when = st.LastErrorAt.In(m.now().Location()).Format("15:04:05") + " (" + fmtDur(m.now().Sub(st.LastErrorAt)) + " ago) "
		}
		add("error", when+clean(st.LastError))
	}
	if st.LogPath != "" {
		add("log file", clean(st.LogPath))
	}
	if len(st.Args) > 0 {
		add("command", "imaging-tui "+clean(strings.Join(st.Args, " ")))
	}
	add("states", m.detailStates(st, 8))
	for i := max(0, len(st.Runs)-4); i < len(st.Runs); i++ {
		label := ""
		if i == max(0, len(st.Runs)-4) {
			label = "processes"
		}
		add(label, m.detailRun(st.Runs[i]))
	}
	if rest := h - len(out) - 1; rest > 0 && m.logsFor == st.Name {
		out = append(out, m.sectionTitle("newest log lines", w))
		var body []string
		loc := m.now().Location()
		for i := len(m.logs) - 1; i >= 0 && len(body) < rest; i-- {
			text, _ := compactLog(m.logs[i], loc, true)
			body = append(wrapText(clean(text), w, "  "), body...)
		}
		out = append(out, body[max(0, len(body)-rest):]...)
	}
	for i, l := range out {
		if ansi.StringWidth(l) > w {
			out[i] = trunc(l, w)
		}
	}
	return out[:min(len(out), h)]
}

func (m model) detailProcess(st supervisor.StageSnapshot) string {
	if st.PID == 0 {
		s := "not running"
		if st.LastExit != "" {
			s += " · last exit: " + clean(st.LastExit)
		}
		return s
	}
	parts := []string{"pid " + strconv.Itoa(st.PID)}
	if h := m.hostOf(st); h != "" {
		parts = append(parts, "on "+h)
	}
	if !st.StartedAt.IsZero() {
		parts = append(parts, "up "+fmtDur(m.now().Sub(st.StartedAt)))
	}
	if st.State != supervisor.StateRemote {
		parts = append(parts, fmt.Sprintf("CPU %.0f%%", st.CPUPercent), "RSS "+fmtBytes(st.RSS))
	}
	parts = append(parts, fmt.Sprintf("%.1f fps now", st.FPS))
	if s := stallFor(st, m.now()); s != "" {
		parts = append(parts, "no frame out for "+s)
	}
	return strings.Join(parts, " · ")
}

func detailFrames(st supervisor.StageSnapshot) string {
	s := "in " + fmtCount(int64(st.FramesIn)) + " · out " + fmtCount(int64(st.FramesOut)) +
		" · errors " + fmtCount(int64(st.Errors)) + " over the run"
	if ss := st.Status; ss != nil && st.PID != 0 {
		s += "; this process in " + fmtCount(int64(ss.FramesIn)) + " · out " + fmtCount(int64(ss.FramesOut)) +
			" · queue " + strconv.Itoa(ss.QueueDepth)
	}
	return s
}

func detailRestarts(st supervisor.StageSnapshot) string {
	return fmt.Sprintf("%d: %d after a crash, %d by the operator · kills %d", st.Restarts, st.Crashes, st.OperatorRestarts, st.Kills)
}

func detailFaults(st supervisor.StageSnapshot) string {
	if len(st.Faults) == 0 {
		return "none"
	}
	fs := make([]string, len(st.Faults))
	for i, f := range st.Faults {
		fs[i] = string(f)
	}
	return strings.Join(fs, ", ") + " (F clears every fault)"
}

// detailStates is the newest n state changes, oldest first, with times.
func (m model) detailStates(st supervisor.StageSnapshot, n int) string {
	var parts []string
	loc := m.now().Location()
	for _, c := range st.States[max(0, len(st.States)-n):] {
		parts = append(parts, c.At.In(loc).Format("15:04:05")+" "+string(c.State))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " → ")
}

// detailRun is one process: pid, from–to, how it ended and why, frames.
func (m model) detailRun(r supervisor.ProcessRun) string {
	loc := m.now().Location()
	s := "pid " + strconv.Itoa(r.PID) + " " + r.Started.In(loc).Format("15:04:05")
	if r.Ended.IsZero() {
		return s + "– running"
	}
	s += "–" + r.Ended.In(loc).Format("15:04:05") + " (" + fmtDur(r.Ended.Sub(r.Started).Round(time.Second)) + ") " + clean(r.Exit)
	switch r.Cause {
	case supervisor.CauseCrash:
		s += ", crashed"
	case supervisor.CauseOperator:
		s += ", by the operator"
	}
	return s + " · in " + fmtCount(int64(r.In)) + " out " + fmtCount(int64(r.Out))
}
