package stages

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// LoggerConfig configures the logger stage.
type LoggerConfig struct {
	Common
	Sub          string // PROCESSED_DATA in. Defaults to the table's (stage.Table)
	Ack          string // acknowledgements out. Defaults to the table's
	DB           string // database path. Defaults to imaging.db
	RetainFrames int64  // keep at most this many frames; 0 = all
	RetainBytes  int64  // keep at most about this many bytes of images; 0 = all
	HWM          int    // receive high-water mark in messages. Defaults to 8
}

// helloInterval is how often the logger says hello on the ack channel, so a
// generator learns of a logger restart within about this time.
const helloInterval = 500 * time.Millisecond

// retainEvery is how many stored frames pass between two retention passes.
const retainEvery = 8

// reorderGrace is how long a gap in a stream's sequence numbers stays open
// before it counts as dropped. Frames arrive out of order — two SIFT
// workers finish in either order, reliable delivery resends — so a gap is
// not yet a loss: counted at once, "1 dropped" would come and go under
// reliable delivery with every frame stored.
const reorderGrace = 10 * time.Second

// streamSpan tracks which sequence numbers of one stream were stored, to
// count the gaps (frames lost upstream) as dropped.
type streamSpan struct {
	first, last, frames uint64
	young               []gap // gaps opened less than reorderGrace ago
}

// gap is a run of missing sequence numbers, from and to included, open
// since the stored frame that revealed it.
type gap struct {
	from, to uint64
	since    time.Time
}

// missing counts the sequence numbers between first and last not stored.
func (s *streamSpan) missing() uint64 {
	if s.frames == 0 {
		return 0
	}
	return s.last - s.first + 1 - s.frames
}

// dropped is missing less the young gaps' numbers.
func (s *streamSpan) dropped() uint64 {
	n := s.missing()
	for _, g := range s.young {
		n -= g.to - g.from + 1
	}
	return n
}

// add records the newly stored sequence number seq, seen at now.
func (s *streamSpan) add(seq uint64, now time.Time) {
	switch {
	case s.frames == 0:
		s.first, s.last = seq, seq
	case seq > s.last:
		if seq > s.last+1 {
			s.young = append(s.young, gap{s.last + 1, seq - 1, now})
		}
		s.last = seq
	case seq < s.first:
		if seq+1 < s.first {
			s.young = append(s.young, gap{seq + 1, s.first - 1, now})
		}
		s.first = seq
	default:
		s.fill(seq)
	}
	s.frames++
}

// fill takes seq out of the young gap holding it, if one does (else it
// closes an old gap, which missing accounts for).
func (s *streamSpan) fill(seq uint64) {
	for i, g := range s.young {
		switch {
		case seq < g.from || seq > g.to:
			continue
		case g.from == g.to:
			s.young = slices.Delete(s.young, i, i+1)
		case seq == g.from:
			s.young[i].from++
		case seq == g.to:
			s.young[i].to--
		default:
			s.young = slices.Insert(s.young, i+1, gap{seq + 1, g.to, g.since})
			s.young[i].to = seq - 1
		}
		return
	}
}

// age lets the young gaps opened before cutoff count as dropped.
func (s *streamSpan) age(cutoff time.Time) {
	s.young = slices.DeleteFunc(s.young, func(g gap) bool { return g.since.Before(cutoff) })
}

type logger struct {
	mem     frameMemory
	cfg     LoggerConfig
	log     *slog.Logger
	c       *counters
	db      *db.DB
	ack     FrameSink
	streams map[uint64]*streamSpan
	incarn  uint64        // this run's incarnation, sent in hellos
	ready   time.Time     // when its receive socket was opened, sent in hellos
	seed    atomic.Uint64 // frames received without our trailer (through a seed stage)
	full    atomic.Bool   // dbfull fault asked for
	isFull  bool          // dbfull fault applied to the database
	blocked time.Time     // when the full database last stopped storing; zero while storing
	bad     limiter

	mu     sync.Mutex // guards counts, read by the status reporter
	counts db.Counts
}

