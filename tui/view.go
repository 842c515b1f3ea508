package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/x/ansi"

	"github.com/imaging-tui/imaging-tui/supervisor"
)

// Box geometry.
const (
	minBoxW = 14 // narrowest box: "extractor-10" fits in its top border
	maxBoxW = 56
	// maxArrowW is the longest arrow between boxes: on wide terminals the
	// arrows take up the room the widest boxes leave.
	maxArrowW = 12
	// sidePanesMin is the narrowest width that shows the event log and the
	// log lines side by side; narrower terminals stack them.
	sidePanesMin = 60
	// tallH is the height from which boxes get a fourth line and the flash
	// gets its own line beside the selected stage's details.
	tallH = 40
)

// layout is where each part of the screen goes at the current size. Update
// uses it for scrolling, View for drawing.
type layout struct {
	w, h int

	perRow, boxW, arrowW int // boxes per row, box width, arrow width (between kinds)
	gapW                 int // space between replicas of one kind
	boxLines             int // content lines in a box: 1, 3 or 4
	pipeH                int // lines of the pipeline (all box rows)
	orderH               int // the start order line

	tableH  int // stage table: header and one row a stage
	infoH   int // database and link lines
	panesH  int // event log and log lines, titles included
	logRows int // log lines shown
	areaH   int // everything below the boxes: the fault menu and full help use it
	statusH int // selected stage's details and the flash line
	sideBy  bool
}

// fitBoxes chooses boxes per row, their width and the room between them:
// the widest arrows between kinds and one space between replicas that fit,
// else narrower arrows, else fewer boxes a row.
func (l *layout) fitBoxes(stages []supervisor.StageSnapshot) {
	flow := flowOrder(stages)
	// joins are the room between the first k boxes: arrows a kinds, gaps
	// between replicas.
	joins := func(k int) (arrows, gaps int) {
		for i := 1; i < k; i++ {
			if flow[i].Kind == flow[i-1].Kind {
				gaps++
			} else {
				arrows++
			}
		}
		return arrows, gaps
	}
	l.perRow, l.arrowW, l.gapW = len(flow), 3, 1
	for {
		a, g := joins(l.perRow)
		if l.perRow == 1 || l.perRow*minBoxW+a*l.arrowW+g*l.gapW <= l.w {
			break
		}
		if l.arrowW == 3 && l.perRow*minBoxW+a+g <= l.w {
			l.arrowW = 1
			break
		}
		l.perRow--
		l.arrowW = 3
	}
	a, g := joins(l.perRow)
	if l.perRow == 1 {
		l.arrowW = 0
	}
	l.boxW = min(maxBoxW, max(1, (l.w-a*l.arrowW-g*l.gapW)/l.perRow))
	if a > 0 && l.arrowW == 3 {
		spare := l.w - l.perRow*l.boxW - a*l.arrowW - g*l.gapW
		l.arrowW = min(maxArrowW, l.arrowW+spare/a)
	}
}

func (m model) layout() layout {
	l := layout{w: max(m.width, 1), h: max(m.height, 1)}
	l.statusH = 1
	if l.h >= tallH {
		l.statusH = 2
	}
	avail := max(0, l.h-1-l.statusH-1) // title, status, help bar
	n := len(m.snap.Stages)

	if n == 0 {
		l.pipeH = 1
	} else {
		l.fitBoxes(m.snap.Stages)
		rows := (n + l.perRow - 1) / l.perRow
		l.boxLines = 3
		if l.h >= tallH {
			l.boxLines = 4
		}
		l.tableH = 1 + n + len(m.poolRows())
		if rows*(l.boxLines+2)+l.tableH+2+4 > avail {
			l.boxLines = 1
		}
		l.pipeH = rows * (l.boxLines + 2)
	}
	if m.haveSnap {
		l.infoH = 2
		if n > 0 && avail-l.pipeH > 4+n {
			l.orderH = 1
		}
	}
	l.pipeH = min(l.pipeH, avail)
	l.areaH = avail - l.pipeH - l.orderH
	l.tableH = min(l.tableH, l.areaH)
	l.infoH = min(l.infoH, l.areaH-l.tableH)
	l.panesH = l.areaH - l.tableH - l.infoH
	l.sideBy = l.w >= sidePanesMin
	if m.logFull {
		l.logRows = max(0, l.h-3-l.statusH)
		return l
	}
	if l.sideBy {
		l.logRows = max(0, l.panesH-1)
	} else {
		l.logRows = max(0, l.panesH-l.panesH/2-1)
	}
	return l
}

