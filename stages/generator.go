package stages

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"slices"
	"sync/atomic"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
	"github.com/imaging-tui/imaging-tui/wire/probe"
)

// GeneratorConfig configures the generator stage.
type GeneratorConfig struct {
	Common
	Images      fs.FS         // the image folder; read again at every pass
	ImagesName  string        // how to name Images in logs and errors
	Pub         string        // IMAGE_DATA out. Defaults to the table's (stage.Table)
	Ack         string        // acknowledgements in. Defaults to the table's
	Work        string        // reliable: the work pool extractors ask for frames on (pool.go); "" = none, publish only
	FPS         float64       // frames a second; 0 = as fast as delivery allows (reliable) or BestEffortFPS
	Count       int64         // stop after this many frames; 0 = never
	Once        bool          // stop after one pass over the folder
	Window      int           // reliable: most unacknowledged frames. Defaults to 8
	WindowBytes int64         // reliable: most unacknowledged bytes, once minWindowFrames are in flight. Defaults to 64 MiB
	StreamID    uint64        // 0 = random
	State       string        // file keeping the stream and window across restarts; "" = none
	Drain       time.Duration // on stop, how long to wait for an acknowledgement before giving up the window. Defaults to 30s
	HWM         int           // send high-water mark in messages. Defaults to twice the window, at least 16
}

// inflight is one published frame the logger has not acknowledged yet.
type inflight struct {
	seq      uint64
	name     string // the file, to send it again after a restart
	msg      []byte
	key      wire.SeedKey // how the frame is acknowledged once a seed stage dropped its trailer
	first    time.Time    // first publish
	sent     time.Time    // last publish
	attempts int          // publishes
	peer     string       // the pool extractor it was last given to; "" = published, or waiting for one
	timeouts int          // resends because no ack came in time: the backoff's exponent
}

// publisher is a FrameSink that also tells of new subscribers (a PUB
// socket with bus.Options.Joins).
type publisher interface {
	FrameSink
	// Joins returns how many subscriptions arrived since the last call.
	Joins() int
}

type generator struct {
	mem       frameMemory
	cfg       GeneratorConfig
	log       *slog.Logger
	c         *counters
	pub       publisher
	ack       FrameSource
	pool      *workPool   // nil: no work pool, frames are published
	acked     chan []byte // with a pool: acknowledgements, received by openPool's goroutine
	window    map[uint64]*inflight
	bySeed    map[wire.SeedKey]uint64 // the window's frames by seed key
	bytes     int64
	seq       uint64
	lastTS    uint64        // the last frame's timestamp: each frame's is later
	srtt      time.Duration // smoothed publish-to-ack time
	joins     int           // subscriptions seen on pub
	firstJoin time.Time     // when the first subscription arrived
	lastSeq   atomic.Uint64 // g.seq, for the status reporter
	oldest    atomic.Int64  // the window's oldest first publish, UnixNano; 0 when empty; for the status reporter
	logger    uint64        // incarnation of the logger last heard from
	resend    bool          // a downstream restart was seen: send the window again
	graceEnd  time.Time     // a (re)started logger's helloGrace ends: then resend what went out before; zero = none pending
	acks      ackWatch      // whether the chain acknowledges at all
	bad       limiter
	spare     []byte // a sent message's buffer, free for the next load
}

