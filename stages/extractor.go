package stages

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/sift"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// ExtractorConfig configures the extractor stage.
type ExtractorConfig struct {
	Common
	Sub string // IMAGE_DATA in. Defaults to the table's (stage.Table)
	Pub string // PROCESSED_DATA out. Defaults to the table's
	// Work is the generators' work pools to take frames from (reliable
	// delivery); "" subscribes on Sub only. With Work, Sub still receives
	// what a generator publishes (a seed generator's frames, injected
	// faults).
	Work string
	// Prefetch is how many frames beyond one per worker it asks the pool
	// for. None (the default) keeps latency at one SIFT run: a frame waits
	// at the source, not in front of a busy worker, and a worker waits
	// only for the round trip to the generator, a millisecond or two on
	// one machine. Across a network that round trip is worth hiding with
	// one (join asks for it); more only queue.
	Prefetch int
	Workers  int   // SIFT workers. Defaults to the number of CPUs
	Threads  int   // OpenCV threads (process-wide). Defaults to 1
	Shard    Shard // which frames this replica takes from Sub (best-effort replicas). Defaults to all
	SIFT     sift.Options
	HWM      int // high-water mark in messages. Defaults to 8
	// SIFTMemory bounds the estimated working set of the SIFT runs in
	// progress together (see memBudget). Defaults to 80 % of the memory
	// available at start.
	SIFTMemory int64
	// ReturnMemory gives the memory each SIFT run frees back to the kernel
	// (glibc's default) instead of keeping it for the next frame (see
	// sift.KeepMemory): leaner between frames, and much slower.
	ReturnMemory bool
}

// Shard selects the frames of one replica among N: seq % N == Index.
// Frames without a sequence number (a seed peer's) go to replica 0. Only
// subscribing replicas need it, under best-effort delivery, where every
// replica receives every frame; replicas that share a work pool are each
// given different frames.
type Shard struct{ Index, Count uint64 }

func (s Shard) takes(f *wire.Frame) bool {
	if s.Count <= 1 {
		return true
	}
	if f.Trailer == nil {
		return s.Index == 0
	}
	return f.Trailer.Seq%s.Count == s.Index
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, max(s.Count, 1)) }

// job is one received image on its way through a worker.
type job struct {
	frame  *wire.Frame
	msg    []byte // the received message; frame.Data slices into it
	memory int64  // SIFT's working set on the image, from its real size
}

// extractorFlags is the extractor's command (see command).
func extractorFlags(f *flag.FlagSet, _ fs.FS) runFunc {
	var cfg ExtractorConfig
	var shard, siftMemory string
	f.IntVar(&cfg.Workers, "workers", 0, "SIFT workers (default: one per CPU)")
	f.IntVar(&cfg.Threads, "threads", 1, "OpenCV threads for the process")
	f.StringVar(&shard, "shard", "0/1", "of the frames subscribed to, take those whose seq % N == I, as `I/N` (best-effort replicas; a work pool needs none)")
	f.IntVar(&cfg.Prefetch, "prefetch", 0, "work pool: frames to ask for beyond one per worker (`N`; 1 hides a network's round trip)")
	f.BoolVar(&cfg.ReturnMemory, returnMemoryFlag, false, "give the memory each SIFT run frees back to the kernel instead of keeping it for the next frame (leaner between frames; about 2.5× slower on 2000×1500)")
	f.StringVar(&siftMemory, "sift-memory", "", "most memory the SIFT runs in progress may take together, e.g. 8GiB; workers wait for room (`SIZE`, default 80% of the memory available at start)")
	f.IntVar(&cfg.SIFT.MaxFeatures, "max-features", 0, "keep the best `N` keypoints (0 = all, OpenCV's default)")
	f.Float64Var(&cfg.SIFT.ContrastThreshold, "contrast-threshold", 0, "SIFT contrast threshold (0 = OpenCV's default 0.04)")
	f.Int64Var(&cfg.SIFT.MaxPixels, "max-pixels", 0, "reject images over `N` pixels (default 100 megapixels, or fewer if one SIFT run on them would not fit in --sift-memory)")
	return func(ctx context.Context, inv invocation) error {
		var err error
		if cfg.Shard, err = parseShard(shard); err != nil {
			return usage(f, "--shard: %v", err)
		}
		if cfg.Prefetch < 0 {
			return usage(f, "--prefetch %d: want 0 or more", cfg.Prefetch)
		}
		if siftMemory != "" {
			if cfg.SIFTMemory, err = stage.ParseSize(siftMemory); err != nil || cfg.SIFTMemory <= 0 {
				return usage(f, "--sift-memory %q: want a positive size such as 8GiB", siftMemory)
			}
		}
		cfg.Common, cfg.Sub, cfg.Pub, cfg.Work = inv.Common, inv.ports["sub"], inv.ports["pub"], inv.ports["work"]
		return RunExtractor(ctx, cfg, inv.log)
	}
}

