package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// With --slice the two phases take turns rather than running one after
// the other. The limit runs in a process of its own; the bench warms it up
// and pauses it (SIGSTOP), starts and warms up the pipeline, and then lets
// them run by turns, one slice at a time, the other paused: pipeline,
// limit, pipeline, limit, … until each has run cfg.For.
//
// Not pipeline, limit, limit, pipeline (which would cancel a steady drift
// of the machine): the pipeline would then sit paused for two slices, and
// a frame published just before such a pause can outlast the generator's
// resend timeout (10 s at least), to be sent and extracted twice.
//
// The machine's speed drifts, by tens of per cent within minutes on a
// shared virtual machine: phases a minute apart compare two machines;
// slices a few seconds apart compare one.
// A frame in flight across a pause simply finishes later: each phase is
// measured over its own slices put end to end, and pauses are taken out of
// latencies and frame times.

// defaultSlice is `imaging-tui bench`'s --slice: at 4000×3000 a worker
// finishes a frame every 2–3 s, and the pipeline, paused for a slice,
// must stay clear of the generator's resend timeout (10 s at least).
const defaultSlice = 5 * time.Second

// limitChildCmd is the hidden bench subcommand that runs the limit's workers.
const limitChildCmd = "limit-child"

// limitChild is `imaging-tui bench limit-child`: decode + SIFT on the
// images of --images with --workers detectors, cycling over the images,
// until SIGTERM. Each frame is a JSON line on stdout (logLine).
func limitChild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	fs := flag.NewFlagSet("imaging-tui bench "+limitChildCmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Images, "images", "", "image `folder`")
	fs.IntVar(&cfg.Workers, "workers", 1, "SIFT workers")
	fs.IntVar(&cfg.Threads, "threads", 1, "OpenCV threads")
	fs.BoolVar(&cfg.ReturnMemory, "return-memory", false, "give freed SIFT memory back to the kernel")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return stage.ErrUsage
	}
	if fs.NArg() > 0 || cfg.Images == "" || cfg.Workers < 1 || cfg.Threads < 1 {
		return usageErr(stderr, "%s: want --images DIR and positive --workers and --threads", limitChildCmd)
	}
	imgs, err := loadImages(cfg.Images)
	if err != nil {
		return fmt.Errorf("limit: %w", err)
	}
	dets, err := newDetectors(cfg)
	if err != nil {
		return fmt.Errorf("limit: %w", err)
	}
	defer closeDetectors(dets)
	stop := make(chan struct{})
	var once sync.Once
	halt := func() { once.Do(func() { close(stop) }) }
	context.AfterFunc(ctx, halt)
	enc := json.NewEncoder(stdout)
	var firstErr error
	siftWorkers(stop, dets, imgs, func(c completion, err error) {
		if err == nil {
			err = enc.Encode(logLine{Time: c.at, Msg: "frame extracted", Ms: float64(c.took) / float64(time.Millisecond),
				Image: c.image, Keypoints: c.keypoints})
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("limit: %w", err)
			halt()
		}
	})
	return firstErr
}

// runInterleaved measures the limit and the pipeline by turns (see above).
// It returns both phases' figures, the keypoint count of each image (-1 for
// those the limit did not reach) and two rounds: the first and second half
// of the slices, as a check on how far the machine drifted.
func runInterleaved(ctx context.Context, cfg Config, dir string, imgs []image, tmp string) (Limit, Pipeline, []Round, []int, error) {
	logPath := filepath.Join(tmp, "limit.log")
	lp, frame, warmedAt, err := startLimit(ctx, cfg, dir, logPath)
	if lp != nil {
		defer lp.kill()
	}
	if err != nil {
		return Limit{}, Pipeline{}, nil, nil, err
	}
	sub := filepath.Join(tmp, "0")
	if err := os.Mkdir(sub, 0o755); err != nil {
		return Limit{}, Pipeline{}, nil, nil, fmt.Errorf("bench: %w", err)
	}
	t := &takingTurns{cfg: cfg, limit: lp}
	t.n, t.slice = turns(cfg)
	progress(cfg, "pipeline: generator → extractor → logger, %v warm-up", cfg.Warmup)
	p, err := runPipeline(ctx, cfg, dir, sub, frame, t.measure)
	if err != nil {
		return Limit{}, p, nil, nil, err
	}
	rss, _ := peakRSS(lp.pid)
	if err := lp.stop(ctx, 10*time.Second+2*frame); err != nil {
		return Limit{}, p, nil, nil, fmt.Errorf("limit: %w", err)
	}
	var done []completion
	err = scanLog(logPath, "frame extracted", func(x logLine) {
		took := time.Duration(x.Ms * float64(time.Millisecond))
		done = append(done, completion{at: x.Time, took: took, image: x.Image, keypoints: x.Keypoints})
	})
	if err != nil {
		return Limit{}, p, nil, nil, fmt.Errorf("limit: %w", err)
	}
	ran := append(spans{{time.Time{}, warmedAt}}, t.limitSpans...) // for the pauses
	l, kps := limitFigures(done, t.limitSpans, ran, t.limitCPU, t.limitBusy-t.limitCPU.total(), len(imgs))
	l.PID, l.PeakRSSBytes = lp.pid, rss
	return l, p, t.halves(done, p.raw.stored), kps, nil
}

