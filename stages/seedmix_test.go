package stages_test

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/wire"
)

// The chain mixes of our stages and seed peers (seedpeer_test.go). Ours
// run with their default flags (reliable delivery) unless a test says
// otherwise.

// TestSeedExtractorReliable: our generator → seed extractor → our logger.
// The seed extractor drops our trailer; the logger stores each frame once
// by its seed key and acknowledges it so; the generator retires it. The
// seed extractor is killed mid-run and its queued frames are lost; the
// generator sends them again; every frame is stored exactly once.
func TestSeedExtractorReliable(t *testing.T) {
	const frames = 24
	p := newPipeline(t, small...)
	status, st := statusListener(t, p)
	p.logger(t, "--status", st)
	ex := p.seedExtractor(t)
	waitLog(t, ex, "seed extractor starting", 10*time.Second)
	sniffer := p.sniff(t)
	gen := p.generator(t, "--count", "24", "--fps", "8")
	p.waitRows(t, 6, 20*time.Second)
	ex.crash(t)
	time.Sleep(300 * time.Millisecond)
	p.seedExtractor(t)
	waitExit(t, gen, 30*time.Second) // once every frame is acknowledged; a frame lost in the restart waits 10 s for its resend
	out := gen.out.String()
	if strings.Contains(out, "unacknowledged") {
		t.Errorf("generator stopped with frames unacknowledged:\n%s", tail(out, 2000))
	}
	// Frames published while no extractor ran are lost: the test proves
	// something only if the generator had to send them again.
	if !strings.Contains(out, "subscriber joined; resending frames in flight") {
		t.Errorf("the generator resent nothing after the seed extractor's restart:\n%s", tail(out, 2000))
	}
	sent := sniffed(t, sniffer)
	stored := p.storedTimestamps(t)
	seqOf := map[uint64]uint64{}
	for seq, ts := range sent {
		seqOf[ts] = seq
	}
	seen := map[uint64]int{}
	for _, ts := range stored {
		seq, ok := seqOf[ts]
		if !ok {
			t.Errorf("stored a frame with timestamp %d, which the generator never sent", ts)
		}
		seen[seq]++
	}
	for seq := uint64(1); seq <= frames; seq++ {
		if seen[seq] != 1 {
			t.Errorf("seq %d stored %d times; want once", seq, seen[seq])
		}
	}
	if len(stored) != frames {
		t.Errorf("%d rows; want %d", len(stored), frames)
	}
	lg := waitStageStatus(t, status, "logger", func(s *wire.Status) bool { return s.SeedFrames >= frames })
	t.Logf("%d frames sent, %d rows; the logger received %d without trailer", len(sent), len(stored), lg.SeedFrames)
}

// TestSeedLoggerUnacked: our generator → our extractor → seed logger, which
// acknowledges nothing. Within 10 s the generator says so in its log and
// in its status (the unacked state, with the hint), resends with backoff
// rather than a stream of copies, and stops at once when told.
func TestSeedLoggerUnacked(t *testing.T) {
	p := newPipeline(t, small...)
	status, st := statusListener(t, p)
	p.seedLogger(t)
	p.extractor(t)
	gen := p.generator(t, "--status", st)
	waitLog(t, gen, "generator starting", 10*time.Second)
	begin := time.Now()
	un := waitStageStatus(t, status, "generator", func(s *wire.Status) bool { return s.State == wire.StateUnacked })
	took := time.Since(begin)
	if took > 12*time.Second {
		t.Errorf("unacked reported after %v; want within 10 s of the first frame", took)
	}
	const hint = "no logger acknowledges; a seed-protocol logger? use --delivery best-effort for this chain"
	if !strings.Contains(un.StateReason, hint) {
		t.Errorf("state reason %q; want the hint %q", un.StateReason, hint)
	}
	waitLog(t, gen, "frames not acknowledged", 5*time.Second)
	time.Sleep(4 * time.Second)
	at := time.Now()
	later := waitStageStatus(t, status, "generator", func(s *wire.Status) bool { return s.TS.After(at) })
	// The window (8 frames) went out, and once again after 10 s; the next
	// copies are due 20 s later.
	if later.Resent > 8 || later.State != wire.StateUnacked {
		t.Errorf("4 s after unacked: state %q, %d frames resent; want unacked, at most one resend of the window (8)", later.State, later.Resent)
	}
	if rows := p.rows(t); rows > 16 {
		t.Errorf("seed logger stored %d rows; want at most the window twice (16)", rows)
	}
	stopAt := time.Now()
	gen.kill(syscall.SIGTERM)
	waitExit(t, gen, 5*time.Second)
	t.Logf("unacked after %v (%q); stopped in %v", took.Round(time.Millisecond), un.StateReason, time.Since(stopAt).Round(time.Millisecond))
	if !strings.Contains(gen.out.String(), "the chain acknowledges none") {
		t.Errorf("generator did not say why it stopped without draining:\n%s", tail(gen.out.String(), 2000))
	}
}