// generatorFlags is the generator's command (see command).
func generatorFlags(f *flag.FlagSet, samples fs.FS) runFunc {
	var cfg GeneratorConfig
	var images, windowBytes string
	f.StringVar(&images, "images", "", "image `folder` (default: the sample images embedded in the binary)")
	f.Float64Var(&cfg.FPS, "fps", 0, fmt.Sprintf("frames a second; 0 = as fast as acknowledgements allow under reliable delivery, %d under best-effort", BestEffortFPS))
	f.Int64Var(&cfg.Count, "count", 0, "stop after `N` frames (0 = never)")
	f.BoolVar(&cfg.Once, "once", false, "stop after one pass over the folder")
	f.IntVar(&cfg.Window, "window", 8, "reliable delivery: most frames in flight unacknowledged")
	f.StringVar(&windowBytes, "window-bytes", "64MiB", "reliable delivery: most bytes in flight unacknowledged (three frames are always admitted)")
	f.Uint64Var(&cfg.StreamID, "stream-id", 0, "stream `id` in every frame (0 = random)")
	f.StringVar(&cfg.State, "state", "", "`file` keeping the stream and the frames in flight across restarts (reliable delivery)")
	f.DurationVar(&cfg.Drain, "drain", 0, "on stop, wait for the frames in flight while acknowledgements come; give up after this long without one (default 30s, at least four resend timeouts)")
	return func(ctx context.Context, inv invocation) error {
		n, err := stage.ParseSize(windowBytes)
		if err != nil {
			return usage(f, "--window-bytes: %v", err)
		}
		cfg.WindowBytes, cfg.Common = n, inv.Common
		cfg.Pub, cfg.Ack, cfg.Work = inv.ports["pub"], inv.ports["ack"], inv.ports["work"]
		cfg.Images, cfg.ImagesName = samples, "(embedded samples)"
		if images != "" {
			if cfg.Images, err = DirFS(images); err != nil {
				return fmt.Errorf("generator: images: %w", err)
			}
			cfg.ImagesName = images
		}
		return RunGenerator(ctx, cfg, inv.log)
	}
}

// setDefaults fills in the zero fields but the endpoints, which come from
// the stage table (stageRuntime.endpoint).
func (cfg *GeneratorConfig) setDefaults() {
	if cfg.Window <= 0 {
		cfg.Window = 8
	}
	if cfg.WindowBytes <= 0 {
		cfg.WindowBytes = 64 << 20
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 30 * time.Second
	}
	if cfg.HWM <= 0 {
		// Twice the window: resending the whole window at once (a new
		// subscriber, a logger restart) must not drop half of it at the
		// mark, to wait for the resend timeout; nor, when a lagging
		// extractor has not yet taken the first copies, the new frames
		// that follow as acknowledgements free the window: the originals
		// and one round of resends fit. The mark also bounds the copies
		// ZeroMQ holds, in messages (docs/PERFORMANCE.md, Memory).
		cfg.HWM = 2 * max(cfg.Window, 8)
	}
}

// RunGenerator publishes the images of cfg.Images until ctx ends, the count
// is reached or, with Once, after one pass. Under reliable delivery it then
// waits for every frame in flight to be acknowledged, as long as
// acknowledgements keep coming (see drain).
func RunGenerator(ctx context.Context, cfg GeneratorConfig, log *slog.Logger) error {
	cfg.setDefaults()
	mapLargeMessages(log)
	state, err := loadState(cfg.State)
	if err != nil {
		return fmt.Errorf("generator: %w", err)
	}
	if state != nil && cfg.StreamID == 0 {
		cfg.StreamID = state.StreamID
	}
	if cfg.StreamID == 0 {
		cfg.StreamID = randomID()
	}
	names, err := listImages(cfg.Images)
	if err != nil {
		return fmt.Errorf("generator: images %s: %w", cfg.ImagesName, err)
	}
	if len(names) == 0 {
		return fmt.Errorf("generator: images %s: no image files (.jpg .jpeg .png .bmp .tif .tiff)", cfg.ImagesName)
	}
	rt, err := startRuntime(stage.Generator, &cfg.Common, log)
	if err != nil {
		return err
	}
	defer rt.close()
	cfg.Pub, cfg.Ack = rt.endpoint(cfg.Pub, "pub"), rt.endpoint(cfg.Ack, "ack")
	g := &generator{cfg: cfg, log: log, c: rt.c, window: map[uint64]*inflight{}, bySeed: map[wire.SeedKey]uint64{},
		mem: frameMemory{frames: 4}} // the window's three frames and one being loaded
	log.Info("generator starting", "images", cfg.ImagesName, "files", len(names), "stream_id", cfg.StreamID,
		"delivery", cfg.Delivery, "fps", g.pace())
	pub, err := rt.pub(cfg.Pub, bus.Options{HWM: cfg.HWM, Joins: true})
	if err != nil {
		return fmt.Errorf("generator: publish socket: %w", err)
	}
	ack, err := rt.sub(connectByDefault(cfg.Ack), bus.Options{HWM: 1000})
	if err != nil {
		return fmt.Errorf("generator: ack socket: %w", err)
	}
	g.pub, g.ack = pub, ack
	if cfg.Delivery == stage.Reliable && cfg.Work != "" {
		stop, err := g.openPool(rt)
		if err != nil {
			return fmt.Errorf("generator: work pool socket: %w", err)
		}
		defer stop() // before rt.close: the ack socket's receiver ends first
	}
	rt.report(ctx, func(st *wire.Status) {
		st.StreamID = g.cfg.StreamID
		st.LastSeq = g.lastSeq.Load()
		if o := g.oldest.Load(); o != 0 {
			st.OldestUnacked = time.Unix(0, o)
		}
		st.Disconnects = ack.Dropped()
	})
	if state != nil && state.StreamID == cfg.StreamID && cfg.Delivery == stage.Reliable {
		if !g.waitForRoom(ctx, 0) { // a subscriber first: these frames matter most
			return nil
		}
		g.resume(state)
	}
	err = g.run(ctx)
	if cfg.Delivery == stage.Reliable {
		g.drain()
	}
	return err
}

