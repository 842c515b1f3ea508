package supervisor

import (
	"bytes"
	"context"
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
	sup, err := New(cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum, err := RunHeadless(context.Background(), sup, HeadlessOptions{
		For:   34 * time.Second,
		Chaos: "4s kill logger; 11s kill logger; 18s kill logger; 25s kill logger",
		Out:   &out,
	})
	t.Logf("headless output:\n%s", out.String())
	if err != nil {
		dumpLogs(t, dir)
		t.Fatalf("RunHeadless: %v", err)
	}
	if sum.Kills != 4 {
		t.Errorf("%d kills; want 4", sum.Kills)
	}
	log, err := os.ReadFile(filepath.Join(dir, "logs", "generator.log"))
	if err != nil {
		t.Fatal(err)
	}
	var timedOut []string
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "no acknowledgement within the resend timeout") {
			timedOut = append(timedOut, line)
		}
	}
	if len(timedOut) > 0 {
		t.Errorf("%d frames waited for the resend timeout across logger restarts:\n%s", len(timedOut), strings.Join(timedOut, "\n"))
	}
}
