package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/imaging-tui/imaging-tui/supervisor"
)

// column is one column of the stage table.
type column struct {
	title string
	w     int
	right bool
	cell  func(st supervisor.StageSnapshot) string
}

// colWidths are the stage table's column widths for one terminal width.
type colWidths struct {
	wide, narrow             bool
	name, spark, qbar, count int
}

func widthsFor(w int) colWidths {
	c := colWidths{wide: w >= 120, narrow: w < 80, name: 12, spark: 10, qbar: 6, count: 7}
	switch {
	case c.wide:
		c.name, c.qbar, c.count = 14, 10, 8
	case c.narrow:
		c.name, c.spark, c.qbar = 11, 6, 4
	}
	return c
}

// columns chooses the stage table's columns for width w: narrow terminals
// drop some, wide ones get more and a longer sparkline.
func (m model) columns(w int) []column {
	cw := widthsFor(w)
	cols, sparkCol := m.countColumns(cw)
	if cw.wide {
		cols = append(cols, m.wideColumns()...)
	}
	return m.fitColumns(cols, sparkCol, w, cw.wide)
}

// statusCell makes a cell of the last status received; when it is not
// current (the process is gone, paused or silent) the cell is dimmed.
func (m model) statusCell(f func(st supervisor.StageSnapshot) string) func(st supervisor.StageSnapshot) string {
	s := m.styles
	return func(st supervisor.StageSnapshot) string {
		if st.Status == nil {
			return s.Dim.Render("-")
		}
		if !current(st) {
			return s.Dim.Render(ansi.Strip(f(st)))
		}
		return f(st)
	}
}

// countColumns are the name, state, rate and counter columns, with an
// empty sparkline column at sparkCol for fitColumns to size.
func (m model) countColumns(cw colWidths) (cols []column, sparkCol int) {
	s, status := m.styles, m.statusCell
	scale := 16
	for _, st := range m.snap.Stages {
		if st.Status != nil {
			scale = max(scale, st.Status.QueueDepth)
		}
	}
	cols = append(cols, column{title: "STAGE", w: cw.name, cell: func(st supervisor.StageSnapshot) string {
		name := trunc(clean(st.Name), cw.name)
		if st.Name == m.selected {
			return s.Selected.Render(name)
		}
		return s.state(displayState(st)).Render(name)
	}})
	if cw.wide {
		cols = append(cols, column{title: "STATE", w: 8, cell: func(st supervisor.StageSnapshot) string {
			word := displayState(st)
			return s.state(word).Render(trunc(word, 8))
		}})
	}
	cols = append(cols, column{title: "FPS", w: 5, right: true, cell: status(func(st supervisor.StageSnapshot) string {
		if !live(st) {
			return "-" // the process is gone: its last rate is history
		}
		return fmt.Sprintf("%.1f", st.Status.FPS)
	})})
	sparkCol = len(cols)
	cols = append(cols, column{w: cw.spark})
	if !cw.narrow {
		cols = append(cols, column{title: "IN", w: cw.count, right: true, cell: status(func(st supervisor.StageSnapshot) string {
			return fmtShort(st.Status.FramesIn)
		})})
	}
	cols = append(cols,
		column{title: "OUT", w: cw.count, right: true, cell: status(func(st supervisor.StageSnapshot) string {
			return fmtShort(st.Status.FramesOut)
		})},
		column{title: "QUEUE", w: cw.qbar + 4, cell: status(func(st supervisor.StageSnapshot) string {
			full, empty := bar(st.Status.QueueDepth, scale, cw.qbar)
			return s.BarFull.Render(full) + s.BarEmpty.Render(empty) + fitRight(strconv.Itoa(st.Status.QueueDepth), 4)
		})},
		column{title: "DROP", w: 5, right: true, cell: status(func(st supervisor.StageSnapshot) string {
			return fmtShort(st.Status.Dropped)
		})},
		column{title: "ERR", w: 4, right: true, cell: status(func(st supervisor.StageSnapshot) string {
			if st.Status.Errors > 0 {
				return s.Error.Render(fmtShort(st.Status.Errors))
			}
			return "0"
		})},
	)
	return cols, sparkCol
}

