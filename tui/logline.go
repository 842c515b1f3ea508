package tui

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// compactLog shortens one of a stage's log lines for the log pane. Stages
// log JSON (log/slog's JSON handler), whose first forty characters are the
// date: a JSON line becomes "15:04:05.000 msg key=value ...", its time shown
// in loc (to the second when !ms), its level only when it is not INFO, and
// without the stage and instance attributes (the pane is the stage's own).
// Other lines come back unchanged. level is the line's level ("INFO",
// "WARN", "ERROR", ...), "" when it has none.
func compactLog(line string, loc *time.Location, ms bool) (text, level string) {
	if !strings.HasPrefix(line, "{") || !strings.HasSuffix(strings.TrimSpace(line), "}") {
		return line, ""
	}
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return line, ""
	}
	var when, msg string
	var attrs []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return line, ""
		}
		k, ok := tok.(string)
		if !ok {
			return line, ""
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return line, ""
		}
		var str string
		isStr := json.Unmarshal(raw, &str) == nil
		switch {
		case k == "time" && isStr:
			when = str
			if t, err := time.Parse(time.RFC3339Nano, str); err == nil && loc != nil {
				layout := "15:04:05"
				if ms {
					layout += ".000"
				}
				when = t.In(loc).Format(layout)
			}
		case k == "level" && isStr:
			level = str
		case k == "msg" && isStr:
			msg = str
		case k == "stage", k == "instance":
		case isStr:
			attrs = append(attrs, k+"="+quoteIfNeeded(str))
		default:
			var b bytes.Buffer
			if json.Compact(&b, raw) != nil {
				b.Reset()
				b.Write(raw)
			}
			attrs = append(attrs, k+"="+b.String())
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') || dec.InputOffset() != int64(len(strings.TrimSpace(line))) {
		return line, ""
	}
	var parts []string
	shown := level
	if shown == "INFO" {
		shown = ""
	}
	for _, p := range []string{when, shown, msg} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(append(parts, attrs...), " "), level
}

// quoteIfNeeded quotes a value that is empty or holds spaces, quotes or
// '=', as log/slog's text handler does.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"=") {
		return strconv.Quote(s)
	}
	return s
}
