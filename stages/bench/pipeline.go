package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/wire"
)

// Pipeline is the result of the pipeline phase.
type Pipeline struct {
	FPS    float64 `json:"fps"`    // frames committed per second
	Frames int     `json:"frames"` // committed within the window
	// Latency is publish → commit of the frames committed in the window.
	Latency Latency `json:"latency_ms"`
	// SIFTMs is the extractor's decode + SIFT time per frame (from its
	// log), to set against the limit's.
	SIFTMs float64 `json:"sift_ms_mean"`
	// ExtractorBusy is the share of the extractor workers' time spent in
	// decode + SIFT over the window: below 1 they waited for frames.
	ExtractorBusy float64 `json:"extractor_busy"`
	// StatusFPS is the logger's frames_out over the window from its status
	// reports: a cross-check of FPS.
	StatusFPS float64 `json:"status_fps"`
	// OtherCores is the CPU used by processes other than the stages and
	// the bench over the window (and time stolen by the hypervisor), in
	// cores: what the pipeline competed with.
	OtherCores float64 `json:"other_cores"`
	Stages     []Stage `json:"stages"`
	// Extracted counts the frames the extractor finished in the window,
	// re-sent duplicates included: above Frames, SIFT ran for nothing.
	Extracted int `json:"extracted"`
	// Resent counts frames the generator published again, over the whole
	// run (warm-up included) and within the window.
	Resent         uint64   `json:"resent"`
	ResentInWindow uint64   `json:"resent_in_window"`
	Dropped        uint64   `json:"dropped"` // logger: frames missing from the stream
	Args           []string `json:"args"`    // each stage's command line after `stage NAME`, one string each
	// StopNotes tells of stages that did not exit 0 on SIGTERM in time.
	StopNotes []string `json:"stop_notes,omitempty"`

	raw pipelineRaw // what pooling rounds needs
}

// pipelineRaw is what one pipeline phase measured, for pooling rounds.
type pipelineRaw struct {
	total, extract, deliver, store []float64   // latency legs of frames stored in the window, ms
	stored                         []time.Time // the logger's commit of each frame, window or not
	took                           []float64   // extractor ms of each frame finished in the window
	busy                           float64     // extractor worker-seconds in SIFT within the window
	used                           []cpu       // each stage's CPU over the window, as Stages
	other                          float64     // other processes' CPU over the window, core-seconds
	statusFrames                   float64     // logger frames_out over the window
	window                         float64     // seconds
}

// Latency holds publish → commit percentiles and the median of each leg,
// in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	// Legs: publish → extracted (queueing + SIFT), extracted → received by
	// the logger, received → stored.
	ExtractP50 float64 `json:"extract_p50"`
	DeliverP50 float64 `json:"deliver_p50"`
	StoreP50   float64 `json:"store_p50"`
}

// Stage holds one stage process's figures over the window.
type Stage struct {
	Name           string  `json:"name"`
	PID            int     `json:"pid"`
	CPUPerFrame    float64 `json:"cpu_s_per_frame"`
	SysPerFrame    float64 `json:"sys_s_per_frame"` // the part of it in the kernel
	FaultsPerFrame float64 `json:"minor_faults_per_frame"`
	CPUCores       float64 `json:"cpu_cores"`      // CPU seconds per second of the window
	PeakRSSBytes   int64   `json:"peak_rss_bytes"` // VmHWM at the end of the window
	Errors         uint64  `json:"errors"`
	LastError      string  `json:"last_error,omitempty"`
}

// measureFunc runs the pipeline's measurement once it has warmed up: it
// returns when and for how long the stages ran while measured, and the CPU
// time the machine was busy during those spans, less the bench's own.
type measureFunc func(ctx context.Context, p *pipe) (spans, time.Duration, error)

// continuously measures for d in one go.
func continuously(d time.Duration) measureFunc {
	return func(ctx context.Context, p *pipe) (spans, time.Duration, error) {
		busy := startBusy()
		from := time.Now()
		if err := waitAlive(ctx, from.Add(d), p.check); err != nil {
			return nil, 0, err
		}
		return spans{{from, from.Add(d)}}, busy(), nil
	}
}