// wideColumns are the byte rate and latency columns of wide terminals.
func (m model) wideColumns() []column {
	s := m.styles
	return []column{
		{title: "MB/s OUT", w: 8, right: true, cell: func(st supervisor.StageSnapshot) string {
			return fmt.Sprintf("%.2f", m.rates.rate(st.Name)/1e6)
		}},
		{title: "P50/P99", w: 11, right: true, cell: m.statusCell(func(st supervisor.StageSnapshot) string {
			if st.Status.Latency == nil {
				return s.Dim.Render("-")
			}
			return fmtMs(st.Status.Latency.P50) + "/" + fmtMs(st.Status.Latency.P99)
		})},
	}
}

// fitColumns gives the sparkline column its width and title (longer on
// wide terminals, up to a minute) and the width left to a LAST ERROR column.
func (m model) fitColumns(cols []column, sparkCol, w int, wide bool) []column {
	s := m.styles
	used := 2 // selection marker
	for _, c := range cols {
		used += c.w + 1
	}
	lastErrW := w - used
	if wide {
		extra := min(60-cols[sparkCol].w, max(0, lastErrW-24))
		cols[sparkCol].w += extra
		lastErrW -= extra
	}
	sw := cols[sparkCol].w
	cols[sparkCol].title = fmt.Sprintf("LAST %ds", sw)
	if sw >= 60 {
		cols[sparkCol].title = "LAST MINUTE"
	}
	cols[sparkCol].cell = func(st supervisor.StageSnapshot) string {
		return s.Spark.Render(sparkline(st.FPSHistory, sw))
	}
	if lastErrW > 0 {
		cols = append(cols, column{title: "LAST ERROR", w: lastErrW, cell: func(st supervisor.StageSnapshot) string {
			switch {
			case st.Status == nil:
				return ""
			case st.Status.StateReason != "" && current(st):
				// Why the stage is in its state matters more, while it lasts.
				return s.Blocked.Render(trunc(clean(st.Status.StateReason), lastErrW))
			case st.Status.LastError != "":
				return s.Error.Render(trunc(clean(st.Status.LastError), lastErrW))
			}
			return ""
		}})
	}
	return cols
}

// viewTable draws the per-stage table: a header and one row a stage.
func (m model) viewTable(w int) []string {
	cols := m.columns(w)
	var hdr strings.Builder
	hdr.WriteString("  ")
	for i, c := range cols {
		if i > 0 {
			hdr.WriteByte(' ')
		}
		if c.right {
			hdr.WriteString(fitRight(c.title, c.w))
		} else {
			hdr.WriteString(fit(c.title, c.w))
		}
	}
	lines := []string{m.styles.Dim.Render(strings.TrimRight(trunc(hdr.String(), w), " "))}
	for _, st := range m.snap.Stages {
		var b strings.Builder
		if st.Name == m.selected {
			b.WriteString(m.styles.Key.Render("▸") + " ")
		} else {
			b.WriteString("  ")
		}
		for i, c := range cols {
			if i > 0 {
				b.WriteByte(' ')
			}
			v := c.cell(st)
			if c.right {
				b.WriteString(fitRight(v, c.w))
			} else {
				b.WriteString(fit(v, c.w))
			}
		}
		lines = append(lines, strings.TrimRight(b.String(), " "))
	}
	return lines
}

// pick returns the first of the variants that fits in w, else the last
// one cut to w.
func pick(w int, variants ...string) string {
	for _, v := range variants {
		if ansi.StringWidth(v) <= w {
			return v
		}
	}
	return trunc(variants[len(variants)-1], w)
}

