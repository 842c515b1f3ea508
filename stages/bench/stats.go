package bench

import (
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p ≤ 100) of xs by the
// nearest-rank method, or 0 for no values. xs is not modified.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// mean returns the arithmetic mean of xs, or 0 for no values.
func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// rate returns completions per second from the completion times that fall
// in the window [from, to): the slope of the least-squares line through
// (t_i, i), which does not depend on the phase of the window's edges. With
// fewer than three completions it falls back to count ÷ window length.
func rate(done []time.Time, from, to time.Time) (perSec float64, n int) {
	var ts []float64
	for _, t := range done {
		if !t.Before(from) && t.Before(to) {
			ts = append(ts, t.Sub(from).Seconds())
		}
	}
	n = len(ts)
	window := to.Sub(from).Seconds()
	if window <= 0 {
		return 0, n
	}
	if n < 3 {
		return float64(n) / window, n
	}
	slices.Sort(ts)
	var mt, mi float64
	for i, t := range ts {
		mt += t
		mi += float64(i)
	}
	mt /= float64(n)
	mi /= float64(n)
	var cov, vt float64
	for i, t := range ts {
		cov += (t - mt) * (float64(i) - mi)
		vt += (t - mt) * (t - mt)
	}
	if vt == 0 { // all at one instant
		return float64(n) / window, n
	}
	return cov / vt, n
}

// perFrame divides CPU time used over a window by the frames that rate
// says went through it (fps × window), or returns 0 when none did.
func perFrame(cpu time.Duration, fps float64, window time.Duration) float64 {
	frames := fps * window.Seconds()
	if frames <= 0 {
		return 0
	}
	return cpu.Seconds() / frames
}

// overlap returns how long [a, b) and [from, to) overlap.
func overlap(a, b, from, to time.Time) time.Duration {
	if a.Before(from) {
		a = from
	}
	if b.After(to) {
		b = to
	}
	return max(b.Sub(a), 0)
}

// span is a stretch of time a phase was running and measured.
type span struct{ from, to time.Time }

// spans are a phase's measured stretches, in order and not overlapping:
// one for a phase measured in one go, several when the limit and the
// pipeline take turns (--slice), each paused while the other runs.
type spans []span

// total is the measured time.
func (ss spans) total() time.Duration {
	var d time.Duration
	for _, s := range ss {
		d += s.to.Sub(s.from)
	}
	return d
}

// contains reports whether t falls in a span (from inclusive, to exclusive).
func (ss spans) contains(t time.Time) bool {
	for _, s := range ss {
		if !t.Before(s.from) && t.Before(s.to) {
			return true
		}
	}
	return false
}

// overlap is how much of [a, b] the spans cover.
func (ss spans) overlap(a, b time.Time) time.Duration {
	var d time.Duration
	for _, s := range ss {
		d += overlap(a, b, s.from, s.to)
	}
	return d
}

// paused is how much of [a, b] falls in the gaps between the spans, when
// the phase was stopped: a frame in flight across a gap took that much less
// than its wall time.
func (ss spans) paused(a, b time.Time) time.Duration {
	var d time.Duration
	for i := 1; i < len(ss); i++ {
		d += overlap(a, b, ss[i-1].to, ss[i].from)
	}
	return d
}

// rate is the frames/s and count of the completions done within the spans,
// as rate computes it over one window: the spans are put end to end, and
// each completion is placed at the measured time before it.
func (ss spans) rate(done []time.Time) (perSec float64, n int) {
	if len(ss) == 0 {
		return 0, 0
	}
	var base time.Time
	var at []time.Time
	for _, t := range done {
		if ss.contains(t) {
			at = append(at, base.Add(ss.overlap(ss[0].from, t)))
		}
	}
	return rate(at, base, base.Add(ss.total()))
}
