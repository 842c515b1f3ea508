package stages

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// StatusInterval is how often a stage reports on the status channel.
const StatusInterval = 250 * time.Millisecond

// counters are a stage's live figures, written by its loops and read by the
// status reporter. Fields are atomics; the rest is under mu.
type counters struct {
	framesIn, framesOut atomic.Uint64
	bytesIn, bytesOut   atomic.Uint64
	dropped, errors     atomic.Uint64
	resent              atomic.Uint64
	queue               atomic.Int64

	mu        sync.Mutex
	state     string
	reason    string // why the stage is in state, if that needs saying
	lastError string
	done      []time.Time // completion times within fpsWindow, oldest first
	latencies []float64   // last latencyKeep publish-to-here latencies, ms
	latNext   int
}

const (
	fpsWindow   = 5 * time.Second
	latencyKeep = 256
)

// frameDone records one frame out of the stage, for fps.
func (c *counters) frameDone(now time.Time, bytes int) {
	c.framesOut.Add(1)
	c.bytesOut.Add(uint64(bytes))
	c.mu.Lock()
	c.done = append(c.done, now)
	c.mu.Unlock()
}

// latency records how long ago (in ms) a frame was first published.
func (c *counters) latency(publishedNS uint64, now time.Time) {
	if publishedNS == 0 {
		return
	}
	ms := float64(now.UnixNano()-int64(publishedNS)) / 1e6
	c.mu.Lock()
	if len(c.latencies) < latencyKeep {
		c.latencies = append(c.latencies, ms)
	} else {
		c.latencies[c.latNext] = ms
		c.latNext = (c.latNext + 1) % latencyKeep
	}
	c.mu.Unlock()
}

func (c *counters) fail(err error) {
	c.errors.Add(1)
	c.mu.Lock()
	c.lastError = err.Error()
	c.mu.Unlock()
}

// setState sets the state the stage reports, with no reason.
func (c *counters) setState(s string) { c.setStateReason(s, "") }

// setStateReason sets the state the stage reports and why it is in it.
func (c *counters) setStateReason(s, reason string) {
	c.mu.Lock()
	c.state, c.reason = s, reason
	c.mu.Unlock()
}

// fill writes the counters into st.
func (c *counters) fill(st *wire.Status, now time.Time) {
	st.FramesIn = c.framesIn.Load()
	st.FramesOut = c.framesOut.Load()
	st.BytesIn = c.bytesIn.Load()
	st.BytesOut = c.bytesOut.Load()
	st.Dropped = c.dropped.Load()
	st.Errors = c.errors.Load()
	st.Resent = c.resent.Load()
	st.QueueDepth = int(c.queue.Load())
	c.mu.Lock()
	defer c.mu.Unlock()
	st.State = c.state
	st.StateReason = c.reason
	st.LastError = c.lastError
	cut := now.Add(-fpsWindow)
	i := 0
	for i < len(c.done) && c.done[i].Before(cut) {
		i++
	}
	c.done = c.done[i:]
	if n := len(c.done); n > 0 {
		span := fpsWindow.Seconds()
		if up := now.Sub(st.StartedAt).Seconds(); up < span && up > 0 {
			span = up
		}
		st.FPS = float64(n) / span
	}
	if len(c.latencies) > 0 {
		s := slices.Clone(c.latencies)
		slices.Sort(s)
		st.Latency = &wire.Latency{P50: s[len(s)/2], P99: s[(len(s)*99)/100]}
	}
}

// reporter sends the stage's status on the side channel until ctx ends.
type reporter struct {
	endpoint string
	base     wire.Status // stage, instance, pid, host, started_at, delivery
	c        *counters
	extra    func(*wire.Status) // stage-specific fields; may be nil; must be cheap and thread-safe
	silent   atomic.Bool
	log      *slog.Logger
}

// run owns the status socket. It returns when ctx ends, after one last report.
func (r *reporter) run(ctx context.Context, zctx *bus.Context) {
	if r.endpoint == "" {
		<-ctx.Done()
		return
	}
	sock, err := zctx.Pub(connectByDefault(r.endpoint), bus.Options{HWM: 16, Linger: 200 * time.Millisecond})
	if err != nil {
		r.log.Error("status channel unavailable", "endpoint", r.endpoint, "err", err)
		<-ctx.Done()
		return
	}
	defer sock.Close()
	tick := time.NewTicker(StatusInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			r.send(sock, wire.StateStopping)
			return
		case <-tick.C:
			r.send(sock, "")
		}
	}
}

func (r *reporter) send(sock *bus.Socket, state string) {
	if r.silent.Load() {
		return
	}
	now := time.Now()
	st := r.base
	r.c.fill(&st, now)
	if state != "" {
		st.State, st.StateReason = state, ""
	}
	if r.extra != nil {
		r.extra(&st)
	}
	st.TS = now
	b, err := json.Marshal(&st)
	if err != nil {
		return
	}
	_ = sock.Send(b) // PUB never blocks; a missing supervisor is not an error
}

// toggleOnSignal flips t.on each time t.sig arrives, until ctx ends.
func toggleOnSignal(ctx context.Context, log *slog.Logger, t signalToggle) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, t.sig)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				on := !t.on.Load()
				t.on.Store(on)
				log.Warn("fault toggled by signal", "fault", string(t.fault), "on", on)
			}
		}
	}()
}

// connectByDefault prefixes a bare endpoint with ">" (connect): status and
// ack sockets that connect would otherwise take their role's bind default.
func connectByDefault(ep string) string {
	if ep == "" || strings.HasPrefix(ep, stage.BindPrefix) || strings.HasPrefix(ep, stage.ConnectPrefix) ||
		strings.Contains(ep, ",") {
		return ep
	}
	return stage.Connect(ep)
}

// limiter lets a repeated complaint through at most once a second and
// counts the rest, so hostile input cannot flood the log.
type limiter struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow reports whether to log now, and how many were suppressed since.
func (l *limiter) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.last) < time.Second {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return true, n
}