// BestEffortFPS is the best-effort generator's rate when --fps is 0.
// Nothing slows best-effort publishing down (no acknowledgements, and a PUB
// socket drops what a subscriber cannot take), so unpaced it would spin a
// core encoding frames that are dropped; this rate is above what a typical
// pipeline stores, and costs the generator almost nothing.
const BestEffortFPS = 30

// pace returns the publishing rate: --fps, or BestEffortFPS for best-effort
// delivery without one; 0 = unpaced.
func (g *generator) pace() float64 {
	if g.cfg.FPS <= 0 && g.cfg.Delivery != stage.Reliable {
		return BestEffortFPS
	}
	return g.cfg.FPS
}

// run is the publishing loop: passes over the folder until told to stop.
func (g *generator) run(ctx context.Context) error {
	fps := g.pace()
	var next time.Time // pacing for fps
	var total int64    // frames published by this run, for --count
	for pass := 0; ; pass++ {
		names, err := listImages(g.cfg.Images)
		if err != nil {
			g.c.fail(err)
			g.log.Error("cannot list images", "err", err)
		}
		published := 0
		for _, name := range names {
			if ctx.Err() != nil {
				return nil
			}
			// With a pool, the frame is read and stamped once an extractor
			// asks for it: its latency counts from then, not from a wait
			// at the source.
			if g.pool != nil && !g.waitForRoom(ctx, 0) {
				return nil
			}
			msg, key, err := g.loadAt(name, g.seq+1, 0)
			if err != nil {
				g.c.fail(err)
				g.log.Warn("image skipped", "file", name, "err", err)
				continue
			}
			g.mem.saw(len(msg))
			if !g.waitForRoom(ctx, len(msg)) {
				return nil
			}
			if fps > 0 {
				if !sleepUntil(ctx, next) {
					return nil
				}
				next = maxTime(next, time.Now()).Add(time.Duration(float64(time.Second) / fps))
			}
			g.publish(msg, name, key)
			published++
			total++
			if g.cfg.Count > 0 && total >= g.cfg.Count {
				return nil
			}
		}
		if g.cfg.Once {
			return nil
		}
		if published == 0 && !sleepUntil(ctx, time.Now().Add(time.Second)) {
			return nil // nothing usable this pass: don't spin
		}
	}
}

// load reads one file and encodes its IMAGE_DATA message as frame seq,
// with the next timestamp (see loadAt).
func (g *generator) load(name string, seq uint64) ([]byte, error) {
	msg, _, err := g.loadAt(name, seq, 0)
	return msg, err
}

