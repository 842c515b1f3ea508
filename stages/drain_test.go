package stages_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/wire"
)

// TestDrainBoundedWhileLoggerBlocked stops the generator while the logger
// is blocked on a full database (the dbfull fault): the logger still says
// hello, so the generator knows it is there and stores nothing, and gives
// up its drain after two resend timeouts (20 s at the timeout's floor),
// not after its 30 s or four timeouts (40 s) of waiting for a logger that
// may come back. It says what it left in flight, and its state file keeps
// those frames for the next run.
func TestDrainBoundedWhileLoggerBlocked(t *testing.T) {
	p := newPipeline(t, small...)
	status, st := statusListener(t, p)
	lg := p.logger(t, "--status", st)
	p.extractor(t)
	state := p.dir + "/gen.state"
	gen := p.generator(t, "--state", state)
	p.waitRows(t, 3, 60*time.Second)
	lg.kill(syscall.SIGUSR2) // dbfull on
	waitStageStatus(t, status, "logger", func(s *wire.Status) bool { return s.State == wire.StateBlocked })
	time.Sleep(2 * time.Second) // the window fills with frames the logger cannot store

	waitLog(t, gen, " starting", 30*time.Second)
	begun := time.Now()
	gen.kill(syscall.SIGTERM)
	select {
	case <-gen.done:
	case <-time.After(90 * time.Second):
		t.Fatal("the generator did not stop within 90 s of SIGTERM")
	}
	took := time.Since(begun)
	t.Logf("generator stopped %v after SIGTERM, the logger blocked", took.Round(time.Millisecond))
	if took >= 38*time.Second {
		t.Errorf("the drain took %v with the logger blocked; want it to give up after two resend timeouts (~20 s), not wait 40 s",
			took.Round(time.Millisecond))
	}
	if out := gen.out.String(); !strings.Contains(out, "the state file keeps them for the next run") {
		t.Errorf("the generator does not say what it left in flight:\n%s", tail(out, 3000))
	}
	gs, err := loadGenState(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs.Window) == 0 {
		t.Errorf("state file keeps no frame in flight after a drain that gave up")
	}
	lg.kill(syscall.SIGUSR2) // dbfull off, so the logger stops cleanly
}
