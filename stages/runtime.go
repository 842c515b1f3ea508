package stages

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// Common holds the settings every stage has.
type Common struct {
	Status   string         // status channel endpoint; "" = none (the CLI defaults it to stage.StatusPort's)
	Instance string         // instance name in status reports. Defaults to the stage's kind
	Delivery stage.Delivery // Defaults to stage.Reliable
	// Keys are the CURVE credentials of every socket of the stage, status
	// included (bus.Security). Without a key a tcp bind beyond loopback
	// fails unless Keys.Insecure.
	Keys    bus.KeyFiles
	started time.Time
}

func (c *Common) setDefaults(k stage.Kind) {
	if c.Instance == "" {
		c.Instance = string(k)
	}
	if c.Delivery == "" {
		c.Delivery = stage.Reliable
	}
	c.started = time.Now()
}

// stageRuntime is the set-up every stage shares, written once: the
// settings' defaults, the process's one ZeroMQ context and the sockets
// opened on it, the live counters, the status reporter with its SIGUSR1
// toggle, and the order all of that is taken down in.
//
// It belongs to the goroutine running the stage: open sockets and start the
// reports from there, and close it once, deferred, after the stage's loops
// have ended, so the last status report says "stopping".
type stageRuntime struct {
	kind    stage.Kind
	common  Common
	log     *slog.Logger
	c       *counters
	zctx    *bus.Context
	sockets []*bus.Socket
	stop    func() // ends the reports; nil before report
}

// startRuntime fills in common's defaults and opens the ZeroMQ context of a
// stage of kind k.
func startRuntime(k stage.Kind, common *Common, log *slog.Logger) (*stageRuntime, error) {
	if _, ok := stage.Lookup(k); !ok {
		return nil, fmt.Errorf("stage %q is not in stage.Table", k)
	}
	common.setDefaults(k)
	sec, err := common.Keys.Load()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k, err)
	}
	sec.Warn = func(msg string) { log.Warn("insecure bind", "why", msg) }
	zctx, err := bus.NewContext()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k, err)
	}
	if err := zctx.Secure(sec); err != nil {
		zctx.Close()
		return nil, fmt.Errorf("%s: %w", k, err)
	}
	return &stageRuntime{kind: k, common: *common, log: log, zctx: zctx,
		c: &counters{state: wire.StateRunning}}, nil
}

// endpoint returns ep, or when it is empty the default of the stage's port
// named flag (stage.Table): what a stage run by hand uses.
func (rt *stageRuntime) endpoint(ep, flag string) string {
	if ep != "" {
		return ep
	}
	spec, _ := stage.Lookup(rt.kind)
	for _, p := range spec.Ports {
		if p.Flag == flag {
			return p.Default()
		}
	}
	return ""
}

// pub opens a publishing socket that close will close.
func (rt *stageRuntime) pub(endpoints string, o bus.Options) (*bus.Socket, error) {
	return rt.keep(rt.zctx.Pub(endpoints, o))
}

// sub opens a subscribing socket that close will close.
func (rt *stageRuntime) sub(endpoints string, o bus.Options) (*bus.Socket, error) {
	return rt.keep(rt.zctx.Sub(endpoints, o))
}

func (rt *stageRuntime) keep(s *bus.Socket, err error) (*bus.Socket, error) {
	if err == nil {
		rt.sockets = append(rt.sockets, s)
	}
	return s, err
}

// refused returns how many peers the stage's sockets, opened so far, have
// turned away at the handshake (bus.Socket.Refused): hosts without the
// right CURVE key. Any goroutine may call the function it returns, which
// sums the sockets open when refused was called; the status reports can
// carry it.
func (rt *stageRuntime) refused() func() uint64 {
	socks := slices.Clone(rt.sockets)
	return func() uint64 {
		var n uint64
		for _, s := range socks {
			n += s.Refused()
		}
		return n
	}
}

// signalToggle is a fault a signal turns on and off (stage.SignalSilent,
// stage.SignalDBFull): each delivery flips on.
type signalToggle struct {
	sig   os.Signal
	fault stage.Fault
	on    *atomic.Bool
}

// report starts the status reports, with extra filling in the stage's own
// fields (may be nil; it runs on the reporter's goroutine, so it must be
// cheap and thread-safe), and the signal toggles: SignalSilent's and the
// stage's own. They run until close, not until ctx ends: the reports go on
// while the stage drains.
func (rt *stageRuntime) report(ctx context.Context, extra func(*wire.Status), toggles ...signalToggle) {
	refused := rt.refused()
	withRefused := func(st *wire.Status) {
		st.Refused = refused()
		if extra != nil {
			extra(st)
		}
	}
	r := &reporter{endpoint: rt.common.Status, base: rt.baseStatus(), c: rt.c, log: rt.log, extra: withRefused}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	toggleOnSignal(rctx, rt.log, signalToggle{stage.SignalSilent, stage.FaultSilent, &r.silent})
	for _, t := range toggles {
		toggleOnSignal(rctx, rt.log, t)
	}
	done := make(chan struct{})
	go func() { defer close(done); r.run(rctx, rt.zctx) }()
	rt.stop = func() { cancel(); <-done }
}

// baseStatus is the part of every status report that never changes.
func (rt *stageRuntime) baseStatus() wire.Status {
	host, _ := os.Hostname()
	return wire.Status{
		Stage:     string(rt.kind),
		Instance:  rt.common.Instance,
		PID:       os.Getpid(),
		Host:      host,
		StartedAt: rt.common.started,
		Delivery:  string(rt.common.Delivery),
	}
}

// close sends the last status report, then closes the sockets, the newest
// first, and the context.
func (rt *stageRuntime) close() {
	if rt.stop != nil {
		rt.stop()
	}
	if n := rt.refused()(); n > 0 {
		rt.log.Warn("peers were refused at the handshake (no key, or a key not among --peers)", "refused", n)
	}
	for i := len(rt.sockets) - 1; i >= 0; i-- {
		rt.sockets[i].Close()
	}
	rt.zctx.Close()
}

// The stage loops are written against these interfaces, so that a loop
// reads top to bottom and runs in a test without libzmq or OpenCV where
// those are not the point. In a running stage *bus.Socket is the source and
// the sink, and siftTransform the transform.

// A FrameSource receives messages.
type FrameSource interface {
	// RecvInto waits up to timeout for a message and returns it, in buf's
	// memory when it fits; when none came it returns an error matching
	// bus.ErrTimeout.
	RecvInto(buf []byte, timeout time.Duration) ([]byte, error)
}

// A FrameSink sends messages. Send keeps nothing of msg: the caller reuses
// its memory at once.
type FrameSink interface {
	Send(msg []byte) error
}

// A Transform turns an image frame into its PROCESSED_DATA message. It is
// used by one goroutine at a time: the extractor has one per worker.
type Transform interface {
	// Transform returns the message, encoded into buf when it is large
	// enough, and how many keypoints it found.
	Transform(img *wire.Frame, buf []byte) (msg []byte, keypoints int, err error)
}
