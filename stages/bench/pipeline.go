package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/stages/bus"
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

// stopGrace is how long a stage may take to stop after SIGTERM. The
// extractor first finishes the frames in hand and queued (two per worker),
// so it gets three frame times more.
func stopGrace(stage string, frame time.Duration) time.Duration {
	if stage == "extractor" {
		return 10*time.Second + 3*frame
	}
	return 10 * time.Second
}

// measureFunc runs the pipeline's measurement once it has warmed up: it
// returns when and for how long the stages ran while measured, and the CPU
// time the machine was busy during those spans, less the bench's own.
type measureFunc func(ctx context.Context, procs []*stageProc) (spans, time.Duration, error)

// continuously measures for d in one go.
func continuously(d time.Duration) measureFunc {
	return func(ctx context.Context, procs []*stageProc) (spans, time.Duration, error) {
		busy := startBusy()
		from := time.Now()
		if err := waitAlive(ctx, procs, from.Add(d)); err != nil {
			return nil, 0, err
		}
		return spans{{from, from.Add(d)}}, busy(), nil
	}
}

// startBusy starts measuring the CPU time the machine is busy, but for this
// process; the function returned reads it.
func startBusy() func() time.Duration {
	all0, _ := machineBusy()
	self0, _ := cpuTime(os.Getpid())
	return func() time.Duration {
		all1, _ := machineBusy()
		self1, _ := cpuTime(os.Getpid())
		return all1 - all0 - self1.sub(self0).total()
	}
}

// runPipeline runs the three stages on the images of dir in the temporary
// folder tmp: cfg.Warmup, then measure. frame is about how long one worker
// takes per frame (to wait for the extractor to stop).
func runPipeline(ctx context.Context, cfg Config, dir, tmp string, frame time.Duration, measure measureFunc) (Pipeline, error) {
	var res Pipeline
	ep := func(name string) string { return "ipc://" + filepath.Join(tmp, name) }
	status := ep("st")
	dbPath := filepath.Join(tmp, "bench.db")

	zctx, err := bus.NewContext()
	if err != nil {
		return res, err
	}
	defer zctx.Close()
	sub, err := zctx.Sub("@"+status, bus.Options{HWM: 1000})
	if err != nil {
		return res, fmt.Errorf("pipeline: status socket: %w", err)
	}
	sctx, stopStatus := context.WithCancel(context.WithoutCancel(ctx))
	st := &statuses{last: map[string]wire.Status{}}
	statusDone := make(chan struct{})
	go func() { // owns sub; ends when sctx ends
		defer close(statusDone)
		defer sub.Close()
		st.run(sctx, sub)
	}()
	defer func() { stopStatus(); <-statusDone }()

	args := map[string][]string{
		"logger": {"--sub", ">" + ep("ex"), "--ack", "@" + ep("ack"), "--db", dbPath},
		"extractor": {"--sub", ">" + ep("gen"), "--pub", "@" + ep("ex"),
			"--workers", strconv.Itoa(cfg.Workers), "--threads", strconv.Itoa(cfg.Threads)},
		"generator": {"--images", dir, "--pub", "@" + ep("gen"), "--ack", ">" + ep("ack"), "--drain", "2s"},
	}
	if cfg.ReturnMemory {
		args["extractor"] = append(args["extractor"], "--return-memory")
	}
	if cfg.Window > 0 {
		args["generator"] = append(args["generator"], "--window", strconv.Itoa(cfg.Window))
	}
	env := os.Environ()
	auxEnv := env
	if cfg.GOMAXPROCS > 0 {
		auxEnv = append(append([]string(nil), env...), "GOMAXPROCS="+strconv.Itoa(cfg.GOMAXPROCS))
	}
	var procs []*stageProc
	defer func() {
		for _, p := range procs {
			p.kill() // only those still running: after a clean stop, nothing
		}
	}()
	// Consumers first, and up (reporting) before the generator starts: a
	// generator that hears a logger's first hello resends the frames it
	// sent before that logger's start + 2 s, which would cost SIFT runs.
	for _, name := range []string{"logger", "extractor", "generator"} {
		if name == "generator" {
			if err := waitReports(ctx, st, procs); err != nil {
				return res, err
			}
			sleepUntil(ctx, time.Now().Add(consumerSettle))
		}
		a := append(args[name], "--status", ">"+status, "--log-format", "json")
		a = append(a, cfg.StageFlags[name]...)
		res.Args = append(res.Args, name+" "+shellJoin(a))
		e, nice := env, 0
		if name != "extractor" {
			e, nice = auxEnv, cfg.Nice
		}
		p, err := startStage(cfg.Exe, name, a, e, filepath.Join(tmp, name+".log"), nice)
		if err != nil {
			return res, fmt.Errorf("pipeline: %w", err)
		}
		procs = append(procs, p)
	}
	lg, ex, gen := procs[0], procs[1], procs[2]
	if err := waitReports(ctx, st, procs); err != nil {
		return res, err
	}
	if cfg.Nice != 0 { // again, now that every thread of theirs exists
		renice(gen.pid, cfg.Nice)
		renice(lg.pid, cfg.Nice)
	}
	var aliveErr error
	warmedUp(ctx, time.Now().Add(cfg.Warmup), func() bool {
		if aliveErr = checkAlive(ctx, procs); aliveErr != nil {
			return true
		}
		return st.get("logger").FramesOut >= uint64(warmupFrames*cfg.Workers)
	})
	if aliveErr != nil {
		return res, aliveErr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	cpu0, err := cpuTimes(procs)
	if err != nil {
		return res, err
	}
	out0, resent0 := st.get("logger").FramesOut, st.get("generator").Resent
	ss, all, err := measure(ctx, procs)
	if err != nil {
		return res, err
	}
	cpu1, err := cpuTimes(procs)
	if err != nil {
		return res, err
	}
	out1, resent1 := st.get("logger").FramesOut, st.get("generator").Resent
	window := ss.total().Seconds()
	res.ResentInWindow = resent1 - resent0
	res.StatusFPS = float64(out1-out0) / window
	for i, p := range procs {
		rss, _ := peakRSS(p.pid)
		s := st.get(p.name)
		res.Stages = append(res.Stages, Stage{Name: p.name, PID: p.pid, PeakRSSBytes: rss,
			CPUCores: cpu1[i].sub(cpu0[i]).total().Seconds() / window, Errors: s.Errors, LastError: s.LastError})
	}
	var ours time.Duration
	for i := range procs {
		ours += cpu1[i].sub(cpu0[i]).total()
	}
	res.OtherCores = max(all-ours, 0).Seconds() / window
	res.raw.other = res.OtherCores * window
	res.raw.statusFrames = float64(out1 - out0)
	res.raw.window = window
	res.Resent = st.get("generator").Resent
	res.Dropped = st.get("logger").Dropped

	// Stop, generator first, so that downstream stages drain. The figures
	// are in: a stage that stops badly is noted, not fatal.
	for _, p := range []*stageProc{gen, ex, lg} {
		if err := p.stop(ctx, stopGrace(p.name, frame)); err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.StopNotes = append(res.StopNotes, fmt.Sprintf("%s: %v", p.name, err))
		}
	}

	if err := res.fromLoggerLog(lg.log, ss); err != nil {
		return res, err
	}
	if err := res.fromDB(ctx, dbPath, ss); err != nil {
		return res, err
	}
	if err := res.fromExtractorLog(ex.log, ss, cfg.Workers); err != nil {
		return res, err
	}
	for i := range procs {
		used := cpu1[i].sub(cpu0[i])
		res.raw.used = append(res.raw.used, used)
		res.Stages[i].CPUPerFrame = perFrame(used.total(), res.FPS, ss.total())
		res.Stages[i].SysPerFrame = perFrame(used.sys, res.FPS, ss.total())
		res.Stages[i].FaultsPerFrame = float64(used.faults) / (res.FPS * window)
	}
	slices.Reverse(res.Stages) // pipeline order: generator, extractor, logger
	slices.Reverse(res.raw.used)
	return res, nil
}

