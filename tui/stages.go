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
		if !st.StalledSince.IsZero() {
			return s.Blocked.Render("0") // paused, silent or stalled: not its last rate
		}
		return fmt.Sprintf("%.1f", st.FPS)
	})})
	sparkCol = len(cols)
	cols = append(cols, column{w: cw.spark})
	if !cw.narrow {
		// Over the run: every process of the stage (the detail view has
		// each process's own).
		cols = append(cols, column{title: "IN", w: cw.count, right: true, cell: func(st supervisor.StageSnapshot) string {
			return fmtShort(st.FramesIn)
		}})
	}
	cols = append(cols,
		column{title: "OUT", w: cw.count, right: true, cell: func(st supervisor.StageSnapshot) string {
			return fmtShort(st.FramesOut)
		}},
		column{title: "QUEUE", w: cw.qbar + 4, cell: status(func(st supervisor.StageSnapshot) string {
			full, empty := bar(st.Status.QueueDepth, scale, cw.qbar)
			return s.BarFull.Render(full) + s.BarEmpty.Render(empty) + fitRight(strconv.Itoa(st.Status.QueueDepth), 4)
		})},
		column{title: "DROP", w: 5, right: true, cell: status(func(st supervisor.StageSnapshot) string {
			return fmtShort(st.Status.Dropped)
		})},
		column{title: "ERR", w: 4, right: true, cell: func(st supervisor.StageSnapshot) string {
			if st.Errors > 0 {
				return s.Error.Render(fmtShort(st.Errors))
			}
			return "0"
		}},
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
			case st.Status != nil && st.Status.StateReason != "" && current(st):
				// Why the stage is in its state matters more, while it lasts.
				return s.Blocked.Render(trunc(clean(st.Status.StateReason), lastErrW))
			case st.LastError != "":
				return m.errorWithAge(st, lastErrW)
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
	pools := m.poolRows()
	for i, st := range m.snap.Stages {
		lines = append(lines, m.tableRow(cols, st))
		last := i == len(m.snap.Stages)-1 || m.snap.Stages[i+1].Kind != st.Kind
		if p, ok := pools[st.Kind]; ok && last {
			lines = append(lines, m.tableRow(cols, p))
		}
	}
	return lines
}

// poolRows are the sum rows of the kinds with several instances, by kind:
// the pool's rate now, and its frames and errors over the run (instances
// scaled away included).
func (m model) poolRows() map[stage.Kind]supervisor.StageSnapshot {
	out := map[stage.Kind]supervisor.StageSnapshot{}
	for _, k := range m.snap.Kinds {
		var n int
		p := supervisor.StageSnapshot{Kind: k.Kind, State: supervisor.StateRunning, Status: &wire.Status{},
			FramesIn: k.FramesIn, FramesOut: k.FramesOut, Errors: k.Errors}
		for _, st := range m.snap.Stages {
			if st.Kind != k.Kind || st.State == supervisor.StateRemote {
				continue
			}
			n++
			if live(st) {
				p.FPS += st.FPS
				if st.Status != nil {
					p.Status.QueueDepth += st.Status.QueueDepth
					p.Status.Dropped += st.Status.Dropped
				}
			}
			for j, v := range st.FPSHistory {
				if j >= len(p.FPSHistory) {
					p.FPSHistory = append(p.FPSHistory, 0)
				}
				p.FPSHistory[j] += v
			}
		}
		if n >= 2 {
			p.Name = "Σ " + string(k.Kind) + "s" // every instance, over the run
			out[k.Kind] = p
		}
	}
	return out
}

// tableRow is one row of the stage table.
func (m model) tableRow(cols []column, st supervisor.StageSnapshot) string {
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
	return strings.TrimRight(b.String(), " ")
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
		q := strconv.Itoa(m.queued(l.To))
		longL = append(longL, long+", "+q+" queued")
		shortL = append(shortL, short+" q"+q)
	}
	dbLine := pick(w,
		s.Section.Render("DB   ")+" "+strings.Join(long, sep)+dbErr,
		s.Section.Render("DB   ")+" "+strings.Join(mid, sep)+dbErr,
		s.Section.Render("DB   ")+" "+strings.Join(short, sep)+dbErr,
	)
	if hosts := m.hostRates(); hosts != "" {
		longL = append(longL, hosts)
		shortL = append(shortL, hosts)
	}
	if n, oldest, ok := m.unstored(); ok {
		longL = append(longL, "unstored "+fmtCount(int64(n))+", oldest "+oldest)
		shortL = append(shortL, "unstored "+fmtCount(int64(n))+", oldest "+oldest)
	}
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
	if st.Crashes+st.OperatorRestarts > 0 {
		parts = append(parts, restartsLong(st))
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
	}
	if st.LastError != "" {
		parts = append(parts, m.errorWithAge(st, w))
	}
	parts = append(parts, s.Dim.Render("enter: details"))
	return trunc(strings.Join(parts, s.Dim.Render(" · ")), w)
}

// recentError is how long an error stays red; after it, it is dimmed: it
// is history, not the stage's state.
const recentError = 30 * time.Second

// errorWithAge is the stage's last error cut to w cells, after how long
// ago it came ("12s ago: "), red while recent.
func (m model) errorWithAge(st supervisor.StageSnapshot, w int) string {
	age := ""
	style := m.styles.Error
	if !st.LastErrorAt.IsZero() {
		d := m.now().Sub(st.LastErrorAt)
		age = fmtDur(d) + " ago: "
		if d > recentError {
			style = m.styles.Dim
		}
	}
	return style.Render(trunc(age+clean(st.LastError), w))
}

// queued is the frames waiting in the stages of kind (their queue depth),
// which receive from the link into them.
func (m model) queued(kind stage.Kind) int {
	n := 0
	for _, st := range m.snap.Stages {
		if st.Kind == kind && live(st) && st.Status != nil {
			n += st.Status.QueueDepth
		}
	}
	return n
}

// unstored is how many frames the generators hold unacknowledged (not yet
// stored) and the age of the oldest; ok is false without reliable
// delivery, where nothing waits for the database.
func (m model) unstored() (n int, oldest string, ok bool) {
	var first time.Time
	for _, st := range m.snap.Stages {
		if st.Kind != stage.Generator || !live(st) || st.Status == nil || st.Status.Delivery == string(stage.BestEffort) {
			continue
		}
		ok = true
		n += st.Status.QueueDepth
		if o := st.Status.OldestUnacked; !o.IsZero() && (first.IsZero() || o.Before(first)) {
			first = o
		}
	}
	oldest = "-"
	if !first.IsZero() {
		oldest = fmtDur(m.now().Sub(first))
	}
	return n, oldest, ok
}

// hostRates is the frames a second each host's stages put out, when they
// run on more than one host ("here 3.1 fps, far 1.2 fps"); "" on one host.
func (m model) hostRates() string {
	rates := map[string]float64{}
	var order []string
	for _, st := range flowOrder(m.snap.Stages) {
		if st.Kind != stage.Extractor || !live(st) {
			continue
		}
		h := m.hostOf(st)
		if h == "" {
			h = "here"
		}
		if _, ok := rates[h]; !ok {
			order = append(order, h)
		}
		rates[h] += st.FPS
	}
	if len(order) < 2 {
		return ""
	}
	parts := make([]string, len(order))
	for i, h := range order {
		parts[i] = fmt.Sprintf("%s %.1f fps", h, rates[h])
	}
	return "extractors " + strings.Join(parts, ", ")
}
