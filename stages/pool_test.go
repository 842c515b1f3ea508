package stages_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/wire"
)

// poolPipeline starts a logger that binds both its ends, n extractors on a
// work pool, and once they have started the generator that binds the pool;
// more extractors can be added with poolExtractor.
func poolPipeline(t *testing.T, count string, n int) (p *pipeline, work string, gen, lg *proc, ex []*proc) {
	p = newPipeline(t, small...)
	work = "ipc://" + p.dir + "/w"
	lg = start(t, "logger", "--sub", "@"+p.proc, "--ack", "@"+p.ack, "--db", p.db)
	for range n {
		ex = append(ex, poolExtractor(t, p, work))
	}
	for _, x := range ex {
		waitLog(t, x, " starting", 30*time.Second)
	}
	// A generator resends what it sent within a logger's first two seconds
	// (helloGrace): a frame extracted twice would then be no fault of the pool.
	waitLog(t, lg, " starting", 30*time.Second)
	time.Sleep(2500 * time.Millisecond)
	gen = p.generator(t, "--count", count, "--work", "@"+work, "--state", p.dir+"/gen.state")
	return p, work, gen, lg, ex
}

// poolExtractor starts an extractor that takes its frames from the pool.
func poolExtractor(t *testing.T, p *pipeline, work string, extra ...string) *proc {
	return start(t, "extractor", append([]string{"--work", ">" + work, "--sub", ">" + p.img, "--pub", ">" + p.proc,
		"--workers", "1"}, extra...)...)
}