// loadAt reads one file and encodes its IMAGE_DATA message as frame seq,
// timestamped ts, or when ts is 0 with the next timestamp of the stream.
// Width, height and channels come from the file's header. It also returns
// the frame's seed key.
//
// The file is read straight into the message buffer, after the room for the
// header, and only its header is parsed: one allocation and no copy of the
// image per frame.
func (g *generator) loadAt(name string, seq, ts uint64) ([]byte, wire.SeedKey, error) {
	file, err := g.cfg.Images.Open(name)
	if err != nil {
		return nil, wire.SeedKey{}, err
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, wire.SeedKey{}, err
	}
	if st.Size() > wire.MaxImageBytes {
		return nil, wire.SeedKey{}, fmt.Errorf("%d bytes is more than a message may carry (%d)", st.Size(), wire.MaxImageBytes)
	}
	f := wire.Frame{
		Type:     wire.TypeImage,
		Filename: truncateName(path.Base(name)),
		Trailer:  &wire.Trailer{StreamID: g.cfg.StreamID, Seq: seq},
	}
	off, n := f.DataOffset(), int(st.Size())
	buf := g.take(f.Size() + n)
	if _, err := io.ReadFull(file, buf[off:off+n]); err != nil {
		return nil, wire.SeedKey{}, fmt.Errorf("read: %w (the file shrank while being read?)", err)
	}
	f.Data = buf[off : off+n]
	info, err := probe.Probe(f.Data)
	if err != nil {
		return nil, wire.SeedKey{}, err
	}
	if err := complete(info.Format, f.Data); err != nil {
		return nil, wire.SeedKey{}, err
	}
	if info.Width <= 1 && info.Height <= 1 {
		return nil, wire.SeedKey{}, fmt.Errorf("%dx%d image is too small to hold features", info.Width, info.Height)
	}
	if ts == 0 {
		ts = g.nextTimestamp()
	}
	f.Timestamp, f.Trailer.PublishedNS = ts, ts
	f.Width, f.Height, f.Channels = uint32(info.Width), uint32(info.Height), uint32(info.Channels)
	msg, err := f.AppendBinary(buf[:0])
	return msg, f.SeedKey(), err
}

// nextTimestamp returns now in ns since the epoch, or one past the last
// frame's timestamp if that is later: within a stream every frame's
// timestamp differs, so that a frame whose trailer a seed stage dropped is
// still known by its seed key (wire.SeedKey).
func (g *generator) nextTimestamp() uint64 {
	g.lastTS = max(uint64(time.Now().UnixNano()), g.lastTS+1)
	return g.lastTS
}

// take returns a buffer of n bytes: the spare one when it is large enough.
// Reused, the memory of a 20 MB frame is faulted in once, not once a frame
// (a new one is, and on a VM that hands freed memory back to its host each
// fault costs a host round trip). A new buffer gets an eighth more room:
// the images of one folder differ in size by a few per cent, and capacity
// never written is never resident.
func (g *generator) take(n int) []byte {
	if cap(g.spare) >= n {
		b := g.spare[:n]
		g.spare = nil
		return b
	}
	return make([]byte, n, n+n/8)
}

// release offers the buffer of a message nothing refers to any more (sent,
// and acknowledged under reliable delivery) for reuse; the largest is kept.
func (g *generator) release(msg []byte) {
	if cap(msg) > cap(g.spare) {
		g.spare = msg
	}
}

func (g *generator) publish(msg []byte, name string, key wire.SeedKey) {
	g.seq++
	g.lastSeq.Store(g.seq)
	g.send(g.seq, msg, name, key)
}

// send publishes frame seq and, under reliable delivery, adds it to the window.
func (g *generator) send(seq uint64, msg []byte, name string, key wire.SeedKey) {
	now := time.Now()
	peer, sent := g.dispatch(msg, now)
	g.c.framesIn.Add(1)
	g.c.frameDone(now, len(msg))
	if g.cfg.Delivery != stage.Reliable {
		g.release(msg) // ZeroMQ has its own copy
	} else {
		g.window[seq] = &inflight{seq: seq, name: name, msg: msg, key: key, first: now, sent: sent, attempts: 1, peer: peer}
		if g.bySeed == nil {
			g.bySeed = map[wire.SeedKey]uint64{}
		}
		g.bySeed[key] = seq
		g.bytes += int64(len(msg))
		g.c.queue.Store(int64(len(g.window)))
		g.saveState()
	}
}

// minWindowFrames is how many frames the window admits whatever their size:
// one being stored, one in SIFT and one queued keep a two-worker extractor
// busy. Past it, WindowBytes bounds the window, and with it the memory of
// every stage: with 20 MB frames, three are in flight, not eight.
const minWindowFrames = 3

