package stages

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// TestPoolLoop runs the extractor's loop, with two real SIFT workers, taking
// frames from a work pool over real sockets (inproc): the generator's side
// sends only what the extractor asks for, the extractor never holds more
// than a frame per worker plus its prefetch, and every frame comes out once.
func TestPoolLoop(t *testing.T) {
	zctx, err := bus.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	router, err := zctx.Router("@inproc://pool-loop", bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dealer, err := zctx.Dealer(">inproc://pool-loop", bus.Options{Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { dealer.Close(); router.Close(); zctx.Close() }()

	cfg := ExtractorConfig{Common: Common{Delivery: stage.Reliable}, Workers: 2, Prefetch: 1, SIFTMemory: 1 << 30}
	transforms := siftTransforms(t, cfg.Workers)
	e := newExtractor(cfg, &counters{state: wire.StateRunning}, slog.New(slog.DiscardHandler))
	capacity := cfg.Workers + cfg.Prefetch
	e.pool = &poolClient{sock: dealer, session: 1, want: capacity, held: &e.held}
	sink := make(chanSink, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); e.run(ctx, make(chanSource), transforms, sink) }()

	names := []string{"crop_urchins_gray.png", "crop_turf_rgba.png", "crop_turf_gray16.png"}
	const frames = 12
	pool := newWorkPool(router, &counters{}, &limiter{}, slog.New(slog.DiscardHandler))
	got := map[uint64]int{}
	next := uint64(1)
	deadline := time.Now().Add(2 * time.Minute)
	for len(got) < frames && time.Now().Before(deadline) {
		pool.recv(20 * time.Millisecond)
		pool.expire(time.Now())
		for next <= frames && pool.free() != nil {
			msg, _ := imageMessage(t, names[next%3], next)
			if pool.send(msg, time.Now()) == "" {
				t.Fatal("a peer with credit took no frame")
			}
			next++
		}
		if h := e.held.Load(); h > int64(capacity) {
			t.Errorf("extractor holds %d frames; want at most %d", h, capacity)
		}
		for len(sink) > 0 {
			f, err := wire.DecodeProcessed(<-sink)
			if err != nil {
				t.Fatal(err)
			}
			got[f.Trailer.Seq]++
		}
	}
	cancel()
	<-done
	if len(got) != frames {
		t.Fatalf("%d of %d frames out", len(got), frames)
	}
	for seq, n := range got {
		if n != 1 {
			t.Errorf("frame %d came out %d times", seq, n)
		}
	}
}