// setDefaults fills in the zero fields but the endpoints, which come from
// the stage table (stageRuntime.endpoint).
func (cfg *ExtractorConfig) setDefaults() error {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 1
	}
	if cfg.HWM <= 0 {
		cfg.HWM = 8
	}
	if cfg.SIFTMemory <= 0 {
		var err error
		if cfg.SIFTMemory, err = defaultSIFTMemory(); err != nil {
			return fmt.Errorf("memory available for SIFT: %w (give --sift-memory)", err)
		}
	}
	if cfg.SIFT.MaxPixels <= 0 {
		cfg.SIFT.MaxPixels = defaultMaxPixels(cfg.SIFTMemory)
	}
	return nil
}

// RunExtractor runs SIFT on every image received until ctx ends, then
// finishes the frames in hand and publishes them.
func RunExtractor(ctx context.Context, cfg ExtractorConfig, log *slog.Logger) error {
	if err := cfg.setDefaults(); err != nil {
		return fmt.Errorf("extractor: %w", err)
	}
	if !cfg.ReturnMemory {
		if err := sift.KeepMemory(); err != nil {
			return fmt.Errorf("extractor: %w", err)
		}
	}
	sift.SetNumThreads(cfg.Threads)
	transforms := make([]Transform, cfg.Workers)
	for i := range transforms {
		d, err := sift.New(cfg.SIFT)
		if err != nil {
			return fmt.Errorf("extractor: %w", err)
		}
		defer d.Close()
		transforms[i] = siftTransform{d}
	}
	rt, err := startRuntime(stage.Extractor, &cfg.Common, log)
	if err != nil {
		return err
	}
	defer rt.close()
	cfg.Sub, cfg.Pub = rt.endpoint(cfg.Sub, "sub"), rt.endpoint(cfg.Pub, "pub")
	sub, err := rt.sub(cfg.Sub, bus.Options{HWM: cfg.HWM})
	if err != nil {
		return fmt.Errorf("extractor: subscribe socket: %w", err)
	}
	reliable := cfg.Delivery == stage.Reliable
	pub, err := rt.pub(cfg.Pub, bus.Options{HWM: cfg.HWM, Joins: reliable})
	if err != nil {
		return fmt.Errorf("extractor: publish socket: %w", err)
	}
	e := newExtractor(cfg, rt.c, log)
	switch {
	case cfg.Work != "" && reliable:
		if e.pool, err = openPool(rt, cfg); err != nil {
			return fmt.Errorf("extractor: work pool socket: %w", err)
		}
		e.pool.held = &e.held
	case cfg.Work != "":
		log.Warn("--work ignored: a best-effort generator has no work pool; subscribing with --sub", "work", cfg.Work)
	}
	log.Info("extractor starting", "workers", cfg.Workers, "threads", cfg.Threads, "sift_memory_mb", cfg.SIFTMemory>>20,
		"max_pixels", cfg.SIFT.MaxPixels,
		"shard", cfg.Shard.String(), "work", cfg.Work, "prefetch", max(cfg.Prefetch, 0),
		"sub", cfg.Sub, "pub", cfg.Pub, "delivery", cfg.Delivery)

	if reliable {
		// Once: a later logger restart is the generator's to notice.
		e.ready = func(ctx context.Context) { awaitSubscriber(ctx, pub) }
	}
	rt.report(ctx, func(st *wire.Status) { st.Disconnects, st.SeedFrames = sub.Dropped(), e.seed.Load() })
	e.run(ctx, sub, transforms, pub)
	log.Info("extractor stopped", "frames_in", rt.c.framesIn.Load(), "frames_out", rt.c.framesOut.Load())
	return nil
}