// waitForRoom services acknowledgements and resends until the window has
// room for a message of n bytes. It reports false when ctx ended first.
func (g *generator) waitForRoom(ctx context.Context, n int) bool {
	for {
		g.service(0)
		if g.cfg.Delivery != stage.Reliable {
			return ctx.Err() == nil
		}
		full := len(g.window) >= g.cfg.Window ||
			(len(g.window) >= minWindowFrames && g.bytes+int64(n) > g.cfg.WindowBytes)
		if g.pooled(time.Now()) {
			// Frames wait here until an extractor asks for one.
			full = full || g.pool.free() == nil
		} else {
			// Before anyone subscribes, a PUB socket sends into the void; and
			// replicas starting together should all be there for the first frame.
			full = full || g.joins == 0 || time.Since(g.firstJoin) < joinSettle
		}
		if !full {
			return ctx.Err() == nil
		}
		if ctx.Err() != nil {
			return false
		}
		g.service(50 * time.Millisecond)
	}
}

// service reads the acknowledgements waiting (blocking up to wait for the
// first) and resends frames whose acknowledgement is overdue.
func (g *generator) service(wait time.Duration) {
	g.receive(wait)
	now := time.Now()
	rto := g.rto()
	g.expirePeers(now)
	pooled := g.pooled(now)
	// A new subscriber is usually a restarted extractor: whatever the old
	// one held is gone, so send the whole window again now, not at timeout.
	if joined := g.pub.Joins(); joined > 0 {
		if g.joins == 0 {
			g.firstJoin = now
		}
		g.joins += joined
		if len(g.window) > 0 && !pooled { // a pool extractor's frames are its own
			g.log.Info("subscriber joined; resending frames in flight", "frames", len(g.window))
			g.resend = true
		}
	}
	g.afterLoggerGrace(now)
	all := g.resend
	g.resend = false
	for _, seq := range sortedSeqs(g.window) {
		f := g.window[seq]
		// Exponential backoff, capped, on timeouts: a chain that never
		// acknowledges (a seed logger at its end) gets a copy of each frame
		// now and then, not a stream of them. A resend because a stage
		// restarted (all, or sent zeroed by resendSentBefore) is no
		// timeout: a copy it sends that is lost too (a restarted seed
		// extractor publishes before the logger has reconnected) is due
		// again after one rto, not two.
		forced := all || f.sent.IsZero()
		due := !forced && now.Sub(f.sent) >= rto<<min(f.timeouts, 4)
		if !forced && !due {
			continue
		}
		if due {
			f.timeouts++
			g.log.Info("frame resent: no acknowledgement within the resend timeout", "frame_seq", f.seq,
				"timeouts", f.timeouts, "rto", rto)
		}
		if f.peer, f.sent = g.dispatch(f.msg, now); f.sent.IsZero() {
			continue // no extractor free: due again at the next service
		}
		f.attempts++
		g.c.resent.Add(1)
		g.c.bytesOut.Add(uint64(len(f.msg)))
	}
	g.watchAcks(now)
}

func (g *generator) onAck(msg []byte) {
	a, err := wire.DecodeAck(msg)
	if err != nil {
		skip(g.c, &g.bad, g.log, "bad message on ack socket skipped", fmt.Errorf("bad ack message: %w", err), "bytes", len(msg))
		return
	}
	now := time.Now()
	if inc, started, ok := a.Hello(); ok {
		g.acks.hello = now
		if inc != g.logger {
			g.logger = inc
			g.graceEnd = time.Unix(0, int64(started)).Add(helloGrace)
		}
		return
	}
	n := len(g.window)
	if len(a.Seeds) > 0 {
		// A seed stage dropped the trailer on the way: the logger
		// acknowledges such frames by their seed keys.
		for _, k := range a.Seeds {
			if seq, ok := g.bySeed[k]; ok {
				g.retire(g.window[seq], now)
			}
		}
	} else if a.StreamID == g.cfg.StreamID {
		for _, s := range a.Seqs {
			if f, ok := g.window[s]; ok {
				g.retire(f, now)
			}
		}
	} // else another generator's stream
	if len(g.window) < n {
		g.c.queue.Store(int64(len(g.window)))
		g.saveState()
	}
}

// retire takes an acknowledged frame out of the window.
func (g *generator) retire(f *inflight, now time.Time) {
	// Karn's rule: the ack of a resent frame says nothing of the delay.
	if d := now.Sub(f.first); f.attempts == 1 && g.srtt == 0 {
		g.srtt = d
	} else if f.attempts == 1 {
		g.srtt = (7*g.srtt + d) / 8
	}
	g.c.latency(uint64(f.first.UnixNano()), now)
	g.bytes -= int64(len(f.msg))
	delete(g.window, f.seq)
	delete(g.bySeed, f.key)
	g.release(f.msg)
	g.acks.last = now
	g.acks.count++
}

