package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/sift"
)

// Limit is the result of the limit phase.
type Limit struct {
	FPS            float64 `json:"fps"`
	Frames         int     `json:"frames"`          // completed within the window
	SIFTMs         float64 `json:"sift_ms_mean"`    // decode + SIFT per frame, wall time, within the window
	SIFTP50        float64 `json:"sift_ms_p50"`     // its median: what latency is set against
	CPUPerFrame    float64 `json:"cpu_s_per_frame"` // this process's CPU over the window ÷ frames
	SysPerFrame    float64 `json:"sys_s_per_frame"` // the part of it in the kernel (page faults, mostly)
	FaultsPerFrame float64 `json:"minor_faults_per_frame"`
	PeakRSSBytes   int64   `json:"peak_rss_bytes"` // this process's VmHWM at the end
	OtherCores     float64 `json:"other_cores"`    // CPU used by other processes over the window, in cores
	PID            int     `json:"pid,omitempty"`  // with --slice, the limit's own process

	raw limitRaw // what pooling rounds needs
}

// limitRaw is what one limit phase measured, for pooling rounds.
type limitRaw struct {
	used   cpu       // this process's CPU over the window
	other  float64   // other processes' CPU over the window, core-seconds
	took   []float64 // ms of each frame completed in the window
	window float64   // seconds
}

// completion is one frame done by a worker.
type completion struct {
	at        time.Time
	took      time.Duration
	image     int
	keypoints int
}

// newDetectors sets up SIFT as both phases run it (the allocator's
// behaviour, OpenCV's threads) and makes one Detector per worker.
func newDetectors(cfg Config) ([]*sift.Detector, error) {
	if !cfg.ReturnMemory {
		if err := sift.KeepMemory(); err != nil {
			return nil, err
		}
	}
	sift.SetNumThreads(cfg.Threads)
	dets := make([]*sift.Detector, cfg.Workers)
	for i := range dets {
		d, err := sift.New(sift.Options{})
		if err != nil {
			closeDetectors(dets)
			return nil, err
		}
		dets[i] = d
	}
	return dets, nil
}

func closeDetectors(dets []*sift.Detector) {
	for _, d := range dets {
		if d != nil {
			d.Close()
		}
	}
}

// siftWorkers runs decode + SIFT on imgs with one goroutine per detector,
// cycling over the images, and calls record after each frame (from the
// workers, one at a time) until stop is closed. It returns when every
// worker has finished the frame in hand.
func siftWorkers(stop <-chan struct{}, dets []*sift.Detector, imgs []image, record func(completion, error)) {
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, d := range dets {
		wg.Add(1)
		go func() { // owned by siftWorkers: ends when stop is closed, after the frame in hand
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := int(next.Add(1)-1) % len(imgs)
				t0 := time.Now()
				res, err := d.Detect(imgs[i].data)
				now := time.Now()
				if err != nil {
					err = fmt.Errorf("limit: %s: %w", imgs[i].name, err)
				}
				mu.Lock()
				record(completion{at: now, took: now.Sub(t0), image: i, keypoints: len(res.Keypoints)}, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// runLimit runs decode + SIFT on imgs with cfg.Workers goroutines, each
// with its own Detector, cycling over the images, for cfg.Warmup and then
// cfg.For. It returns the figures of the window and the keypoint count of
// every image it processed (-1 for those it did not reach).
func runLimit(ctx context.Context, cfg Config, imgs []image) (Limit, []int, error) {
	// Last, after the detectors are closed: the pipeline phase that follows
	// needs that memory for its extractor.
	defer sift.ReleaseMemory()
	dets, err := newDetectors(cfg)
	if err != nil {
		return Limit{}, nil, fmt.Errorf("limit: %w", err)
	}
	defer closeDetectors(dets)
	stop := make(chan struct{})
	var mu sync.Mutex
	var done []completion
	var firstErr error
	workersDone := make(chan struct{})
	go func() {
		defer close(workersDone)
		siftWorkers(stop, dets, imgs, func(c completion, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			done = append(done, c)
		})
	}()

	// Warm-up: at least cfg.Warmup, and until every worker has finished
	// warmupFrames frames (see warmedUp).
	finished := func() int { mu.Lock(); defer mu.Unlock(); return len(done) }
	from := warmedUp(ctx, time.Now().Add(cfg.Warmup), func() bool { return finished() >= warmupFrames*cfg.Workers })
	to := from.Add(cfg.For)
	var cpu0, cpu1 cpu
	var all0, all1 time.Duration
	if ctx.Err() == nil {
		cpu0, err = cpuTime(os.Getpid())
		all0, _ = machineBusy()
		if err == nil && sleepUntil(ctx, to) {
			cpu1, err = cpuTime(os.Getpid())
			all1, _ = machineBusy()
		}
	}
	close(stop)
	<-workersDone
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = firstErr
	}
	if err != nil {
		return Limit{}, nil, err
	}

	ss := spans{{from, to}}
	l, kps := limitFigures(done, ss, ss, cpu1.sub(cpu0), all1-all0-cpu1.sub(cpu0).total(), len(imgs))
	l.PeakRSSBytes, _ = peakRSS(os.Getpid())
	return l, kps, nil
}

// limitFigures computes the limit's figures from the frames its workers
// completed, measured over ss: its process used used, other processes
// others. ran is when the process ran, ss and before (frames in flight
// across a gap took that much less). It also returns the keypoint count of
// each of the n images (-1 for those no frame reached).
func limitFigures(done []completion, ss, ran spans, used cpu, others time.Duration, n int) (Limit, []int) {
	kps := make([]int, n)
	for i := range kps {
		kps[i] = -1
	}
	var at []time.Time
	var took []float64
	for _, c := range done {
		if c.image >= 0 && c.image < n {
			kps[c.image] = c.keypoints
		}
		at = append(at, c.at)
		if ss.contains(c.at) {
			took = append(took, float64(c.took-ran.paused(c.at.Add(-c.took), c.at))/float64(time.Millisecond))
		}
	}
	var l Limit
	window := ss.total()
	l.FPS, l.Frames = ss.rate(at)
	l.SIFTMs, l.SIFTP50 = mean(took), percentile(took, 50)
	l.CPUPerFrame = perFrame(used.total(), l.FPS, window)
	l.SysPerFrame = perFrame(used.sys, l.FPS, window)
	l.FaultsPerFrame = float64(used.faults) / (l.FPS * window.Seconds())
	l.OtherCores = max(others, 0).Seconds() / window.Seconds()
	l.raw = limitRaw{used: used, other: l.OtherCores * window.Seconds(), took: took, window: window.Seconds()}
	return l, kps
}

// sleepUntil waits until t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