// TestSeedLoggerBestEffort: our generator → our or a seed extractor → seed
// logger, with --delivery best-effort on our stages, flows, and the
// generator never waits for acknowledgements.
func TestSeedLoggerBestEffort(t *testing.T) {
	for _, ext := range []string{"ours", "seed"} {
		t.Run(ext+" extractor", func(t *testing.T) {
			p := newPipeline(t, small...)
			status, st := statusListener(t, p)
			be := []string{"--delivery", "best-effort"}
			p.seedLogger(t)
			if ext == "ours" {
				p.extractor(t, be...)
			} else {
				p.seedExtractor(t)
			}
			p.generator(t, append(be, "--status", st, "--fps", "10")...)
			p.waitRows(t, 20, 20*time.Second)
			at := time.Now()
			g := waitStageStatus(t, status, "generator", func(s *wire.Status) bool { return s.TS.After(at) })
			if g.State != wire.StateRunning || g.Resent != 0 {
				t.Errorf("best-effort generator: state %q, %d resent; want running, none", g.State, g.Resent)
			}
			// No resends, so no copies: each timestamp once.
			if ts := p.storedTimestamps(t); len(slices.Compact(slices.Clone(ts))) != len(ts) {
				t.Errorf("%d rows, %d distinct timestamps; want no copies", len(ts), len(slices.Compact(ts)))
			}
		})
	}
}

// TestSeedGeneratorChains: a seed generator (no trailer, no resends) feeds
// our extractor or a seed extractor, and our logger: frames flow under
// reliable delivery, each is stored once, and the logger (and our
// extractor) report that they came without our trailer.
func TestSeedGeneratorChains(t *testing.T) {
	for _, ext := range []string{"ours", "seed"} {
		t.Run(ext+" extractor", func(t *testing.T) {
			p := newPipeline(t, small...)
			status, st := statusListener(t, p)
			p.logger(t, "--status", st)
			if ext == "ours" {
				p.extractor(t, "--status", st)
			} else {
				p.seedExtractor(t)
			}
			p.seedGenerator(t)
			p.waitRows(t, 10, 20*time.Second)
			lg := waitStageStatus(t, status, "logger", func(s *wire.Status) bool { return s.SeedFrames >= 10 })
			// The two counters are read a moment apart: one frame may be between them.
			if lg.FramesIn > lg.SeedFrames+1 {
				t.Errorf("logger: %d frames in, %d without trailer; want all without", lg.FramesIn, lg.SeedFrames)
			}
			if ext == "ours" { // and our extractor says what came into it
				waitStageStatus(t, status, "extractor", func(s *wire.Status) bool { return s.SeedFrames >= 10 })
			}
			ts := p.storedTimestamps(t)
			if len(slices.Compact(slices.Clone(ts))) != len(ts) {
				t.Errorf("%d rows, %d distinct timestamps; want each frame once", len(ts), len(slices.Compact(ts)))
			}
		})
	}
}