// extractor is the extractor's loop: receive takes images from the source,
// a worker per Transform processes them, and send publishes the results.
// Frames travel between them on jobs and out; the message buffers go round
// in inBufs and outBufs.
type extractor struct {
	cfg     ExtractorConfig
	log     *slog.Logger
	c       *counters
	budget  *memBudget
	ready   func(context.Context) // waited for before the first send; nil for none
	pool    *poolClient           // the work pool; nil when it subscribes only
	held    atomic.Int64          // frames accepted and not yet through SIFT
	jobs    chan job
	out     chan result
	busy    atomic.Int64 // workers in a Transform
	inHand  inHandSet
	seed    atomic.Uint64 // frames received without our trailer: from a seed stage
	outBufs bufferPool    // encoding, queued in out, sending
	inBufs  bufferPool    // receiving, queued in jobs, in SIFT
	bad     limiter
}

func newExtractor(cfg ExtractorConfig, c *counters, log *slog.Logger) *extractor {
	if cfg.SIFT.MaxPixels <= 0 {
		cfg.SIFT.MaxPixels = defaultMaxPixels(cfg.SIFTMemory)
	}
	return &extractor{cfg: cfg, log: log, c: c, budget: newMemBudget(cfg.SIFTMemory),
		// Room for what the pool may send on top of a full subscription
		// queue: the pool's receiver must not block, it says Ready.
		jobs: make(chan job, 2*cfg.Workers+max(cfg.Prefetch, 0)), out: make(chan result, cfg.Workers),
		outBufs: make(bufferPool, 2*cfg.Workers+1), inBufs: make(bufferPool, 2*cfg.Workers+1)}
}

// run receives from src until ctx ends, with a worker per transform and a
// sender to sink, then lets the frames in hand through and returns once
// the last is sent. It runs once.
func (e *extractor) run(ctx context.Context, src FrameSource, transforms []Transform, sink FrameSink) {
	var wg sync.WaitGroup
	for _, t := range transforms {
		wg.Go(func() { e.work(t) }) // until jobs is closed
	}
	go func() { wg.Wait(); close(e.out) }()
	sent := make(chan struct{})
	go func() { defer close(sent); e.send(ctx, sink) }() // until out is closed
	var pulled sync.WaitGroup
	if e.pool != nil {
		pulled.Go(func() { e.receivePool(ctx, e.pool) })
	}
	e.receive(ctx, src)
	pulled.Wait()
	e.c.setState(wire.StateStopping)
	close(e.jobs)
	<-sent
}

// receive queues the images src delivers for the workers until ctx ends.
// It owns src.
func (e *extractor) receive(ctx context.Context, src FrameSource) {
	for ctx.Err() == nil {
		buf := e.inBufs.get()
		msg, err := src.RecvInto(buf, StatusInterval)
		if err != nil {
			e.inBufs.put(buf)
			if !errors.Is(err, bus.ErrTimeout) {
				skip(e.c, &e.bad, e.log, "message skipped", err)
			}
			continue
		}
		e.take(ctx, msg)
	}
}

