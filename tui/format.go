package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the last width values as block characters scaled to their
// maximum, right-aligned: missing history on the left is blank.
func sparkline(vals []float64, width int) string {
	if width <= 0 {
		return ""
	}
	if len(vals) > width {
		vals = vals[len(vals)-width:]
	}
	maxV := 0.0
	for _, v := range vals {
		if v > maxV {
			maxV = v
		}
	}
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", width-len(vals)))
	for _, v := range vals {
		i := 0
		if maxV > 0 && v > 0 {
			i = int(v / maxV * float64(len(sparkRunes)-1))
			i = min(max(i, 0), len(sparkRunes)-1)
		}
		b.WriteRune(sparkRunes[i])
	}
	return b.String()
}

// bar draws v of scale as width cells of █ (filled) and ░ (empty); any v > 0
// fills at least one cell.
func bar(v, scale, width int) (full, empty string) {
	if width <= 0 {
		return "", ""
	}
	n := 0
	if scale > 0 && v > 0 {
		n = max(1, min(width, (v*width+scale-1)/scale))
	}
	return strings.Repeat("█", n), strings.Repeat("░", width-n)
}

// fmtDur formats an uptime or a wait compactly: 45s, 5m03s, 1h02m, 3d04h.
func fmtDur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

// fmtMs formats a latency given in milliseconds: 380ms, 2.6s, 22s.
func fmtMs(ms float64) string {
	switch {
	case ms < 999.5:
		return fmt.Sprintf("%.0fms", ms)
	case ms < 9950:
		return fmt.Sprintf("%.1fs", ms/1000)
	}
	return fmt.Sprintf("%.0fs", ms/1000)
}

// fmtCount formats a counter with thousands separators: 1,234,567.
func fmtCount(n int64) string {
	neg := n < 0
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtShort formats a counter in at most 7 characters: 1234567, 12.3M, 4.56G.
func fmtShort(n uint64) string {
	switch {
	case n < 10_000_000:
		return strconv.FormatUint(n, 10)
	case n < 1_000_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2fG", float64(n)/1e9)
}

// fmtBytes formats a size with decimal units: 512 B, 45.2 MB, 12.3 GB.
func fmtBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTP"[exp])
}

// fmtRate formats bytes per second as MB/s.
func fmtRate(bps float64) string {
	mb := bps / 1e6
	if mb >= 10 {
		return fmt.Sprintf("%.1f MB/s", mb)
	}
	return fmt.Sprintf("%.2f MB/s", mb)
}

// trunc cuts s (which may hold ANSI styles) to at most w cells, ending a cut
// string with "…".
func trunc(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// fit cuts or pads s to exactly w cells.
func fit(s string, w int) string {
	s = trunc(s, w)
	if pad := w - ansi.StringWidth(s); pad > 0 {
		s += strings.Repeat(" ", pad)
	}
	return s
}

// fitRight cuts or left-pads s to exactly w cells.
func fitRight(s string, w int) string {
	s = trunc(s, w)
	if pad := w - ansi.StringWidth(s); pad > 0 {
		s = strings.Repeat(" ", pad) + s
	}
	return s
}

// clean makes one line of untrusted text (a stage's log line, an error)
// safe to draw: no escape sequences, tabs or control characters.
func clean(s string) string {
	s = ansi.Strip(s)
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		}
		return r
	}, s)
}