// View draws the screen: never more lines than the terminal's height, never
// a line wider than its width.
func (m model) View() string {
	l := m.layout()
	var top []string
	top = append(top, m.viewTitle(l.w))
	if m.logFull {
		top = append(top, m.logPane(l.w, l.logRows+1)...)
		return m.finish(l, top)
	}
	if !m.haveSnap {
		top = append(top, m.styles.Dim.Render("waiting for the supervisor…"))
	} else if len(m.snap.Stages) == 0 {
		top = append(top, m.styles.Dim.Render("no stages"))
	} else {
		top = append(top, m.viewPipeline(l)...)
		if l.orderH > 0 {
			top = append(top, m.viewOrder(l.w))
		}
	}
	switch {
	case m.menu:
		top = append(top, m.viewFaultMenu(l.w, l.areaH)...)
	case m.detail:
		top = append(top, m.viewStageDetail(l.w, l.areaH)...)
	case m.showHelp:
		top = append(top, m.viewFullHelp(l.w, l.areaH)...)
	default:
		if l.tableH > 0 {
			top = append(top, m.viewTable(l.w)[:l.tableH]...)
		}
		top = append(top, m.viewInfo(l.w)[:l.infoH]...)
		top = append(top, m.viewPanes(l)...)
	}
	return m.finish(l, top)
}

// finish puts the status and help lines under top and fits it all to the
// terminal.
func (m model) finish(l layout, top []string) string {
	bottom := append(m.viewStatus(l), m.help.View(m.helpKeys()))

	top = top[:min(len(top), max(0, l.h-len(bottom)))]
	for len(top)+len(bottom) < l.h {
		top = append(top, "")
	}
	lines := append(top, bottom...)
	lines = lines[max(0, len(lines)-l.h):]
	for i, s := range lines {
		if ansi.StringWidth(s) > l.w {
			s = ansi.Truncate(s, l.w, "…")
		}
		lines[i] = strings.TrimRight(s, " ")
	}
	return strings.Join(lines, "\n")
}

// helpKeys is the key map the help bar follows: the fault menu's while it
// is open.
func (m model) helpKeys() help.KeyMap {
	if m.menu {
		return FaultMenuKeys{m.keys}
	}
	return m.keys
}

// viewTitle is the top line: program, pipeline summary, database path.
func (m model) viewTitle(w int) string {
	s := m.styles
	left := s.Title.Render("imaging-tui")
	var parts []string
	if m.haveSnap {
		running := 0
		for _, st := range m.snap.Stages {
			switch displayState(st) {
			case "running", "slow":
				running++
			}
		}
		parts = append(parts, fmtCount(int64(running))+"/"+fmtCount(int64(len(m.snap.Stages)))+" running")
		if m.snap.Delivery != "" {
			parts = append(parts, string(m.snap.Delivery))
		}
		if m.snap.StatusErrors > 0 {
			parts = append(parts, s.Error.Render(fmtCount(int64(m.snap.StatusErrors))+" bad status msgs"))
		}
	}
	if m.dbPath != "" {
		parts = append(parts, "db "+clean(m.dbPath))
	}
	if len(parts) > 0 {
		left += s.Dim.Render(" · ") + strings.Join(parts, s.Dim.Render(" · "))
	}
	right := s.Dim.Render(m.now().Format("15:04:05"))
	if gap := w - ansi.StringWidth(left) - ansi.StringWidth(right); gap >= 1 {
		return left + strings.Repeat(" ", gap) + right
	}
	return trunc(left, w)
}

// viewStatus is the selected stage's details and/or the flash line.
func (m model) viewStatus(l layout) []string {
	detail := m.viewDetail(l.w)
	switch {
	case m.confirm != nil:
		detail = m.confirmLine(l.w)
	case m.filtering:
		detail = m.styles.Key.Render(trunc("filter the log: /"+clean(m.filterBuf)+"▏  enter applies · esc cancels", l.w))
	}
	var flash string
	if m.flash != "" && m.now().Sub(m.flashAt) < flashFor {
		st := m.styles.OK
		if m.flashErr {
			st = m.styles.Error
		}
		flash = st.Render(trunc(clean(m.flash), l.w))
	}
	if l.statusH >= 2 {
		return []string{detail, flash}
	}
	if flash != "" && m.confirm == nil && !m.filtering {
		return []string{flash}
	}
	return []string{detail}
}
