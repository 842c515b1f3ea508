package dbcmd

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
)

// timeLayout is how text reports print times: local time, milliseconds.
const timeLayout = "2006-01-02 15:04:05.000 MST"

// fmtTime prints t in local time, or "-" when unknown.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(timeLayout)
}

// jsonTime is a time for JSON reports: RFC 3339 in UTC with nanoseconds, or
// null when unknown.
func jsonTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// fmtBytes prints a byte count with a binary unit: 512 B, 1.5 KiB, 12.3 MiB.
func fmtBytes(n int64) string {
	if n < 0 {
		return "unknown"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// fmtDuration prints d rounded to a readable precision.
func fmtDuration(d time.Duration) string {
	switch a := max(d, -d); {
	case a >= time.Second:
		return d.Round(time.Millisecond).String()
	case a >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// fmtGaps prints gaps as "17-19, 42", with "…" when more exist.
func fmtGaps(gaps []db.Gap, more bool) string {
	parts := make([]string, 0, len(gaps)+1)
	for _, g := range gaps {
		if g.From == g.To {
			parts = append(parts, strconv.FormatUint(g.From, 10))
		} else {
			parts = append(parts, strconv.FormatUint(g.From, 10)+"-"+strconv.FormatUint(g.To, 10))
		}
	}
	if more {
		parts = append(parts, "…")
	}
	return strings.Join(parts, ", ")
}

// fmtFloat prints a float32 in its shortest form that reads back exactly.
func fmtFloat(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 32) }

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// gapJSON is one gap in JSON reports.
type gapJSON struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

func gapsJSON(gaps []db.Gap) []gapJSON {
	out := make([]gapJSON, len(gaps))
	for i, g := range gaps {
		out[i] = gapJSON{g.From, g.To}
	}
	return out
}