// startLimit starts the limit's process, warms it up and pauses it. It
// returns the process (kill it in any case), how long a frame took it and
// when the warm-up ended.
func startLimit(ctx context.Context, cfg Config, dir, logPath string) (*child, time.Duration, time.Time, error) {
	argv := []string{"bench", limitChildCmd, "--images", dir,
		"--workers", strconv.Itoa(cfg.Workers), "--threads", strconv.Itoa(cfg.Threads)}
	if cfg.ReturnMemory {
		argv = append(argv, "--return-memory")
	}
	lp, err := startProc(cfg.Exe, "limit", argv, os.Environ(), logPath)
	if err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("limit: %w", err)
	}
	progress(cfg, "limit: %d workers × %d threads, a process of its own, %v warm-up", cfg.Workers, cfg.Threads, cfg.Warmup)
	var warm []logLine
	var aliveErr error
	warmedUp(ctx, time.Now().Add(cfg.Warmup), func() bool {
		if lp.exited() {
			aliveErr = lp.failure()
			return true
		}
		warm = warm[:0]
		_ = scanLog(logPath, "frame extracted", func(x logLine) { warm = append(warm, x) })
		return len(warm) >= warmupFrames*cfg.Workers
	})
	if aliveErr != nil {
		return lp, 0, time.Time{}, aliveErr
	}
	if err := ctx.Err(); err != nil {
		return lp, 0, time.Time{}, err
	}
	if err := lp.pause(); err != nil {
		return lp, 0, time.Time{}, err
	}
	var took []float64
	for _, x := range warm {
		took = append(took, x.Ms)
	}
	return lp, time.Duration(mean(took) * float64(time.Millisecond)), time.Now(), nil
}

// takingTurns is the pipeline's measurement with --slice: n slices each,
// pipeline first, the limit paused while the pipeline runs and vice versa.
type takingTurns struct {
	cfg                   Config
	limit                 *child
	n                     int
	slice                 time.Duration
	limitSpans, pipeSpans spans
	limitBusy             time.Duration // the machine's busy CPU time in the limit's slices, less the bench's
	limitCPU              cpu           // the limit process's CPU over its slices
}

// measure is the pipeline's measureFunc. It returns with the pipeline
// running again, to be stopped, and the limit paused.
func (t *takingTurns) measure(ctx context.Context, p *pipe) (spans, time.Duration, error) {
	progress(t.cfg, "taking turns: %d slices of %v each, pipeline first", t.n, t.slice)
	cpu0, err := cpuTime(t.limit.pid)
	if err != nil {
		return nil, 0, fmt.Errorf("limit: %w", err)
	}
	alive := func(ctx context.Context) error {
		if t.limit.exited() {
			return t.limit.failure()
		}
		return p.check(ctx)
	}
	var pipeBusy time.Duration
	pipelineRuns := true // warmed up; the limit is paused
	for k := range 2 * t.n {
		pipeline := k%2 == 0
		if pipeline != pipelineRuns {
			if err := t.switchTo(p, pipeline); err != nil {
				return nil, 0, err
			}
			pipelineRuns = pipeline
		}
		busy := startBusy()
		from := time.Now()
		if err := waitAlive(ctx, from.Add(t.slice), alive); err != nil {
			return nil, 0, err
		}
		if s := (span{from, time.Now()}); pipeline {
			t.pipeSpans = append(t.pipeSpans, s)
			pipeBusy += busy()
		} else {
			t.limitSpans = append(t.limitSpans, s)
			t.limitBusy += busy()
		}
	}
	if !pipelineRuns {
		if err := t.switchTo(p, true); err != nil {
			return nil, 0, err
		}
	}
	cpu1, err := cpuTime(t.limit.pid)
	if err != nil {
		return nil, 0, fmt.Errorf("limit: %w", err)
	}
	t.limitCPU = cpu1.sub(cpu0)
	return t.pipeSpans, pipeBusy, nil
}

// pausable is a phase's processes, which take turns.
type pausable interface {
	pause() error
	resume() error
}

// switchTo pauses one phase and continues the other: the pipeline when
// pipeline is true, the limit otherwise.
func (t *takingTurns) switchTo(p *pipe, pipeline bool) error {
	var from, to pausable = p, t.limit
	if pipeline {
		from, to = t.limit, p
	}
	if err := from.pause(); err != nil {
		return err
	}
	return to.resume()
}

// halves are two rounds: the rates of the first and of the second half of
// the slices, from the limit's frames done and the pipeline's stored.
func (t *takingTurns) halves(done []completion, stored []time.Time) []Round {
	at := make([]time.Time, len(done))
	for i, c := range done {
		at[i] = c.at
	}
	var rounds []Round
	for i, h := range [][2]int{{0, t.n / 2}, {t.n / 2, t.n}} {
		if h[0] == h[1] {
			continue
		}
		lf, _ := t.limitSpans[h[0]:h[1]].rate(at)
		pf, _ := t.pipeSpans[h[0]:h[1]].rate(stored)
		r := Round{Part: []string{"first half", "second half"}[i], LimitFPS: lf, PipelineFPS: pf}
		if lf > 0 {
			r.Ratio = pf / lf
		}
		rounds = append(rounds, r)
	}
	return rounds
}

// turns splits cfg.For into n slices of about cfg.Slice each.
func turns(cfg Config) (n int, slice time.Duration) {
	n = max(1, int((cfg.For+cfg.Slice-1)/cfg.Slice))
	return n, cfg.For / time.Duration(n)
}

// progress prints a progress line, if cfg asks for them.
func progress(cfg Config, format string, args ...any) {
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "bench: "+format+"\n", args...)
	}
}