// helloGrace is how long after its start a logger may still miss frames:
// its sockets connect in the background, slowly on a loaded machine. Erring
// long costs a few frames extracted twice per logger restart.
const helloGrace = 2 * time.Second

// joinSettle is how long the generator waits after the first subscriber
// joins before it publishes: extractor replicas started together then all
// get the first frames, instead of a later join sending them all again.
const joinSettle = 300 * time.Millisecond

// afterLoggerGrace resends, once a (re)started logger's grace has passed,
// every frame in flight last sent before its end. Not at its first hello,
// which comes within helloInterval: a copy sent then reaches an extractor
// that may not have reconnected to the new logger yet, which drops the
// result, and that frame — with every other sent in the grace — would
// wait for a resend timeout (10 s or more, doubled by each one it already
// had). After the grace, the links are up and one round of resends does.
func (g *generator) afterLoggerGrace(now time.Time) {
	if g.graceEnd.IsZero() || now.Before(g.graceEnd) {
		return
	}
	g.resendSentBefore(g.graceEnd)
	g.graceEnd = time.Time{}
}

// resendSentBefore marks for sending again now the frames in flight last
// sent before t: a logger listening since t-helloGrace cannot have stored
// them.
func (g *generator) resendSentBefore(t time.Time) {
	n := 0
	for _, f := range g.window {
		if f.sent.Before(t) {
			f.sent = time.Time{} // due now
			n++
		}
	}
	if n > 0 {
		g.log.Info("logger (re)started; resending frames in flight", "frames", n)
	}
}

// rto is how long a frame may go unacknowledged before it is resent: three
// times the smoothed ack time plus two seconds, within [10s, 2m]. Restarts
// downstream are noticed at once (joins, logger hellos); this timer is the
// safety net for the rest, so it errs long: a resend costs a SIFT run.
func (g *generator) rto() time.Duration {
	return min(max(3*g.srtt+2*time.Second, 10*time.Second), 2*time.Minute)
}

// unackedAfter is how long frames may be in flight with no acknowledgement
// at all before the generator says that the chain does not acknowledge: its
// log and its status say so within 10 s, before the first resend.
const unackedAfter = 9 * time.Second

// helloFresh is how recent a logger's hello must be to say that a logger of
// ours is up (it says hello every helloInterval).
const helloFresh = 3 * time.Second

// unackedHint is what to do about a chain that never acknowledges.
const unackedHint = "no logger acknowledges; a seed-protocol logger? use --delivery best-effort for this chain"

// ackWatch is what the generator knows of the acknowledgements coming back.
type ackWatch struct {
	last     time.Time // when a frame of ours was last acknowledged
	hello    time.Time // when a logger last said hello
	count    uint64    // frames acknowledged in this run
	reason   string    // why the generator is in the unacked state; "" when it is not
	draining bool      // the generator is stopping: its state says so
}

// deaf reports a chain that has acknowledged nothing in this run for
// unackedAfter: waiting for it to drain would only hold up the stop (the
// state file, if any, keeps the frames in flight).
func (a *ackWatch) deaf() bool { return a.reason != "" && a.count == 0 }

// watchAcks names a chain that does not acknowledge: when frames have been
// in flight for unackedAfter and none was acknowledged meanwhile, it logs
// why and reports the unacked state with the reason, until an
// acknowledgement comes.
func (g *generator) watchAcks(now time.Time) {
	if g.cfg.Delivery != stage.Reliable {
		return
	}
	// Since the oldest frame in flight went out, or the last ack if later:
	// after a quiet spell, new frames get their time.
	var oldest time.Time
	for _, f := range g.window {
		if oldest.IsZero() || f.first.Before(oldest) {
			oldest = f.first
		}
	}
	if oldest.IsZero() {
		g.oldest.Store(0)
	} else {
		g.oldest.Store(oldest.UnixNano())
	}
	since := maxTime(g.acks.last, oldest)
	reason := ""
	if len(g.window) > 0 && now.Sub(since) >= unackedAfter {
		frames := fmt.Sprintf("%d frames", len(g.window))
		if len(g.window) == 1 {
			frames = "1 frame"
		}
		why := unackedHint
		if now.Sub(g.acks.hello) < helloFresh {
			why = "a logger says hello but stores none (its database full? frames lost on the way?)"
		}
		reason = fmt.Sprintf("%s in flight, none acknowledged for %s: %s", frames, now.Sub(since).Truncate(time.Second), why)
	}
	switch {
	case reason != "" && g.acks.reason == "":
		g.log.Warn("frames not acknowledged", "frames", len(g.window), "reason", reason)
	case reason == "" && g.acks.reason != "":
		g.log.Info("acknowledgements resumed", "frames", len(g.window))
	}
	switch {
	case g.acks.draining:
	case reason != "":
		g.c.setStateReason(wire.StateUnacked, reason)
	case g.acks.reason != "":
		g.c.setState(wire.StateRunning)
	}
	g.acks.reason = reason
}

