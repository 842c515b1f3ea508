package stages

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestMemBudget runs workers whose reservations fit two at a time and one
// bigger than the whole budget: never more than the budget is held, and
// the oversized one runs alone.
func TestMemBudget(t *testing.T) {
	b := newMemBudget(100)
	var held, peak atomic.Int64
	var alone atomic.Bool
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			want := int64(50)
			if i == 3 {
				want = 1000 // more than the budget: clamped, runs alone
			}
			n := b.acquire(want)
			h := held.Add(n)
			if h > b.total {
				t.Errorf("%d bytes held; budget %d", h, b.total)
			}
			for p := peak.Load(); h > p && !peak.CompareAndSwap(p, h); p = peak.Load() {
			}
			if want > b.total && h == n {
				alone.Store(true)
			}
			time.Sleep(5 * time.Millisecond)
			held.Add(-n)
			b.release(n)
		})
	}
	wg.Wait()
	if p := peak.Load(); p != 100 {
		t.Errorf("peak held %d; want 100 (two workers of 50 at once)", p)
	}
	if !alone.Load() {
		t.Error("the oversized reservation did not run alone")
	}
	if b.used != 0 {
		t.Errorf("%d bytes still reserved after every release", b.used)
	}
}

func TestMemAvailable(t *testing.T) {
	n, err := memAvailable()
	if err != nil {
		t.Fatal(err)
	}
	if n < 64<<20 {
		t.Errorf("MemAvailable = %d bytes; implausibly small for a machine running tests", n)
	}
	if def, _ := defaultSIFTMemory(); def <= 0 || def > n {
		t.Errorf("default SIFT budget %d of %d available", def, n)
	}
}

func TestSIFTWorkingSet(t *testing.T) {
	// The figure measured on OpenCV 4.6: ~2.8 GB for 4000×3000.
	if got := siftWorkingSet(4000, 3000); got < 2_800_000_000 || got > 3_000_000_000 {
		t.Errorf("working set of 4000×3000 = %d; want 2.8–3.0 GB", got)
	}
}

// TestGeneratorReusesSentBuffer checks the generator's buffer recycling: a
// released message's memory serves the next load that fits in it, once.
func TestGeneratorReusesSentBuffer(t *testing.T) {
	var g generator
	a := g.take(1000)
	if len(a) != 1000 || cap(a) < 1000+1000/8 {
		t.Fatalf("take(1000): len %d cap %d, want 1000 and room for a bigger frame", len(a), cap(a))
	}
	g.release(a)
	g.release(make([]byte, 10)) // smaller: the larger buffer stays
	b := g.take(1100)
	if &b[0] != &a[0] || len(b) != 1100 {
		t.Fatalf("take(1100) after releasing a %d-byte buffer: new memory or len %d", cap(a), len(b))
	}
	if c := g.take(1100); &c[0] == &a[0] {
		t.Fatal("the spare buffer was handed out twice")
	}
	g.release(b)
	if d := g.take(cap(b) + 1); &d[0] == &b[0] {
		t.Fatal("a buffer too small was handed out")
	}
}
