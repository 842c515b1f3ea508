package tui

import (
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
)

// rateWindow is how far back the byte rates look.
const rateWindow = 3 * time.Second

type byteSample struct {
	at    time.Time // the status message's own timestamp
	pid   int
	bytes uint64
}

// rates turns successive BytesOut counters into bytes per second per stage
// instance, over the last rateWindow of status messages. It belongs to the
// Update goroutine.
type rates struct {
	samples map[string][]byteSample
	live    map[string]bool
}

func newRates() *rates {
	return &rates{samples: map[string][]byteSample{}, live: map[string]bool{}}
}

// observe records a snapshot's counters.
func (r *rates) observe(s supervisor.Snapshot) {
	seen := make(map[string]bool, len(s.Stages))
	for _, st := range s.Stages {
		seen[st.Name] = true
		r.live[st.Name] = current(st)
		if st.Status == nil {
			delete(r.samples, st.Name)
			continue
		}
		at := st.Status.TS
		if at.IsZero() {
			at = s.At
		}
		smp := byteSample{at: at, pid: st.Status.PID, bytes: st.Status.BytesOut}
		old := r.samples[st.Name]
		if n := len(old); n > 0 {
			last := old[n-1]
			if last.at.Equal(smp.at) {
				continue // the same status message again
			}
			if last.pid != smp.pid || smp.bytes < last.bytes || !smp.at.After(last.at) {
				old = nil // restarted: counters begin again
			}
		}
		old = append(old, smp)
		cut := 0
		for cut < len(old)-2 && smp.at.Sub(old[cut].at) > rateWindow {
			cut++
		}
		r.samples[st.Name] = append(old[:0:0], old[cut:]...)
	}
	for name := range r.samples {
		if !seen[name] {
			delete(r.samples, name)
		}
	}
	for name := range r.live {
		if !seen[name] {
			delete(r.live, name)
		}
	}
}

// rate is the instance's output in bytes per second; 0 unless it is running.
func (r *rates) rate(name string) float64 {
	if !r.live[name] {
		return 0
	}
	s := r.samples[name]
	if len(s) < 2 {
		return 0
	}
	first, last := s[0], s[len(s)-1]
	dt := last.at.Sub(first.at).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(last.bytes-first.bytes) / dt
}

// link is the data flowing between two kinds of stage.
type link struct {
	From, To stage.Kind
	BPS      float64
	// Seed is how many frames the downstream instances running now
	// received without our trailer: frames that passed through a seed stage.
	Seed uint64
}

// links sums the output rates of each data link's upstream instances, in
// the order data flows (stage.Flows), and the downstream instances' counts
// of frames without our trailer.
func (r *rates) links(s supervisor.Snapshot) []link {
	var out []link
	for _, f := range stage.Flows() {
		l := link{From: f.From, To: f.To}
		for _, st := range s.Stages {
			if st.Kind == l.From {
				l.BPS += r.rate(st.Name)
			}
			if st.Kind == l.To && st.Status != nil && live(st) {
				l.Seed += st.Status.SeedFrames
			}
		}
		out = append(out, l)
	}
	return out
}