// loggerFlags is the logger's command (see command).
func loggerFlags(f *flag.FlagSet, _ fs.FS) runFunc {
	var cfg LoggerConfig
	var retainBytes string
	f.StringVar(&cfg.DB, "db", "imaging.db", "SQLite database `path`")
	f.Int64Var(&cfg.RetainFrames, "retain-frames", 0, "keep only the newest `N` frames (0 = all)")
	f.StringVar(&retainBytes, "retain-bytes", "0", "keep only the newest frames within `SIZE` of images, e.g. 2GiB (0 = all)")
	return func(ctx context.Context, inv invocation) error {
		n, err := stage.ParseSize(retainBytes)
		if err != nil {
			return usage(f, "--retain-bytes: %v", err)
		}
		cfg.RetainBytes, cfg.Common = n, inv.Common
		cfg.Sub, cfg.Ack = inv.ports["sub"], inv.ports["ack"]
		return RunLogger(ctx, cfg, inv.log)
	}
}

// RunLogger stores every processed frame received until ctx ends. The frame
// in hand when ctx ends is committed (or rolled back) before it returns.
func RunLogger(ctx context.Context, cfg LoggerConfig, log *slog.Logger) error {
	if cfg.DB == "" {
		cfg.DB = "imaging.db"
	}
	if cfg.HWM <= 0 {
		cfg.HWM = 8
	}
	d, err := db.Open(ctx, cfg.DB)
	if err != nil {
		return fmt.Errorf("logger: %w", err)
	}
	defer d.Close()
	rt, err := startRuntime(stage.Logger, &cfg.Common, log)
	if err != nil {
		return err
	}
	defer rt.close()
	cfg.Sub, cfg.Ack = rt.endpoint(cfg.Sub, "sub"), rt.endpoint(cfg.Ack, "ack")
	l := newLogger(cfg, d, rt.c, log)
	if err := l.loadStreams(ctx); err != nil {
		return fmt.Errorf("logger: %w", err)
	}
	l.ready = time.Now()
	sub, err := rt.sub(cfg.Sub, bus.Options{HWM: cfg.HWM})
	if err != nil {
		return fmt.Errorf("logger: subscribe socket: %w", err)
	}
	if l.ack, err = rt.pub(cfg.Ack, bus.Options{HWM: 1000}); err != nil {
		return fmt.Errorf("logger: ack socket: %w", err)
	}
	log.Info("logger starting", "db", cfg.DB, "sub", cfg.Sub, "ack", cfg.Ack, "delivery", cfg.Delivery,
		"retain_frames", cfg.RetainFrames, "retain_bytes", cfg.RetainBytes)
	rt.report(ctx, func(st *wire.Status) {
		l.mu.Lock()
		st.DB = &wire.DBCounts{Images: l.counts.Images, Keypoints: l.counts.Keypoints,
			Descriptors: l.counts.Descriptors, FileBytes: l.counts.FileBytes, FreeBytes: l.counts.DiskFree}
		l.mu.Unlock()
		st.Disconnects = sub.Dropped()
		st.SeedFrames = l.seed.Load()
	}, signalToggle{stage.SignalDBFull, stage.FaultDBFull, &l.full})
	l.run(ctx, sub)
	log.Info("logger stopped", "frames_in", l.c.framesIn.Load(), "frames_stored", l.c.framesOut.Load())
	return nil
}

func newLogger(cfg LoggerConfig, d *db.DB, c *counters, log *slog.Logger) *logger {
	return &logger{cfg: cfg, log: log, c: c, db: d, streams: map[uint64]*streamSpan{}, incarn: randomID(),
		mem: frameMemory{frames: 2}} // the receive buffer, and a larger one replacing it
}

