package stages_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages"
	"github.com/imaging-tui/imaging-tui/stages/bus"
)

// cpuTicks reads a process's user + system CPU time in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which may hold spaces): utime and
	// stime are the 14th and 15th of the whole line.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// TestBestEffortGeneratorPaced: without --fps, a best-effort generator
// publishes at stages.BestEffortFPS, not as fast as it can encode (nothing else
// slows it down), so the frames its subscribers cannot take cost no CPU.
func TestBestEffortGeneratorPaced(t *testing.T) {
	p := newPipeline(t, small...)
	zctx, err := bus.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Close()
	sub, err := zctx.Sub(">"+p.img, bus.Options{Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	gen := p.generator(t, "--delivery", "best-effort")
	waitLog(t, gen, " starting", 30*time.Second)
	if _, err := sub.Recv(30 * time.Second); err != nil { // subscribed and flowing
		t.Fatalf("no frame from the generator: %v", err)
	}
	const window = 4 * time.Second
	t0 := cpuTicks(t, gen.cmd.Process.Pid)
	frames := 0
	for end := time.Now().Add(window); time.Now().Before(end); {
		if _, err := sub.Recv(100 * time.Millisecond); err == nil {
			frames++
		}
	}
	ticks := cpuTicks(t, gen.cmd.Process.Pid) - t0
	gen.stop(t)
	want := stages.BestEffortFPS * window.Seconds()
	t.Logf("best-effort generator at --fps 0: %d frames in %v (%.0f/s), %d CPU ticks", frames, window, float64(frames)/window.Seconds(), ticks)
	if float64(frames) > want*1.2 || float64(frames) < want*0.5 {
		t.Errorf("%d frames in %v; want about %.0f (%d a second)", frames, window, want, stages.BestEffortFPS)
	}
	// Unpaced, it spent more than half a core here; paced, a few percent.
	if ticks > 100 {
		t.Errorf("generator used %d ticks (1/100 s) of CPU in %v; want under 1 s", ticks, window)
	}
}