// take queues the image in msg for the workers, if it is one to process.
func (e *extractor) take(ctx context.Context, msg []byte) {
	j, ok := e.accept(msg)
	if !ok {
		e.inBufs.put(msg)
		return
	}
	e.c.framesIn.Add(1)
	e.c.bytesIn.Add(uint64(len(msg)))
	e.held.Add(1)
	if e.cfg.Delivery == stage.BestEffort {
		enqueueNewest(e.jobs, j, e.c, func(old job) { e.inHand.done(old.frame); e.inBufs.put(old.msg); e.freed() })
	} else {
		select {
		case e.jobs <- j:
		case <-ctx.Done():
			e.inHand.done(j.frame)
			e.freed()
		}
	}
	e.depth()
}

// freed counts a frame out of the extractor's hands (through SIFT, or given
// up), and tells the pool's receiver, which asks for another.
func (e *extractor) freed() {
	e.held.Add(-1)
	if e.pool != nil {
		e.pool.sock.Wake()
	}
}

// accept decodes msg and reports whether this extractor is to process it:
// a valid image, in its shard, not already in hand.
func (e *extractor) accept(msg []byte) (job, bool) {
	f, err := wire.DecodeImage(msg)
	if err != nil {
		skip(e.c, &e.bad, e.log, "bad message skipped", fmt.Errorf("bad input message: %w", err), "bytes", len(msg))
		return job{}, false
	}
	if !e.cfg.Shard.takes(f) {
		return job{}, false
	}
	info, err := checkImage(f)
	if err == nil && info.Pixels() > e.cfg.SIFT.MaxPixels {
		err = fmt.Errorf("%d×%d image: %d pixels, more than --max-pixels %d", info.Width, info.Height, info.Pixels(), e.cfg.SIFT.MaxPixels)
	}
	if err != nil {
		skip(e.c, &e.bad, e.log, "frame rejected", fmt.Errorf("frame rejected: %w", err), "file", f.Filename, "frame_seq", seqOf(f))
		return job{}, false
	}
	if !e.inHand.add(f) {
		// The generator sent it again (a resend timeout, or a new
		// subscriber) while the first copy is still here: its result
		// is on its way, and a second SIFT run would only cost time.
		e.log.Debug("copy of a frame in hand skipped", "frame_seq", seqOf(f))
		return job{}, false
	}
	if f.Trailer == nil {
		e.seed.Add(1)
	}
	return job{frame: f, msg: msg, memory: siftWorkingSet(uint32(info.Width), uint32(info.Height))}, true
}

// work is one worker: it runs t on each job, within the memory budget,
// until jobs is closed.
func (e *extractor) work(t Transform) {
	for j := range e.jobs {
		e.busy.Add(1)
		held := e.budget.acquire(j.memory)
		t0 := time.Now()
		msg, kps, err := t.Transform(j.frame, e.outBufs.get())
		e.inBufs.put(j.msg) // the result holds nothing of it
		e.budget.release(held)
		e.busy.Add(-1)
		e.freed()
		if err != nil {
			e.inHand.done(j.frame)
			e.c.fail(err)
			e.log.Warn("frame skipped", "file", j.frame.Filename, "frame_seq", seqOf(j.frame), "err", err)
			continue
		}
		e.log.Info("frame extracted", "file", j.frame.Filename, "frame_seq", seqOf(j.frame), "keypoints", kps,
			"ms", time.Since(t0).Milliseconds())
		e.out <- result{msg: msg, frame: j.frame}
		e.depth()
	}
}

// send publishes the results on sink until out is closed. It owns sink.
func (e *extractor) send(ctx context.Context, sink FrameSink) {
	ready := e.ready
	for r := range e.out {
		if ready != nil {
			ready(ctx)
			ready = nil
		}
		if err := sink.Send(r.msg); err != nil {
			e.c.fail(err)
		}
		e.outBufs.put(r.msg) // the sink has its own copy
		e.inHand.done(r.frame)
		e.c.frameDone(time.Now(), len(r.msg))
		e.depth()
	}
}

