package stages

import (
	"testing"
	"time"
)

// TestStreamSpanGaps: a gap counts as dropped only once it has stayed open
// for reorderGrace; frames arriving out of order never count.
func TestStreamSpanGaps(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var s streamSpan
	check := func(when string, missing, dropped uint64) {
		t.Helper()
		if s.missing() != missing || s.dropped() != dropped {
			t.Errorf("%s: missing %d, dropped %d; want %d, %d (span %+v)", when, s.missing(), s.dropped(), missing, dropped, s)
		}
	}
	s.add(1, at(0))
	s.add(3, at(0)) // 2 is late: two workers finished out of order
	check("2 not yet in", 1, 0)
	s.add(2, at(1))
	check("2 in", 0, 0)
	s.add(10, at(2)) // 4–9 missing
	s.add(6, at(3))  // splits the gap: 4–5 and 7–9
	check("4–5, 7–9 young", 5, 0)
	s.age(at(2).Add(-reorderGrace))
	check("aged to the second 2 exactly: still young", 5, 0)
	s.age(at(13).Add(-reorderGrace))
	check("after the grace", 5, 5)
	s.add(8, at(14)) // a resent frame fills an old gap
	check("8 resent", 4, 4)
	s.add(12, at(15)) // 11 young
	check("11 young", 5, 4)
	s.add(0, at(15)) // below first, adjacent: no gap
	check("0 in", 5, 4)
}

// TestStreamSpanLoaded: gaps already in the database at start count at once.
func TestStreamSpanLoaded(t *testing.T) {
	s := streamSpan{first: 5, last: 14, frames: 7}
	if s.dropped() != 3 {
		t.Errorf("dropped = %d; want 3", s.dropped())
	}
	s.add(20, time.Now())
	if s.missing() != 8 || s.dropped() != 3 {
		t.Errorf("after 20: missing %d, dropped %d; want 8, 3", s.missing(), s.dropped())
	}
}