// consumerSettle is how long the consumers run before the generator starts:
// more than the generator's grace for a logger's sockets to connect (2 s),
// so that the logger's first hello makes it resend nothing.
const consumerSettle = 2500 * time.Millisecond

// waitReports waits until every process has sent a status report.
func waitReports(ctx context.Context, st *statuses, procs []*stageProc) error {
	deadline := time.Now().Add(30 * time.Second)
	for !st.haveAll(procs) {
		if err := checkAlive(ctx, procs); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("pipeline: the stages did not report status within 30s")
		}
		sleepUntil(ctx, time.Now().Add(50*time.Millisecond))
	}
	return nil
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
	return Latency{P50: percentile(r.total, 50), P99: percentile(r.total, 99),
		ExtractP50: percentile(r.extract, 50), DeliverP50: percentile(r.deliver, 50), StoreP50: percentile(r.store, 50)}
}

// statuses keeps the last status report of each stage.
type statuses struct {
	mu   sync.Mutex
	last map[string]wire.Status // by stage name
}

func (s *statuses) run(ctx context.Context, sub *bus.Socket) {
	for ctx.Err() == nil {
		msg, err := sub.Recv(100 * time.Millisecond)
		if err != nil {
			continue // timeout, or a bad message: the next report comes in 250 ms
		}
		var st wire.Status
		if json.Unmarshal(msg, &st) != nil {
			continue
		}
		s.mu.Lock()
		s.last[st.Stage] = st
		s.mu.Unlock()
	}
}

func (s *statuses) get(stage string) wire.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[stage]
}

// haveAll reports whether every process has reported, from its own pid.
func (s *statuses) haveAll(procs []*stageProc) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range procs {
		if s.last[p.name].PID != p.pid {
			return false
		}
	}
	return true
}

func checkAlive(ctx context.Context, procs []*stageProc) error {
	for _, p := range procs {
		if p.exited() {
			return p.failure()
		}
	}
	return ctx.Err()
}

// waitAlive waits until t, failing early if a stage ends or ctx does.
func waitAlive(ctx context.Context, procs []*stageProc, t time.Time) error {
	for {
		if err := checkAlive(ctx, procs); err != nil {
			return err
		}
		d := time.Until(t)
		if d <= 0 {
			return nil
		}
		sleepUntil(ctx, time.Now().Add(min(d, 200*time.Millisecond)))
	}
}

func cpuTimes(procs []*stageProc) ([]cpu, error) {
	ts := make([]cpu, len(procs))
	for i, p := range procs {
		t, err := cpuTime(p.pid)
		if err != nil {
			return nil, fmt.Errorf("pipeline: cpu time of %s: %w", p.name, err)
		}
		ts[i] = t
	}
	return ts, nil
}