// depth publishes the frames between receive and send as the queue depth.
func (e *extractor) depth() {
	e.c.queue.Store(int64(len(e.jobs)) + e.busy.Load() + int64(len(e.out)))
}

// result is one extracted frame on its way to the sender.
type result struct {
	msg   []byte
	frame *wire.Frame
}

// inHandSet holds the frames an extractor has received and not yet
// published (or given up on), by stream and sequence number.
type inHandSet struct {
	mu sync.Mutex
	m  map[[2]uint64]struct{}
}

// add records f and reports whether it was new. Frames without a trailer
// cannot be told apart and are always new.
func (s *inHandSet) add(f *wire.Frame) bool {
	if f.Trailer == nil {
		return true
	}
	k := [2]uint64{f.Trailer.StreamID, f.Trailer.Seq}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; ok {
		return false
	}
	if s.m == nil {
		s.m = map[[2]uint64]struct{}{}
	}
	s.m[k] = struct{}{}
	return true
}

func (s *inHandSet) done(f *wire.Frame) {
	if f.Trailer == nil {
		return
	}
	s.mu.Lock()
	delete(s.m, [2]uint64{f.Trailer.StreamID, f.Trailer.Seq})
	s.mu.Unlock()
}

// awaitSubscriber waits until pub has a subscriber, for up to
// subscriberWait or until ctx ends. A PUB
// socket sends into the void until the logger's subscription has arrived; a
// frame lost that way would wait for the generator's resend timeout, so
// under reliable delivery the first result waits for the logger instead.
func awaitSubscriber(ctx context.Context, pub interface{ Joins() int }) {
	deadline := time.Now().Add(subscriberWait)
	for pub.Joins() == 0 {
		if time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// subscriberWait bounds awaitSubscriber: an extractor run with nothing
// downstream still works through its input.
const subscriberWait = 3 * time.Second

// enqueueNewest queues j, dropping the oldest queued frame when full: under
// best-effort delivery the newest frames win.
func enqueueNewest(jobs chan job, j job, c *counters, dropped func(job)) {
	for {
		select {
		case jobs <- j:
			return
		default:
		}
		select {
		case old := <-jobs:
			c.dropped.Add(1)
			dropped(old)
		default:
		}
	}
}

// bufferPool recycles message buffers, megabytes each, instead of
// allocating and zeroing new ones: an input's once its frame is extracted,
// an output's once sent (ZeroMQ copies a message when it is sent).
type bufferPool chan []byte

// get returns an empty buffer, recycled if one is free.
func (p bufferPool) get() []byte {
	select {
	case b := <-p:
		return b[:0]
	default:
		return nil
	}
}

// put offers b for reuse; it is dropped when the pool is full.
func (p bufferPool) put(b []byte) {
	if cap(b) == 0 {
		return
	}
	select {
	case p <- b:
	default:
	}
}

// siftTransform is the extractor's Transform: OpenCV SIFT on the image,
// its keypoints and descriptors added to the frame.
type siftTransform struct{ d *sift.Detector }

// Transform runs SIFT on img and encodes the PROCESSED_DATA message, into
// buf when it is large enough.
func (t siftTransform) Transform(img *wire.Frame, buf []byte) (msg []byte, keypoints int, err error) {
	res, err := t.d.Detect(img.Data)
	if err != nil {
		return nil, 0, err
	}
	f := *img
	f.Type = wire.TypeProcessed
	f.Keypoints = res.Keypoints
	f.Descriptors = res.Descriptors
	if f.Trailer != nil {
		tr := *f.Trailer
		tr.ExtractedNS = uint64(time.Now().UnixNano())
		f.Trailer = &tr
	}
	if cap(buf) < f.Size() {
		buf = make([]byte, 0, f.Size())
	}
	msg, err = f.AppendBinary(buf)
	return msg, len(res.Keypoints), err
}

func seqOf(f *wire.Frame) uint64 {
	if f.Trailer == nil {
		return 0
	}
	return f.Trailer.Seq
}