// extracted returns how many times the extractor ran SIFT on each frame,
// from its log.
func extracted(x *proc) map[uint64]int {
	by := map[uint64]int{}
	for _, line := range strings.Split(x.out.String(), "\n") {
		var rec struct {
			Msg string `json:"msg"`
			Seq uint64 `json:"frame_seq"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "frame extracted" {
			by[rec.Seq]++
		}
	}
	return by
}

func waitDone(t *testing.T, x *proc, within time.Duration, what string) {
	t.Helper()
	select {
	case <-x.done:
	case <-time.After(within):
		t.Fatal(what)
	}
}

// TestPoolShares: two extractors on one work pool share the frames, each
// frame goes to one of them, and every frame is stored once.
func TestPoolShares(t *testing.T) {
	p, _, gen, lg, ex := poolPipeline(t, "40", 2)
	p.waitRows(t, 40, 120*time.Second)
	waitDone(t, gen, 30*time.Second, "generator --count 40 did not finish once its frames were stored")
	for _, x := range ex {
		x.stop(t)
	}
	lg.stop(t)
	storedOnce(t, p, 40)
	seen := map[uint64]int{}
	for i, x := range ex {
		by := extracted(x)
		if len(by) == 0 {
			t.Errorf("extractor %d took no frame from the pool", i)
		}
		for seq, n := range by {
			seen[seq] += n
		}
	}
	for seq := uint64(1); seq <= 40; seq++ {
		if seen[seq] != 1 {
			t.Errorf("frame %d extracted %d times; want once (no extractor failed)", seq, seen[seq])
		}
	}
	if !strings.Contains(gen.out.String(), "extractor joined the work pool") {
		t.Error("the generator never logged an extractor joining its pool")
	}
}

// TestPoolPausedExtractor: an extractor stopped (SIGSTOP) mid-run loses its
// frames to the other, which finishes the run; continued, it stores nothing
// twice.
func TestPoolPausedExtractor(t *testing.T) {
	p, _, gen, lg, ex := poolPipeline(t, "40", 2)
	a, b := ex[0], ex[1]
	p.waitRows(t, 6, 120*time.Second)
	waitLog(t, a, "frame extracted", 60*time.Second)
	a.kill(syscall.SIGSTOP)
	before := len(extracted(a))
	p.waitRows(t, 40, 180*time.Second)
	waitLog(t, gen, "extractor silent; its frames go to the others", 10*time.Second)
	a.kill(syscall.SIGCONT)
	waitDone(t, gen, 60*time.Second, "generator --count 40 did not finish")
	a.stop(t)
	b.stop(t)
	lg.stop(t)
	storedOnce(t, p, 40)
	if nb := len(extracted(b)); nb < 40-before-2 {
		t.Errorf("the running extractor extracted %d frames, the paused one %d before its pause; want the running one to take over", nb, before)
	}
}

// TestPoolJoinAndKill: an extractor added mid-run takes frames, the first
// one SIGKILLed later loses its frames to it, and every frame is stored
// once.
func TestPoolJoinAndKill(t *testing.T) {
	p, work, gen, lg, ex := poolPipeline(t, "50", 1)
	a := ex[0]
	p.waitRows(t, 5, 120*time.Second)
	b := poolExtractor(t, p, work)
	waitLog(t, b, "frame extracted", 60*time.Second)
	a.crash(t)
	p.waitRows(t, 50, 180*time.Second)
	waitDone(t, gen, 60*time.Second, "generator --count 50 did not finish")
	b.stop(t)
	lg.stop(t)
	storedOnce(t, p, 50)
	nb := len(extracted(b))
	if nb == 0 || nb+len(extracted(a)) < 50 {
		t.Errorf("extracted %d frames by the first, %d by the one that joined; want all 50 between them", len(extracted(a)), nb)
	}
}

// TestPoolSlowExtractor: an extractor that is stopped half the time (short
// SIGSTOP/SIGCONT cycles, each shorter than the pool's patience) asks for
// fewer frames and takes a smaller share than one that runs freely.
func TestPoolSlowExtractor(t *testing.T) {
	p, _, gen, lg, ex := poolPipeline(t, "60", 2)
	slow, fast := ex[0], ex[1]
	stop := make(chan struct{})
	cycled := make(chan struct{})
	go func() {
		defer close(cycled)
		for {
			slow.kill(syscall.SIGSTOP)
			select {
			case <-stop:
				slow.kill(syscall.SIGCONT)
				return
			case <-time.After(1500 * time.Millisecond):
			}
			slow.kill(syscall.SIGCONT)
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	p.waitRows(t, 60, 240*time.Second)
	close(stop)
	<-cycled
	waitDone(t, gen, 60*time.Second, "generator --count 60 did not finish")
	slow.stop(t)
	fast.stop(t)
	lg.stop(t)
	storedOnce(t, p, 60)
	ns, nf := len(extracted(slow)), len(extracted(fast))
	if ns >= nf {
		t.Errorf("the extractor stopped ¾ of the time extracted %d frames, the free one %d; want fewer", ns, nf)
	}
	t.Logf("shares: slow %d, fast %d", ns, nf)
}

// TestHostileWorkPool floods a generator's work pool from a DEALER with
// mutated and random READY messages, multi-part ones and one over the
// pool's size limit: the generator stays up, skips what does not decode, and
// once the flood stops a real extractor joins and takes the frames, the
// flooder's among them.
func TestHostileWorkPool(t *testing.T) {
	p := newPipeline(t, small...)
	work := "ipc://" + p.dir + "/w"
	gen := p.generator(t, "--work", "@"+work, "--drain", "1s")
	waitLog(t, gen, " starting", 30*time.Second)
	zctx, err := bus.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Close()
	d, err := zctx.Dealer(">"+work, bus.Options{HWM: 100000, Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	valid, _ := (&wire.Ready{Session: 9, Want: 2}).MarshalBinary()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		var err error
		switch {
		case i == 1500:
			err = d.Send(make([]byte, 64<<10)) // over the limit: cut off, reconnects
		case i%10 == 9:
			err = d.SendParts(valid, []byte("a second part"))
		default:
			err = d.Send(mutateReady(rng, valid))
		}
		if err != nil && !errors.Is(err, bus.ErrNoPeer) {
			t.Fatal(err)
		}
		if errors.Is(err, bus.ErrNoPeer) {
			time.Sleep(time.Millisecond) // connecting, or reconnecting after the cut
		}
	}
	d.Close()
	waitLog(t, gen, "bad message on the work pool skipped", 30*time.Second)
	x := poolExtractor(t, p, work)
	waitLog(t, x, "frame extracted", 60*time.Second)
	select {
	case <-gen.done:
		t.Fatalf("the generator exited: %v", gen.err)
	default:
	}
}

// mutateReady returns a corrupt or odd variant of a valid READY message.
func mutateReady(rng *rand.Rand, valid []byte) []byte {
	b := append([]byte(nil), valid...)
	switch rng.IntN(5) {
	case 0: // random bytes
		r := make([]byte, rng.IntN(2048))
		for i := range r {
			r[i] = byte(rng.UintN(256))
		}
		return r
	case 1: // truncated
		return b[:rng.IntN(len(b))]
	case 2: // extended
		return append(b, byte(rng.UintN(256)))
	case 3: // a want out of bounds, or any want
		binary.BigEndian.PutUint32(b[9:], rng.Uint32())
		return b
	default: // a flipped byte
		b[rng.IntN(len(b))] ^= byte(1 + rng.UintN(255))
		return b
	}
}
