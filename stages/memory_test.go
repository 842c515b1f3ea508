package stages_test

import (
	"syscall"
	"testing"
	"time"
)

// TestMemoryBoundedWhileLoggerStopped freezes the logger (SIGSTOP) under
// reliable delivery: the generator's window fills, the extractor's results
// pile up to its high-water mark, resends come and go, and neither process
// grows; thawed, the pipeline goes on.
func TestMemoryBoundedWhileLoggerStopped(t *testing.T) {
	p := newPipeline(t, small...)
	lg := p.logger(t)
	ex := p.extractor(t)
	gen := p.generator(t)
	p.waitRows(t, 3, 60*time.Second)

	pid := lg.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw)             // before the stages are stopped: cleanups run last-in first-out
	time.Sleep(3 * time.Second) // the window fills
	g0, e0 := procStatus(t, gen.cmd.Process.Pid, "VmRSS"), procStatus(t, ex.cmd.Process.Pid, "VmRSS")
	time.Sleep(12 * time.Second) // past the 10 s resend timeout: a round of resends
	g1, e1 := procStatus(t, gen.cmd.Process.Pid, "VmRSS"), procStatus(t, ex.cmd.Process.Pid, "VmRSS")
	t.Logf("logger frozen 15 s: generator %d → %d MB, extractor %d → %d MB", g0>>20, g1>>20, e0>>20, e1>>20)
	// The frames are 60–140 KB: a window of them, or a queue, is a few MB.
	const slack = 32 << 20
	if g1-g0 > slack || e1-e0 > slack {
		t.Errorf("grew while the logger was frozen: generator %+d MB, extractor %+d MB; want under %d MB each",
			(g1-g0)>>20, (e1-e0)>>20, slack>>20)
	}
	before := p.rows(t)
	thaw()
	p.waitRows(t, before+3, 60*time.Second)
}
