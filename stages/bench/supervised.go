package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
	"github.com/imaging-tui/imaging-tui/wire"
)

// pipe is one pipeline phase: the real supervisor, running the three
// stages, and the process of each that it started.
type pipe struct {
	sup    *supervisor.Supervisor
	cancel context.CancelFunc // begins the supervisor's shutdown
	done   chan error         // Run's result, once
	ended  bool               // done has been received
	runErr error
	stages []pipeStage // in pipeline order: generator, extractor, logger
	args   []string    // each stage's command line after `stage KIND`, prefixed with its name
}

// pipeStage is one stage process of the phase.
type pipeStage struct {
	name     string // the bench's name for it: its kind
	instance string // the supervisor's
	pid      int    // also its process group id
}

// The supervisor's instance names of the three stages.
const (
	genInstance = string(stage.Generator)
	exInstance  = string(stage.Extractor) + "-0"
	lgInstance  = string(stage.Logger)
)

// The position of each stage in pipe.stages and in what is read of them.
const (
	genAt = iota
	exAt
	lgAt
)

// consumerSettle is how long the consumers run before the generator
// publishes: more than the generator's grace for a logger's sockets to
// connect (2 s), so that the logger's first hello makes it resend nothing.
const consumerSettle = 2500 * time.Millisecond

// stopGrace is how long the extractor and the logger may take to stop after
// SIGTERM. The extractor first finishes the frames in hand and queued (two
// per worker), so it gets three frame times more than the others' 10 s.
func stopGrace(frame time.Duration) time.Duration { return 10*time.Second + 3*frame }

// supervisorConfig is the supervisor's configuration for a pipeline phase
// in the folder tmp on the images of dir; frame is about how long a worker
// takes per frame.
func supervisorConfig(cfg Config, dir, tmp string, frame time.Duration) supervisor.Config {
	sc := supervisor.DefaultConfig()
	sc.Transport = bus.NewTransport()
	sc.Exe = cfg.Exe
	sc.RunDir = tmp
	sc.StatusBind = "@ipc://" + filepath.Join(tmp, "st") // not the console's TCP port, which may be in use
	sc.Images = dir
	sc.DB = filepath.Join(tmp, "bench.db")
	sc.Workers, sc.Threads = cfg.Workers, cfg.Threads
	sc.RetainBytes = 0 // keep every frame, unless --logger-flags say otherwise
	sc.StopGrace = stopGrace(frame)
	sc.DrainGrace = 10 * time.Second
	logJSON := []string{"--log-format", "json"} // the bench reads the frame logs
	gen := slices.Concat([]string{"--drain", "2s"}, logJSON)
	if cfg.Window > 0 {
		gen = append(gen, "--window", strconv.Itoa(cfg.Window))
	}
	ex := slices.Clone(logJSON)
	if cfg.ReturnMemory {
		ex = append(ex, "--return-memory")
	}
	sc.ExtraArgs = map[stage.Kind][]string{
		stage.Generator: slices.Concat(gen, cfg.StageFlags[stage.Generator]),
		stage.Extractor: slices.Concat(ex, cfg.StageFlags[stage.Extractor]),
		stage.Logger:    slices.Concat(logJSON, cfg.StageFlags[stage.Logger]),
	}
	if cfg.GOMAXPROCS > 0 {
		// Every stage's: the extractor's SIFT runs in C, which it does not limit.
		sc.Env = append(sc.Env, "GOMAXPROCS="+strconv.Itoa(cfg.GOMAXPROCS))
	}
	return sc
}

// startPipe starts the supervisor on the pipeline and returns once every
// stage reports. The consumers start first, and the generator publishes
// only consumerSettle after they report: a generator that hears a logger's
// first hello resends the frames it sent before that logger's start + 2 s,
// which would cost SIFT runs. Close the pipe in any case.
func startPipe(ctx context.Context, cfg Config, dir, tmp string, frame time.Duration) (*pipe, error) {
	sup, err := supervisor.New(supervisorConfig(cfg, dir, tmp, frame), nil)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	// generator, extractor-0, logger → logger, extractor-0, generator.
	err = errors.Join(sup.MoveDown(genInstance), sup.MoveDown(genInstance), sup.MoveUp(lgInstance))
	if err != nil {
		return nil, fmt.Errorf("pipeline: start order: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &pipe{sup: sup, cancel: cancel, done: make(chan error, 1), stages: []pipeStage{
		{name: string(stage.Generator), instance: genInstance}, {name: string(stage.Extractor), instance: exInstance},
		{name: string(stage.Logger), instance: lgInstance}}}
	go func() { p.done <- sup.Run(runCtx) }() // ends when close cancels runCtx
	return p, p.start(ctx, cfg.Nice)
}

// start holds the generator while the consumers settle, then waits for
// every stage's report and notes their processes.
func (p *pipe) start(ctx context.Context, nice int) error {
	gen, err := p.waitFor(ctx, "the generator did not start", func(s supervisor.Snapshot) bool {
		return stageOf(s, genInstance).PID != 0
	})
	if err != nil {
		return err
	}
	// Held before its first frame: it publishes only 300 ms after a
	// subscriber joins.
	genPID := stageOf(gen, genInstance).PID
	if err := pauseGroup("generator", genPID, func() error { return p.check(ctx) }); err != nil {
		return err
	}
	if _, err := p.waitReports(ctx, exInstance, lgInstance); err != nil {
		return err
	}
	sleepUntil(ctx, time.Now().Add(consumerSettle))
	if err := resumeGroup("generator", genPID); err != nil {
		return err
	}
	snap, err := p.waitReports(ctx, genInstance, exInstance, lgInstance)
	if err != nil {
		return err
	}
	for i := range p.stages {
		s := &p.stages[i]
		s.pid = stageOf(snap, s.instance).PID
		argv, err := supervisor.ReadCmdline(s.pid)
		if err != nil {
			return fmt.Errorf("pipeline: %s: %w", s.name, err)
		}
		p.args = append(p.args, s.name+" "+shellJoin(argv[min(3, len(argv)):]))
		if nice != 0 && s.name != string(stage.Extractor) {
			renice(s.pid, nice) // now that every thread of theirs exists
		}
	}
	return nil
}

