package supervisor

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// TestLoggerRestartsNeedNoResendTimeout kills the logger four times and
// keeps it down 3 s each time, long enough for the extractor's reconnect
// interval to reach its 1 s maximum: the new logger binds, and the
// extractor connects to it up to a second later. The frames the dead
// logger could not store must go again once the links are up, so that
// none waits for the generator's resend timeout (10 s and more).
func TestLoggerRestartsNeedNoResendTimeout(t *testing.T) {
	dir := shortTempDir(t)
	cfg := realConfig(t, dir)
	cfg.Delivery = stage.Reliable
	cfg.RestartBase, cfg.RestartCap = 3*time.Second, 3*time.Second
	_, sum := mustRunHeadless(t, dir, cfg, HeadlessOptions{
		For:   34 * time.Second,
		Chaos: "4s kill logger; 11s kill logger; 18s kill logger; 25s kill logger",
	})
	if sum.Kills != 4 {
		t.Errorf("%d kills; want 4", sum.Kills)
	}
	// A frame the extractor had extracted before its resend timeout was
	// lost after it: its result went to a logger the extractor was not
	// connected to yet, which is what the resend after the logger's grace
	// is for. One never extracted before its timeout was lost on the way
	// in: the generator's send queue passes its high-water mark when a
	// whole-window resend meets a lagging extractor (a send-path matter,
	// not this test's).
	extracted := logTimes(t, filepath.Join(dir, "logs", "extractor-0.log"), "frame extracted")
	var lostAfter, lostBefore []string
	for _, tl := range logLines(t, filepath.Join(dir, "logs", "generator.log"), "no acknowledgement within the resend timeout") {
		if ts, ok := extracted[tl.seq]; ok && ts[0].Before(tl.at) {
			lostAfter = append(lostAfter, tl.text)
		} else {
			lostBefore = append(lostBefore, tl.text)
		}
	}
	if len(lostBefore) > 0 {
		t.Logf("%d frames lost before the extractor waited for the resend timeout:\n%s", len(lostBefore), strings.Join(lostBefore, "\n"))
	}
	if len(lostAfter) > 0 {
		t.Errorf("%d frames extracted across logger restarts waited for the resend timeout:\n%s", len(lostAfter), strings.Join(lostAfter, "\n"))
	}
}

// logLine is a stage's JSON log line about one frame.
type logLine struct {
	at   time.Time
	seq  uint64
	text string
}

// logLines returns the lines of a stage's log whose message contains msg.
func logLines(t *testing.T, path, msg string) []logLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []logLine
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		var j struct {
			Time time.Time `json:"time"`
			Seq  uint64    `json:"frame_seq"`
		}
		if err := json.Unmarshal([]byte(line), &j); err != nil {
			continue
		}
		out = append(out, logLine{at: j.Time, seq: j.Seq, text: line})
	}
	return out
}

// logTimes returns when each frame_seq appears in the lines of logLines.
func logTimes(t *testing.T, path, msg string) map[uint64][]time.Time {
	t.Helper()
	out := map[uint64][]time.Time{}
	for _, l := range logLines(t, path, msg) {
		out[l.seq] = append(out[l.seq], l.at)
	}
	return out
}
