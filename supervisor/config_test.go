package supervisor

import (
	"flag"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

func TestRegisterFlags(t *testing.T) {
	var c Config
	var h HeadlessOptions
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.RegisterFlags(fs)
	h.RegisterFlags(fs)
	if c.DB != "imaging.db" || c.Replicas != 1 || c.StatusBind != "" || c.Delivery != stage.Reliable {
		t.Fatalf("defaults = %+v", c)
	}
	err := fs.Parse([]string{"--images", "/img", "--db", "x.db", "--workers", "3", "--threads", "2", "--fps", "2.5",
		"--delivery", "best-effort", "--replicas", "2", "--status-bind", "tcp://127.0.0.1:0", "--run-dir", "/tmp/r",
		"--restart-base", "100ms", "--restart-cap", "2s", "--max-restarts", "7", "--logger-args", "--retain-frames 10",
		"--logger-args", "--retain-bytes 1GiB", "--for", "20s", "--frames", "5", "--chaos", "1s kill logger", "--json"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Images != "/img" || c.DB != "x.db" || c.Workers != 3 || c.Threads != 2 || c.FPS != 2.5 || c.Delivery != stage.BestEffort ||
		c.Replicas != 2 || c.RunDir != "/tmp/r" || c.RestartBase != 100*time.Millisecond || c.RestartCap != 2*time.Second || c.MaxRestarts != 7 {
		t.Errorf("parsed = %+v", c)
	}
	if want := []string{"--retain-frames", "10", "--retain-bytes", "1GiB"}; !slices.Equal(c.ExtraArgs[stage.Logger], want) {
		t.Errorf("logger args = %q; want %q", c.ExtraArgs[stage.Logger], want)
	}
	if h.For != 20*time.Second || h.Frames != 5 || h.Chaos != "1s kill logger" || !h.JSON {
		t.Errorf("headless = %+v", h)
	}
	d, err := c.withDefaults()
	if err != nil || d.StatusBind != "@tcp://127.0.0.1:0" {
		t.Errorf("withDefaults = %q, %v; want the bind prefix added", d.StatusBind, err)
	}
	for _, bad := range []Config{{Delivery: "maybe"}, {Replicas: MaxReplicas + 1}, {StatusBind: ">tcp://x:1"}, {Workers: -1}} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("withDefaults(%+v) = nil error", bad)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	base, ceiling := 250*time.Millisecond, 8*time.Second
	for n := 1; n <= 10; n++ {
		want := min(base<<(n-1), ceiling)
		for range 100 {
			d := backoff(base, ceiling, n)
			if d < want*8/10 || d > min(want*12/10, ceiling) {
				t.Fatalf("backoff(%d) = %v; want %v ±20%%, at most %v", n, d, want, ceiling)
			}
		}
	}
}

// TestInjectedMessagesNeverDecode: the corrupt and truncate faults must
// never hand a stage a valid message (a valid frame would be stored).
func TestInjectedMessagesNeverDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kind := range []stage.Kind{stage.Generator, stage.Extractor, stage.Logger} {
		if !validFor(kind, validMessage(rng, kind)) {
			t.Fatalf("validMessage(%s) does not decode", kind)
		}
		for range 2000 {
			if b := garbage(rng, kind); validFor(kind, b) {
				t.Fatalf("garbage(%s) = %x decodes", kind, b)
			}
			if b := truncated(rng, kind); validFor(kind, b) {
				t.Fatalf("truncated(%s) = %x decodes", kind, b)
			}
		}
	}
}
