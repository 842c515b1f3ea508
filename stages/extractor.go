package stages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/sift"
	"github.com/imaging-tui/imaging-tui/wire"
)

// ExtractorConfig configures the extractor stage.
type ExtractorConfig struct {
	Common
	Sub     string // IMAGE_DATA in. Defaults to >tcp://127.0.0.1:5555
	Pub     string // PROCESSED_DATA out. Defaults to @tcp://127.0.0.1:5556
	Workers int    // SIFT workers. Defaults to the number of CPUs
	Threads int    // OpenCV threads (process-wide). Defaults to 1
	Shard   Shard  // which frames this replica takes. Defaults to all
	SIFT    sift.Options
	HWM     int // high-water mark in messages. Defaults to 8
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
// Frames without a sequence number (a seed peer's) go to replica 0.
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
	frame *wire.Frame
	msg   []byte // the received message; frame.Data slices into it
}

// RunExtractor runs SIFT on every image received until ctx ends, then
// finishes the frames in hand and publishes them.
func RunExtractor(ctx context.Context, cfg ExtractorConfig, log *slog.Logger) error {
	cfg.setDefaults("extractor")
	if cfg.Sub == "" {
		cfg.Sub = ">tcp://127.0.0.1:5555"
	}
	if cfg.Pub == "" {
		cfg.Pub = "@tcp://127.0.0.1:5556"
	}
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
			return fmt.Errorf("extractor: memory available for SIFT: %w (give --sift-memory)", err)
		}
	}
	budget := newMemBudget(cfg.SIFTMemory)
	if !cfg.ReturnMemory {
		if err := sift.KeepMemory(); err != nil {
			return fmt.Errorf("extractor: %w", err)
		}
	}
	sift.SetNumThreads(cfg.Threads)
	detectors := make([]*sift.Detector, cfg.Workers)
	for i := range detectors {
		d, err := sift.New(cfg.SIFT)
		if err != nil {
			return fmt.Errorf("extractor: %w", err)
		}
		defer d.Close()
		detectors[i] = d
	}
	zctx, err := bus.NewContext()
	if err != nil {
		return err
	}
	defer zctx.Close()
	sub, err := zctx.Sub(cfg.Sub, bus.Options{HWM: cfg.HWM})
	if err != nil {
		return fmt.Errorf("extractor: subscribe socket: %w", err)
	}
	defer sub.Close()
	reliable := cfg.Delivery == DeliveryReliable
	pub, err := zctx.Pub(cfg.Pub, bus.Options{HWM: cfg.HWM, Joins: reliable})
	if err != nil {
		return fmt.Errorf("extractor: publish socket: %w", err)
	}
	defer pub.Close()
	log.Info("extractor starting", "workers", cfg.Workers, "threads", cfg.Threads, "sift_memory_mb", cfg.SIFTMemory>>20,
		"shard", cfg.Shard.String(),
		"sub", cfg.Sub, "pub", cfg.Pub, "delivery", cfg.Delivery)

	c := &counters{state: wire.StateRunning}
	var busy atomic.Int64
	jobs := make(chan job, cfg.Workers)
	out := make(chan result, cfg.Workers)
	var inHand inHandSet
	outBufs := make(bufferPool, 2*cfg.Workers+1) // encoding, queued in out, sending
	inBufs := make(bufferPool, 2*cfg.Workers+1)  // receiving, queued in jobs, in SIFT
	depth := func() { c.queue.Store(int64(len(jobs)) + busy.Load() + int64(len(out))) }

	r := &reporter{endpoint: cfg.Status, base: cfg.baseStatus("extractor"), c: c, log: log,
		extra: func(st *wire.Status) { st.Disconnects = sub.Dropped() }}
	rctx, stopReport := context.WithCancel(context.WithoutCancel(ctx))
	defer stopReport()
	toggleOnSignal(rctx, sigSilent, log, "silent", func() bool { return !r.silent.Swap(!r.silent.Load()) })
	go r.run(rctx, zctx)

	// Workers: each owns one detector; they end when jobs is closed.
	var wg sync.WaitGroup
	for _, d := range detectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				busy.Add(1)
				held := budget.acquire(siftWorkingSet(j.frame.Width, j.frame.Height))
				t0 := time.Now()
				msg, kps, err := extract(d, j, outBufs.get())
				inBufs.put(j.msg) // the result holds nothing of it
				budget.release(held)
				busy.Add(-1)
				if err != nil {
					inHand.done(j.frame)
					c.fail(err)
					log.Warn("frame skipped", "file", j.frame.Filename, "frame_seq", seqOf(j.frame), "err", err)
					continue
				}
				log.Info("frame extracted", "file", j.frame.Filename, "frame_seq", seqOf(j.frame), "keypoints", kps,
					"ms", time.Since(t0).Milliseconds())
				out <- result{msg: msg, frame: j.frame}
				depth()
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()

	// Sender: owns pub; ends when every worker has finished.
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		waitJoin := reliable // once: a later logger restart is the generator's to notice
		for r := range out {
			if waitJoin {
				awaitSubscriber(ctx, pub)
				waitJoin = false
			}
			if err := pub.Send(r.msg); err != nil {
				c.fail(err)
			}
			outBufs.put(r.msg) // ZeroMQ has its own copy
			inHand.done(r.frame)
			c.frameDone(time.Now(), len(r.msg))
			depth()
		}
	}()

	// Receiver: this goroutine owns sub.
	var bad limiter
	for ctx.Err() == nil {
		buf := inBufs.get()
		msg, err := sub.RecvInto(buf, StatusInterval)
		if errors.Is(err, bus.ErrTimeout) {
			inBufs.put(buf)
			continue
		}
		if err != nil {
			inBufs.put(buf)
			c.fail(err)
			continue
		}
		f, err := wire.DecodeImage(msg)
		if err != nil {
			inBufs.put(msg)
			c.fail(fmt.Errorf("bad input message: %w", err))
			if ok, n := bad.allow(time.Now()); ok {
				log.Warn("bad message skipped", "err", err, "bytes", len(msg), "suppressed", n)
			}
			continue
		}
		if !cfg.Shard.takes(f) {
			inBufs.put(msg)
			continue
		}
		if !inHand.add(f) {
			// The generator sent it again (a resend timeout, or a new
			// subscriber) while the first copy is still here: its result
			// is on its way, and a second SIFT run would only cost time.
			inBufs.put(msg)
			log.Debug("copy of a frame in hand skipped", "frame_seq", seqOf(f))
			continue
		}
		c.framesIn.Add(1)
		c.bytesIn.Add(uint64(len(msg)))
		j := job{frame: f, msg: msg}
		if cfg.Delivery == DeliveryBestEffort {
			enqueueNewest(jobs, j, c, func(old job) { inHand.done(old.frame); inBufs.put(old.msg) })
		} else {
			select {
			case jobs <- j:
			case <-ctx.Done():
			}
		}
		depth()
	}
	c.setState(wire.StateStopping)
	close(jobs)
	<-sent
	log.Info("extractor stopped", "frames_in", c.framesIn.Load(), "frames_out", c.framesOut.Load())
	return nil
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
func awaitSubscriber(ctx context.Context, pub *bus.Socket) {
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

// extract runs SIFT on one image and encodes the PROCESSED_DATA message,
// into buf when it is large enough.
func extract(d *sift.Detector, j job, buf []byte) (msg []byte, keypoints int, err error) {
	res, err := d.Detect(j.frame.Data)
	if err != nil {
		return nil, 0, err
	}
	f := *j.frame
	f.Type = wire.TypeProcessed
	f.Keypoints = res.Keypoints
	f.Descriptors = res.Descriptors
	if f.Trailer != nil {
		t := *f.Trailer
		t.ExtractedNS = uint64(time.Now().UnixNano())
		f.Trailer = &t
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