// viewInfo draws the database line and the data-link line.
func (m model) viewInfo(w int) []string {
	s := m.styles
	sep := s.Dim.Render(" · ")
	db := m.snap.DB
	long := []string{
		"images " + fmtCount(db.Images),
		"keypoints " + fmtCount(db.Keypoints),
		"descriptors " + fmtCount(db.Descriptors),
		"file " + fmtBytes(db.FileBytes),
	}
	short := []string{
		"img " + fmtCount(db.Images),
		"kp " + fmtCount(db.Keypoints),
		"desc " + fmtCount(db.Descriptors),
		fmtBytes(db.FileBytes),
	}
	if db.FreeBytes > 0 {
		long = append(long, "free "+fmtBytes(db.FreeBytes))
		short = append(short, "free "+fmtBytes(db.FreeBytes))
	}
	dbErr := ""
	if db.Err != "" {
		dbErr = sep + s.Error.Render(clean(db.Err))
	}
	mid := slices.Clone(long)
	mid[2] = short[2]
	mid[3] = short[3]
	var longL, shortL []string
	for _, l := range m.rates.links(m.snap) {
		from, to := string(l.From), string(l.To)
		long, short := from+" → "+to+" "+fmtRate(l.BPS), from[:min(3, len(from))]+"→"+to[:min(3, len(to))]+" "+fmtRate(l.BPS)
		if l.Seed > 0 {
			// Frames reach the downstream stage without our trailer: a seed
			// stage is on the way (or a seed generator at the start).
			long += " " + s.Blocked.Render("via seed stage ("+fmtCount(int64(l.Seed))+" without trailer)")
			short += " " + s.Blocked.Render("via seed")
		}
		longL = append(longL, long)
		shortL = append(shortL, short)
	}
	dbLine := pick(w,
		s.Section.Render("DB   ")+" "+strings.Join(long, sep)+dbErr,
		s.Section.Render("DB   ")+" "+strings.Join(mid, sep)+dbErr,
		s.Section.Render("DB   ")+" "+strings.Join(short, sep)+dbErr,
	)
	linkLine := pick(w,
		s.Section.Render("LINKS")+" "+strings.Join(longL, sep),
		s.Section.Render("LINKS")+" "+strings.Join(shortL, sep),
	)
	return []string{dbLine, linkLine}
}

// viewDetail is one line about the selected stage: what the boxes and the
// table have no room for.
func (m model) viewDetail(w int) string {
	st, ok := m.selectedStage()
	if !ok {
		return ""
	}
	s := m.styles
	word := displayState(st)
	parts := []string{
		s.Key.Render("▸ " + clean(st.Name)),
		s.state(word).Render(word),
	}
	if st.Kind != "" && !strings.HasPrefix(st.Name, string(st.Kind)) {
		parts = append(parts, clean(string(st.Kind)))
	}
	if len(st.Faults) > 0 {
		fs := make([]string, len(st.Faults))
		for i, f := range st.Faults {
			fs[i] = string(f)
		}
		parts = append(parts, s.Paused.Render("faults "+strings.Join(fs, ",")))
	}
	if st.LastExit != "" {
		parts = append(parts, "last exit: "+clean(st.LastExit))
	}
	if ss := st.Status; ss != nil {
		if ss.Latency != nil {
			parts = append(parts, "latency p50 "+fmtMs(ss.Latency.P50)+" p99 "+fmtMs(ss.Latency.P99))
		}
		if ss.Resent > 0 {
			parts = append(parts, "resent "+fmtCount(int64(ss.Resent)))
		}
		if ss.SeedFrames > 0 {
			parts = append(parts, "without trailer "+fmtCount(int64(ss.SeedFrames)))
		}
		if ss.StateReason != "" && current(st) {
			parts = append(parts, s.Blocked.Render(word+": "+clean(ss.StateReason)))
		}
		if ss.LastError != "" {
			parts = append(parts, s.Error.Render("error: "+clean(ss.LastError)))
		}
	}
	return trunc(strings.Join(parts, s.Dim.Render(" · ")), w)
}