// waitReports waits until each of the instances has reported status from
// its current process.
func (p *pipe) waitReports(ctx context.Context, instances ...string) (supervisor.Snapshot, error) {
	return p.waitFor(ctx, "the stages did not report status", func(s supervisor.Snapshot) bool {
		for _, name := range instances {
			st := stageOf(s, name)
			if st.PID == 0 || st.Status == nil || st.Status.PID != st.PID {
				return false
			}
		}
		return true
	})
}

// waitFor polls the supervisor's snapshot until cond holds, for 30 s at
// most, failing early if a stage or the supervisor ends.
func (p *pipe) waitFor(ctx context.Context, what string, cond func(supervisor.Snapshot) bool) (supervisor.Snapshot, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := p.check(ctx); err != nil {
			return supervisor.Snapshot{}, err
		}
		if s := p.sup.Snapshot(); cond(s) {
			return s, nil
		}
		if time.Now().After(deadline) {
			return supervisor.Snapshot{}, fmt.Errorf("pipeline: %s within 30s", what)
		}
		sleepUntil(ctx, time.Now().Add(2*time.Millisecond))
	}
}

// check fails when ctx has ended, the supervisor has, or a stage process
// has ended (the supervisor would restart it: the run is spoilt).
func (p *pipe) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !p.ended {
		select {
		case p.runErr = <-p.done:
			p.ended = true
		default:
		}
	}
	if p.ended {
		return fmt.Errorf("pipeline: the supervisor ended early: %v", p.runErr)
	}
	snap := p.sup.Snapshot()
	for _, s := range p.stages {
		if st := stageOf(snap, s.instance); st.LastExit != "" {
			return fmt.Errorf("bench: %s ended early (%s); its log ends:\n%s", s.name, st.LastExit, p.tail(s, 8000))
		}
	}
	return nil
}

// tail returns the end of a stage's captured output, at most n bytes.
func (p *pipe) tail(s pipeStage, n int) string {
	out := strings.Join(p.sup.Logs(s.instance, 100), "\n") // a usage text is long, its error at the top
	if len(out) > n {
		out = out[len(out)-n:]
		if i := strings.IndexByte(out, '\n'); i >= 0 {
			out = out[i+1:]
		}
	}
	return strings.TrimSpace(out)
}

// status returns the last status report of each stage, in pipeline order.
func (p *pipe) status() []wire.Status {
	snap := p.sup.Snapshot()
	out := make([]wire.Status, len(p.stages))
	for i, s := range p.stages {
		if st := stageOf(snap, s.instance).Status; st != nil {
			out[i] = *st
		}
	}
	return out
}

// cpuTimes reads each stage process's CPU time, in pipeline order.
func (p *pipe) cpuTimes() ([]cpu, error) {
	ts := make([]cpu, len(p.stages))
	for i, s := range p.stages {
		t, err := cpuTime(s.pid)
		if err != nil {
			return nil, fmt.Errorf("pipeline: cpu time of %s: %w", s.name, err)
		}
		ts[i] = t
	}
	return ts, nil
}

// pause stops every stage's process group (SIGSTOP) and waits until they
// have stopped; resume continues them. The supervisor sees them go stale
// and come back; it does nothing else about it.
func (p *pipe) pause() error {
	for _, s := range p.stages {
		if err := pauseGroup(s.name, s.pid, func() error { return p.check(context.Background()) }); err != nil {
			return err
		}
	}
	return nil
}

func (p *pipe) resume() error {
	var errs []error
	for _, s := range p.stages {
		if err := resumeGroup(s.name, s.pid); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// logPath is the file the supervisor writes a stage's output to.
func (p *pipe) logPath(name string) string {
	for _, s := range p.stages {
		if s.name == name {
			return filepath.Join(p.sup.RunDir(), "logs", s.instance+".log")
		}
	}
	return ""
}

// close shuts the pipeline down the supervisor's way — the generator first,
// draining, then the others in reverse start order — and waits until every
// stage is reaped. It returns a note for each stage that did not exit 0 on
// SIGTERM in time. It may be called more than once.
func (p *pipe) close() []string {
	p.cancel()
	if !p.ended {
		p.runErr = <-p.done
		p.ended = true
	}
	snap := p.sup.Snapshot()
	var notes []string
	if p.runErr != nil {
		notes = append(notes, fmt.Sprintf("supervisor: %v", p.runErr))
	}
	for _, s := range p.stages {
		st := stageOf(snap, s.instance)
		if st.LastExit == "exit 0" || st.LastExit == "" && s.pid == 0 {
			continue
		}
		note := fmt.Sprintf("%s: %s", s.name, st.LastExit)
		for _, e := range snap.Events {
			if e.Stage == s.instance && e.Kind == "kill" {
				note += "; " + e.Text
			}
		}
		notes = append(notes, note)
	}
	return notes
}

// stageOf returns the named stage of snap (its zero value if there is none).
func stageOf(snap supervisor.Snapshot, instance string) supervisor.StageSnapshot {
	for _, s := range snap.Stages {
		if s.Name == instance {
			return s
		}
	}
	return supervisor.StageSnapshot{}
}