// waitAlive waits until t, failing early when alive does (a process ended,
// or ctx did).
func waitAlive(ctx context.Context, t time.Time, alive func(context.Context) error) error {
	for {
		if err := alive(ctx); err != nil {
			return err
		}
		d := time.Until(t)
		if d <= 0 {
			return nil
		}
		sleepUntil(ctx, time.Now().Add(min(d, 200*time.Millisecond)))
	}
}

// runPipeline runs the three stages under the supervisor on the images of
// dir in the temporary folder tmp: cfg.Warmup, then measure. frame is about
// how long one worker takes per frame (to wait for the extractor to stop).
func runPipeline(ctx context.Context, cfg Config, dir, tmp string, frame time.Duration, measure measureFunc) (Pipeline, error) {
	var res Pipeline
	p, err := startPipe(ctx, cfg, dir, tmp, frame)
	if p != nil {
		defer p.close()
	}
	if err != nil {
		return res, err
	}
	res.Args = p.args
	var aliveErr error
	warmedUp(ctx, time.Now().Add(cfg.Warmup), func() bool {
		if aliveErr = p.check(ctx); aliveErr != nil {
			return true
		}
		return p.status()[lgAt].FramesOut >= uint64(warmupFrames*cfg.Workers)
	})
	if aliveErr != nil {
		return res, aliveErr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	w, err := measureWindow(ctx, p, measure)
	if err != nil {
		return res, err
	}
	res.fromWindow(p, w)
	// The figures are in: a stage that stops badly is noted, not fatal.
	res.StopNotes = p.close()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	ss := w.ss
	if err := res.fromLoggerLog(p.logPath("logger"), ss); err != nil {
		return res, err
	}
	if err := res.fromDB(ctx, filepath.Join(tmp, "bench.db"), ss); err != nil {
		return res, err
	}
	if err := res.fromExtractorLog(p.logPath("extractor"), ss, cfg.Workers); err != nil {
		return res, err
	}
	for i, used := range res.raw.used {
		res.Stages[i].CPUPerFrame = perFrame(used.total(), res.FPS, ss.total())
		res.Stages[i].SysPerFrame = perFrame(used.sys, res.FPS, ss.total())
		res.Stages[i].FaultsPerFrame = float64(used.faults) / (res.FPS * ss.total().Seconds())
	}
	return res, nil
}

// window is what the pipeline's measurement saw.
type window struct {
	ss     spans
	all    time.Duration // the machine's busy CPU time over ss, less the bench's
	used   []cpu         // each stage's CPU over ss, in pipeline order
	before []wire.Status // each stage's last report before, and after
	after  []wire.Status
}

// measureWindow runs measure, reading the stages' CPU time and status
// around it.
func measureWindow(ctx context.Context, p *pipe, measure measureFunc) (window, error) {
	var w window
	cpu0, err := p.cpuTimes()
	if err != nil {
		return w, err
	}
	w.before = p.status()
	if w.ss, w.all, err = measure(ctx, p); err != nil {
		return w, err
	}
	cpu1, err := p.cpuTimes()
	if err != nil {
		return w, err
	}
	w.after = p.status()
	for i := range cpu1 {
		w.used = append(w.used, cpu1[i].sub(cpu0[i]))
	}
	return w, nil
}

// fromWindow sets the figures of each stage over the window but those per
// frame, which need the frame rate, and the pipeline's from the statuses.
func (res *Pipeline) fromWindow(p *pipe, w window) {
	window := w.ss.total().Seconds()
	out := w.after[lgAt].FramesOut - w.before[lgAt].FramesOut
	res.ResentInWindow = w.after[genAt].Resent - w.before[genAt].Resent
	res.StatusFPS = float64(out) / window
	var ours time.Duration
	for i, s := range p.stages {
		rss, _ := peakRSS(s.pid)
		st := w.after[i]
		res.Stages = append(res.Stages, Stage{Name: s.name, PID: s.pid, PeakRSSBytes: rss,
			CPUCores: w.used[i].total().Seconds() / window, Errors: st.Errors, LastError: st.LastError})
		ours += w.used[i].total()
	}
	res.OtherCores = max(w.all-ours, 0).Seconds() / window
	res.Resent = w.after[genAt].Resent
	res.Dropped = w.after[lgAt].Dropped
	res.raw.used = w.used
	res.raw.other = res.OtherCores * window
	res.raw.statusFrames = float64(out)
	res.raw.window = window
}

// fromLoggerLog reads the logger's "frame stored" log lines: the commit
// rate. The log has every frame, where the database may not: a logger run
// with --retain-frames or --retain-bytes deletes old rows as it goes.
func (res *Pipeline) fromLoggerLog(path string, ss spans) error {
	var stored []time.Time
	err := scanLog(path, "frame stored", func(l logLine) { stored = append(stored, l.Time) })
	if err != nil {
		return fmt.Errorf("pipeline: logger log: %w", err)
	}
	res.FPS, res.Frames = ss.rate(stored)
	res.raw.stored = stored
	return nil
}

// fromDB reads latencies from the rows stored in the window that the
// database still holds. Time the pipeline spent paused (--slice) is not
// latency.
func (res *Pipeline) fromDB(ctx context.Context, path string, ss spans) error {
	d, err := db.OpenReadOnly(ctx, path)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	defer d.Close()
	var total, extract, deliver, store []float64
	ms := func(a, b time.Time) float64 { return float64(b.Sub(a)-ss.paused(a, b)) / float64(time.Millisecond) }
	err = d.EachImage(ctx, false, func(r *db.ImageRow) error {
		if !ss.contains(r.StoredAt) || r.PublishedAt.IsZero() {
			return nil
		}
		total = append(total, ms(r.PublishedAt, r.StoredAt))
		if !r.ExtractedAt.IsZero() && !r.ReceivedAt.IsZero() {
			extract = append(extract, ms(r.PublishedAt, r.ExtractedAt))
			deliver = append(deliver, ms(r.ExtractedAt, r.ReceivedAt))
			store = append(store, ms(r.ReceivedAt, r.StoredAt))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pipeline: read database: %w", err)
	}
	res.raw.total, res.raw.extract, res.raw.deliver, res.raw.store = total, extract, deliver, store
	res.Latency = latency(&res.raw)
	return nil
}

// fromExtractorLog reads the extractor's "frame extracted" log lines: the
// decode + SIFT time of each frame finished in the window.
func (res *Pipeline) fromExtractorLog(path string, ss spans, workers int) error {
	var took, busy []float64
	err := scanLog(path, "frame extracted", func(l logLine) {
		began := l.began()
		if ss.contains(l.Time) {
			took = append(took, l.Ms-ss.paused(began, l.Time).Seconds()*1000)
			res.Extracted++
		}
		busy = append(busy, ss.overlap(began, l.Time).Seconds())
	})
	if err != nil {
		return fmt.Errorf("pipeline: extractor log: %w", err)
	}
	res.SIFTMs = mean(took)
	res.raw.took = took
	for _, b := range busy {
		res.raw.busy += b
	}
	res.ExtractorBusy = res.raw.busy / (ss.total().Seconds() * float64(workers))
	return nil
}

// logLine is what the bench reads of a JSON log line: the stages' frame
// logs, and the limit process's.
type logLine struct {
	Time      time.Time `json:"time"`
	Msg       string    `json:"msg"`
	Ms        float64   `json:"ms,omitempty"` // how long the frame took, ending at Time
	Image     int       `json:"image,omitempty"`
	Keypoints int       `json:"keypoints,omitempty"`
}

// began is when the frame's Ms started.
func (l logLine) began() time.Time {
	return l.Time.Add(-time.Duration(l.Ms * float64(time.Millisecond)))
}

// scanLog calls fn with each JSON log line of the log at path whose
// message is msg. Other lines are skipped.
func scanLog(path, msg string, fn func(logLine)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line logLine
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Msg != msg {
			continue
		}
		fn(line)
	}
	return sc.Err()
}

func latency(r *pipelineRaw) Latency {
	return Latency{P50: percentile(r.total, 50), P90: percentile(r.total, 90), P99: percentile(r.total, 99),
		ExtractP50: percentile(r.extract, 50), DeliverP50: percentile(r.deliver, 50), StoreP50: percentile(r.store, 50)}
}
