package bench

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i) // 100..1, unsorted
	}
	tests := []struct {
		name string
		xs   []float64
		p    float64
		want float64
	}{
		{"empty", nil, 50, 0},
		{"one", []float64{7}, 99, 7},
		{"median of odd", []float64{3, 1, 2}, 50, 2},
		{"median of even is the lower", []float64{4, 1, 3, 2}, 50, 2},
		{"p99 of 100", hundred, 99, 99},
		{"p100 is the max", hundred, 100, 100},
		{"p1 of 100", hundred, 1, 1},
		{"p99 of 10 is the max", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.xs, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v; want %v", tt.xs, tt.p, got, tt.want)
			}
		})
	}
	if hundred[0] != 100 {
		t.Error("percentile sorted its input")
	}
}

func TestRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(secs ...float64) []time.Time {
		ts := make([]time.Time, len(secs))
		for i, s := range secs {
			ts[i] = t0.Add(time.Duration(s * float64(time.Second)))
		}
		return ts
	}
	// Two workers finishing together every 5 s: 0.4 frames/s, whatever the
	// window's phase. count ÷ window would say 5/10.5 or 6/10.5 here.
	pairs := at(1, 1.01, 6, 6.01, 11, 11.01, 16, 16.01)
	tests := []struct {
		name     string
		done     []time.Time
		from, to float64
		want     float64
		n        int
	}{
		{"steady", at(0.5, 1.5, 2.5, 3.5, 4.5), 0, 5, 1, 5},
		{"pairs", pairs, 0.5, 11.5, 0.4, 6},
		{"pairs shifted", pairs, 5.5, 16.5, 0.4, 6},
		{"outside the window ignored", at(-3, 1, 2, 3, 4, 99), 0, 5, 1, 4},
		{"two: count over window", at(1, 2), 0, 10, 0.2, 2},
		{"none", nil, 0, 10, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := t0.Add(time.Duration(tt.from * float64(time.Second)))
			to := t0.Add(time.Duration(tt.to * float64(time.Second)))
			got, n := rate(tt.done, from, to)
			if math.Abs(got-tt.want) > 0.01*tt.want+1e-9 || n != tt.n {
				t.Errorf("rate = %.4f, %d; want %.4f, %d", got, n, tt.want, tt.n)
			}
		})
	}
}

func TestOverlap(t *testing.T) {
	t0 := time.Unix(0, 0)
	s := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	tests := []struct {
		a, b, from, to int
		want           time.Duration
	}{
		{0, 10, 2, 5, 3 * time.Second},
		{3, 4, 2, 5, time.Second},
		{0, 3, 2, 5, time.Second},
		{0, 1, 2, 5, 0},
		{6, 9, 2, 5, 0},
	}
	for _, tt := range tests {
		if got := overlap(s(tt.a), s(tt.b), s(tt.from), s(tt.to)); got != tt.want {
			t.Errorf("overlap([%d,%d), [%d,%d)) = %v; want %v", tt.a, tt.b, tt.from, tt.to, got, tt.want)
		}
	}
}

func TestPerFrame(t *testing.T) {
	if got := perFrame(30*time.Second, 0.5, 60*time.Second); got != 1 {
		t.Errorf("perFrame(30s, 0.5/s, 60s) = %v; want 1", got)
	}
	if got := perFrame(30*time.Second, 0, 60*time.Second); got != 0 {
		t.Errorf("perFrame with no frames = %v; want 0", got)
	}
}

func TestSpans(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	// Measured 0–10 s and 20–30 s; stopped 10–20 s.
	ss := spans{{at(0), at(10)}, {at(20), at(30)}}
	if got := ss.total(); got != 20*time.Second {
		t.Errorf("total = %v; want 20s", got)
	}
	for _, c := range []struct {
		s    float64
		want bool
	}{{-1, false}, {0, true}, {9.9, true}, {10, false}, {15, false}, {20, true}, {30, false}} {
		if got := ss.contains(at(c.s)); got != c.want {
			t.Errorf("contains(%vs) = %v; want %v", c.s, got, c.want)
		}
	}
	if got := ss.overlap(at(5), at(25)); got != 10*time.Second {
		t.Errorf("overlap(5s, 25s) = %v; want 10s", got)
	}
	if got := ss.paused(at(5), at(25)); got != 10*time.Second {
		t.Errorf("paused(5s, 25s) = %v; want 10s", got)
	}
	if got := ss.paused(at(-5), at(5)); got != 0 {
		t.Errorf("paused(-5s, 5s) = %v; want 0", got)
	}
	// One frame a second while running, none while stopped, and a few
	// outside the spans, which do not count: 2 frames/s would be wrong.
	var done []time.Time
	for s := 0.5; s < 10; s++ {
		done = append(done, at(s), at(s+20))
	}
	done = append(done, at(-3), at(12), at(17), at(31))
	fps, n := ss.rate(done)
	if n != 20 || math.Abs(fps-1) > 0.01 {
		t.Errorf("rate = %.3f frames/s over %d frames; want 1.000 over 20", fps, n)
	}
}