// run stores the frames src delivers until ctx ends, saying hello on the
// ack sink, keeping the counts fresh and applying retention as it goes.
// It owns src.
func (l *logger) run(ctx context.Context, src FrameSource) {
	l.keepRoom(ctx) // a log left large by the last run
	l.refreshCounts(ctx)
	lastCount := time.Now()
	var lastHello time.Time
	stored := 0
	var buf []byte // each message is received into the last one's memory: handle keeps nothing of it
	for ctx.Err() == nil {
		l.applyFullFault(ctx)
		msg, err := src.RecvInto(buf, StatusInterval)
		if err == nil {
			buf = msg[:0]
			l.mem.saw(len(msg))
			if l.handle(ctx, msg) {
				stored++
				if stored%retainEvery == 0 {
					l.retain(ctx)
				}
			}
		} else if !errors.Is(err, bus.ErrTimeout) {
			skip(l.c, &l.bad, l.log, "message skipped", err)
		}
		if time.Since(lastHello) >= helloInterval {
			l.hello()
			lastHello = time.Now()
		}
		if time.Since(lastCount) > time.Second {
			l.refreshCounts(ctx)
			l.countDropped(time.Now())
			lastCount = time.Now()
		}
	}
	l.c.setState(wire.StateStopping)
}

// handle decodes, validates, stores and acknowledges one message. It
// reports whether a new frame was stored.
func (l *logger) handle(ctx context.Context, msg []byte) bool {
	// In place: the descriptors go to SQLite as they sit in msg, rewritten
	// little-endian, instead of through a new slice of megabytes.
	f, err := wire.DecodeProcessedInPlace(msg)
	if err == nil {
		err = validate(f)
	}
	if err != nil {
		skip(l.c, &l.bad, l.log, "frame rejected", fmt.Errorf("frame rejected: %w", err), "bytes", len(msg))
		return false
	}
	l.c.framesIn.Add(1)
	l.c.bytesIn.Add(uint64(len(msg)))
	if f.Trailer == nil {
		l.seed.Add(1)
	}
	l.c.queue.Store(1)
	defer l.c.queue.Store(0)
	rec := toRecord(f)
	var inserted bool
	for {
		// Store in a context of its own: a stop request lets the frame in
		// hand commit or roll back, never half-write it.
		_, inserted, err = l.db.Store(context.WithoutCancel(ctx), rec)
		if err == nil {
			break
		}
		if !errors.Is(err, db.ErrFull) {
			l.c.fail(fmt.Errorf("store %s: %w", f.Filename, err))
			l.log.Error("frame not stored", "file", f.Filename, "frame_seq", seqOf(f), "err", err)
			return false // not acknowledged: reliable delivery sends it again
		}
		// Full disk: stop consuming, say so, retry until space returns.
		if !l.waitForRoom(ctx, err) {
			return false
		}
	}
	l.unblock()
	l.keepRoom(ctx)
	now := time.Now()
	if f.Trailer != nil {
		l.acknowledge(f.Trailer)
		l.c.latency(f.Trailer.PublishedNS, now)
	} else {
		l.acknowledgeSeed(f.SeedKey())
	}
	if inserted {
		l.c.frameDone(now, len(msg))
		l.stored(f)
	}
	return inserted
}

// stored accounts for a frame newly stored: its stream's gaps, the log and
// the counts.
func (l *logger) stored(f *wire.Frame) {
	l.track(f)
	if f.Trailer == nil {
		l.log.Info("frame stored", "file", f.Filename, "timestamp", f.Timestamp, "trailer", false, "keypoints", len(f.Keypoints))
	} else {
		l.log.Info("frame stored", "file", f.Filename, "frame_seq", seqOf(f), "keypoints", len(f.Keypoints))
	}
	l.mu.Lock()
	l.counts.Images++
	l.counts.Keypoints += int64(len(f.Keypoints))
	l.counts.Descriptors++
	l.mu.Unlock()
}

// validate checks what the database cannot: that the features agree.
func validate(f *wire.Frame) error {
	switch {
	case len(f.Data) == 0:
		return errors.New("no image data")
	case len(f.DescriptorsLE) != 4*len(f.Keypoints)*wire.DescriptorSize:
		return fmt.Errorf("%d keypoints but %d descriptor values (want %d)",
			len(f.Keypoints), len(f.DescriptorsLE)/4, len(f.Keypoints)*wire.DescriptorSize)
	case f.Width == 0 || f.Height == 0:
		return fmt.Errorf("image size %dx%d", f.Width, f.Height)
	}
	return checkProcessed(f)
}

