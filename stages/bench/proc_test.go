package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCPUTimeOfSelf(t *testing.T) {
	before, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for {
		for i := range 1_000_000 {
			x += i
		}
		now, err := cpuTime(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if now.total() > before.total() {
			break // a tick of CPU time went by
		}
		if time.Now().After(deadline) {
			t.Fatalf("cpuTime stayed at %+v after 5s of spinning", now)
		}
	}
	_ = x
}

// TestPeakRSSOfSelf reads this process's peak memory, which is not 0.
func TestPeakRSSOfSelf(t *testing.T) {
	if n, err := peakRSS(os.Getpid()); err != nil || n <= 0 {
		t.Errorf("peakRSS(self) = %v, %v; want > 0", n, err)
	}
}

func TestParseMachineBusy(t *testing.T) {
	stat := "cpu  100 20 30 5000 40 5 6 7 50 0\ncpu0 50 10 15 2500 20 2 3 3 25 0\nintr 1\n"
	got, err := parseMachineBusy([]byte(stat))
	if want := 168 * time.Second / userHZ; err != nil || got != want { // 100+20+30+5+6+7
		t.Errorf("parseMachineBusy = %v, %v; want %v", got, err, want)
	}
	if _, err := parseMachineBusy([]byte("intr 1\n")); err == nil {
		t.Error("parseMachineBusy without a cpu line: no error")
	}
	if _, err := machineBusy(); err != nil {
		t.Errorf("machineBusy: %v", err)
	}
}

// TestPauseResume pauses a spinning process: it uses no CPU until resumed.
func TestPauseResume(t *testing.T) {
	p, err := startProc("/bin/sh", "spinner", []string{"-c", "while :; do :; done"}, os.Environ(),
		filepath.Join(t.TempDir(), "spinner.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.kill()
	spent := func() time.Duration {
		c, err := cpuTime(p.pid)
		if err != nil {
			t.Fatal(err)
		}
		return c.total()
	}
	// Spinning: its CPU time grows by at least a tick (10 ms) in a second.
	grows := func() bool {
		t0 := spent()
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			if spent() > t0 {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return false
	}
	if !grows() {
		t.Fatal("the spinner used no CPU in 1s")
	}
	if err := p.pause(); err != nil {
		t.Fatal(err)
	}
	if !stopped(p.pid) {
		t.Error("stopped = false after pause")
	}
	t0 := spent()
	time.Sleep(300 * time.Millisecond)
	if t1 := spent(); t1 != t0 {
		t.Errorf("paused, the spinner used %v of CPU in 300ms", t1-t0)
	}
	if err := p.resume(); err != nil {
		t.Fatal(err)
	}
	if !grows() {
		t.Error("resumed, the spinner used no CPU in 1s")
	}
	// A paused process still stops on SIGTERM: stop continues it.
	if err := p.pause(); err != nil {
		t.Fatal(err)
	}
	if err := p.stop(context.Background(), 5*time.Second); err == nil {
		t.Error("stop: the spinner exited 0; want killed by SIGTERM")
	} else if strings.Contains(err.Error(), "did not stop") {
		t.Errorf("stop of a paused process: %v", err)
	}
}