// drain waits for the window to empty, so that stopping the
// generator loses nothing already published.
func (g *generator) drain() {
	if len(g.window) == 0 {
		return
	}
	if g.acks.deaf() {
		g.log.Warn("stopped with frames unacknowledged; the chain acknowledges none", "frames", len(g.window),
			"reason", g.acks.reason)
		return
	}
	g.acks.draining = true
	g.c.setState(wire.StateStopping)
	g.log.Info("draining frames in flight", "frames", len(g.window))
	// Wait while the window keeps shrinking: large frames on a slow machine
	// may take minutes to drain, and that is fine. Give up only when no
	// acknowledgement has come for drainStall.
	last, lastN := time.Now(), len(g.window)
	for len(g.window) > 0 && time.Since(last) < g.drainStall() && !g.acks.deaf() {
		g.service(50 * time.Millisecond)
		if len(g.window) < lastN {
			last, lastN = time.Now(), len(g.window)
		}
	}
	if n := len(g.window); n > 0 {
		seqs := make([]uint64, 0, n)
		for s := range g.window {
			seqs = append(seqs, s)
		}
		slices.Sort(seqs)
		g.log.Warn("stopped with frames unacknowledged; the state file keeps them for the next run", "frames", n,
			"seqs", seqs, "state", g.cfg.State, "reason", g.acks.reason)
	}
}

// drainStall is how long the drain waits without an acknowledgement. While
// no logger is heard, the longer of Drain and four resend timeouts: a
// restarting logger, or one on a machine so loaded that a SIFT run takes
// 15 s, is worth waiting for. While a logger says hello but acknowledges
// nothing, two resend timeouts (each three smoothed ack times and more):
// time for a frame lost on the way to be resent once and stored; past that
// the logger receives and does not store — blocked on a full disk, say —
// and waiting longer would only hold up the stop; the state file keeps the
// frames for the next run.
func (g *generator) drainStall() time.Duration {
	if time.Since(g.acks.hello) < helloFresh {
		return 2 * g.rto()
	}
	return max(g.cfg.Drain, 4*g.rto())
}

// complete checks that an encoded file ends where its format says it ends,
// so a file cut short (a copy in progress, a truncated download) is skipped
// here instead of being decoded into a partial image downstream.
func complete(format string, b []byte) error {
	switch format {
	case "jpeg":
		end := bytes.TrimRight(b, "\x00") // some writers pad after the end marker
		if !bytes.HasSuffix(end, []byte{0xFF, 0xD9}) {
			return errors.New("truncated JPEG: no end-of-image marker")
		}
	case "png":
		if !bytes.Contains(b[max(0, len(b)-64):], []byte("IEND")) {
			return errors.New("truncated PNG: no IEND chunk")
		}
	}
	return nil
}

// randomID returns a random non-zero 64-bit id.
func randomID() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) | 1
}

// listImages returns the image files of fsys's top folder, sorted by name.
func listImages(fsys fs.FS) ([]string, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("folder does not exist")
		}
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0 {
			if probe.IsImageName(e.Name()) {
				names = append(names, e.Name())
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

// DirFS is os.DirFS that first checks the folder exists, for a clear error.
func DirFS(dir string) (fs.FS, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	return os.DirFS(dir), nil
}

func truncateName(s string) string {
	for len(s) > wire.MaxFilename {
		s = s[len(s)-wire.MaxFilename:] // keep the end: the extension
		for len(s) > 0 && s[0]&0xC0 == 0x80 {
			s = s[1:] // never cut a UTF-8 sequence
		}
	}
	return s
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