func toRecord(f *wire.Frame) *db.Frame {
	rec := &db.Frame{
		Timestamp:      int64(f.Timestamp),
		Filename:       f.Filename,
		Width:          int(f.Width),
		Height:         int(f.Height),
		Channels:       int(f.Channels),
		Image:          f.Data,
		Keypoints:      make([]db.Keypoint, len(f.Keypoints)),
		DescriptorBlob: f.DescriptorsLE,
		ReceivedAt:     time.Now(),
	}
	for i, k := range f.Keypoints {
		rec.Keypoints[i] = db.Keypoint(k)
	}
	if t := f.Trailer; t != nil {
		rec.StreamID, rec.Seq = t.StreamID, t.Seq
		rec.PublishedAt = nsTime(t.PublishedNS)
		rec.ExtractedAt = nsTime(t.ExtractedNS)
	} else {
		// Through a seed stage, which dropped our trailer: the frame is
		// known by its seed fields, and a resent copy is not stored again.
		rec.KeyBySeed = true
	}
	return rec
}

func nsTime(ns uint64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns))
}

// hello announces this logger incarnation to the generators, with the time
// it began to listen: a generator sends again every frame it sent before
// then (and for helloGrace after, while the extractors connect), which the
// extractors could only drop. Not the process's start: opening a large
// database and loading its streams come in between, and a frame sent then
// would wait for the resend timeout.
func (l *logger) hello() {
	ready := l.ready
	if ready.IsZero() { // a logger driven without RunLogger (tests)
		ready = l.cfg.started
	}
	b, _ := wire.Hello(l.incarn, uint64(ready.UnixNano())).MarshalBinary()
	if err := l.ack.Send(b); err != nil {
		l.c.fail(fmt.Errorf("send hello: %w", err))
	}
}

func (l *logger) acknowledge(t *wire.Trailer) {
	a := wire.Ack{StreamID: t.StreamID, Seqs: []uint64{t.Seq}}
	b, _ := a.MarshalBinary()
	if err := l.ack.Send(b); err != nil {
		l.c.fail(fmt.Errorf("send ack: %w", err))
	}
}

// acknowledgeSeed acknowledges a frame that came without our trailer by its
// seed key: our generator, if it sent the frame, knows it by that key.
func (l *logger) acknowledgeSeed(k wire.SeedKey) {
	a := wire.Ack{Seeds: []wire.SeedKey{k}}
	b, _ := a.MarshalBinary()
	if err := l.ack.Send(b); err != nil {
		l.c.fail(fmt.Errorf("send ack: %w", err))
	}
}

// loadStreams seeds the gap count from what the database already holds, so
// dropped stays equal to the gaps in the database across restarts.
func (l *logger) loadStreams(ctx context.Context) error {
	streams, err := l.db.Streams(ctx)
	if err != nil {
		return err
	}
	for _, s := range streams {
		l.streams[s.StreamID] = &streamSpan{first: s.FirstSeq, last: s.LastSeq, frames: uint64(s.Frames - s.Duplicates)}
	}
	l.countDropped(time.Now())
	return nil
}

// countDropped ages the streams' young gaps and sets dropped to the gaps
// that have stayed open for reorderGrace.
func (l *logger) countDropped(now time.Time) {
	var n uint64
	for _, s := range l.streams {
		s.age(now.Add(-reorderGrace))
		n += s.dropped()
	}
	l.c.dropped.Store(n)
}

// track adds a newly stored frame to its stream's span and recounts dropped.
func (l *logger) track(f *wire.Frame) {
	if f.Trailer == nil {
		return
	}
	s, ok := l.streams[f.Trailer.StreamID]
	if !ok {
		s = &streamSpan{}
		l.streams[f.Trailer.StreamID] = s
	}
	now := time.Now()
	s.add(f.Trailer.Seq, now)
	l.countDropped(now)
}

func (l *logger) refreshCounts(ctx context.Context) {
	n, err := l.db.Counts(ctx)
	if err != nil {
		if ctx.Err() == nil { // not a stop
			l.c.fail(err)
		}
		return
	}
	l.mu.Lock()
	l.counts = n
	l.mu.Unlock()
}

func (l *logger) retain(ctx context.Context) {
	if l.cfg.RetainFrames <= 0 && l.cfg.RetainBytes <= 0 {
		return
	}
	n, err := l.db.Retain(ctx, l.cfg.RetainFrames, l.cfg.RetainBytes)
	if err != nil && ctx.Err() == nil { // a stop ends a pass between batches: no error
		l.c.fail(fmt.Errorf("retention: %w", err))
		return
	}
	if n > 0 {
		l.refreshCounts(ctx)
	}
}

// applyFullFault brings the database in line with the dbfull fault.
func (l *logger) applyFullFault(ctx context.Context) {
	want := l.full.Load()
	if want == l.isFull {
		return
	}
	if err := l.db.SetFull(ctx, want); err != nil {
		l.c.fail(fmt.Errorf("dbfull fault: %w", err))
		return
	}
	l.isFull = want
}

// blockedRetry is how long a logger blocked by a full database waits
// between two tries of the frame in hand.
const blockedRetry = time.Second

// minRoom is the least free space under which the logger checkpoints after
// every frame (see keepRoom); a few of the largest frames seen raise it.
const minRoom = 8 << 20

// keepRoom checkpoints and truncates the write-ahead log when the disk runs
// short: when free space is below a few frames' worth, or when the log is
// over half of what is free. SQLite's own checkpoints come at 64 MiB of log
// and leave the file at its size; on a small disk the log would fill it,
// and a checkpoint — which copies the log into the database file — would
// no longer fit. On a large disk neither condition holds and this costs a
// statfs and a stat.
func (l *logger) keepRoom(ctx context.Context) {
	free, wal := l.db.Space()
	room := max(minRoom, 4*int64(l.mem.largest))
	if free < 0 || wal == 0 || (free >= room && wal <= free/2) {
		return
	}
	if err := l.db.Checkpoint(ctx); err != nil && !errors.Is(err, db.ErrFull) && ctx.Err() == nil {
		l.c.fail(fmt.Errorf("checkpoint: %w", err))
		l.log.Warn("checkpoint failed", "err", err, "free_bytes", free, "wal_bytes", wal)
	}
}

// waitForRoom handles a store that failed with db.ErrFull: it truncates the
// log (a failed transaction leaves its pages there, and committed frames
// move into the database file), reports the logger blocked with the
// reason, and waits blockedRetry. It returns false if ctx ended.
func (l *logger) waitForRoom(ctx context.Context, err error) bool {
	cerr := l.db.Checkpoint(ctx)
	reason := l.fullReason()
	if l.blocked.IsZero() {
		l.blocked = time.Now()
		l.log.Warn("database full; paused until space returns", "reason", reason, "err", err, "checkpoint", cerr)
	}
	l.c.setStateReason(wire.StateBlocked, reason)
	l.c.fail(fmt.Errorf("database full, retrying: %w", err))
	l.refreshCounts(ctx)
	// Still here: a generator that hears a logger which stores nothing
	// knows it is blocked, not gone, and stops without waiting for it.
	l.hello()
	if !sleepUntil(ctx, time.Now().Add(blockedRetry)) {
		return false
	}
	l.applyFullFault(ctx)
	return true
}

// fullReason says why the database is full, for Status.StateReason.
func (l *logger) fullReason() string {
	if l.isFull {
		return "database full (dbfull fault); waiting"
	}
	free, _ := l.db.Space()
	if free < 0 {
		return "disk full on " + l.db.Dir() + "; waiting"
	}
	return fmt.Sprintf("disk full: %.1f MB free on %s; waiting", float64(free)/1e6, l.db.Dir())
}

// unblock reports the logger running again after a full database.
func (l *logger) unblock() {
	if !l.blocked.IsZero() {
		l.log.Info("space returned; storing again", "blocked_for", time.Since(l.blocked).Round(time.Millisecond))
		l.blocked = time.Time{}
	}
	l.c.setState(wire.StateRunning)
}
