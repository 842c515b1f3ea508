package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// HeadlessOptions drive RunHeadless.
type HeadlessOptions struct {
	For    time.Duration // stop after this long; 0 = no limit
	Frames int64         // stop once the database holds this many images; 0 = no limit
	Chaos  string        // chaos script (see ParseChaos); "" = none
	JSON   bool          // status lines as JSON objects instead of text
	Out    io.Writer     // status lines and the summary. Defaults to os.Stdout
}

// RegisterFlags defines --for, --frames, --chaos and --json on fs, with o's
// fields as their destinations. Out is left to the caller.
func (o *HeadlessOptions) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&o.For, "for", o.For, "headless: stop after this `DURATION` (0 = until Ctrl-C)")
	fs.Int64Var(&o.Frames, "frames", o.Frames, "headless: stop once the database holds `N` images (0 = no limit)")
	fs.StringVar(&o.Chaos, "chaos", o.Chaos, "headless: fault `SCRIPT`, e.g. \"5s kill extractor; 9s restart logger\": "+ChaosHelp)
	fs.BoolVar(&o.JSON, "json", o.JSON, "headless: status lines as JSON objects")
}

// Summary is what a headless run prints last, as one JSON object.
type Summary struct {
	OK              bool           `json:"ok"`
	Delivery        stage.Delivery `json:"delivery"`
	Seconds         float64        `json:"seconds"`
	StopReason      string         `json:"stop_reason"`
	FramesPublished uint64         `json:"frames_published"` // per generator stream, the highest seq published (reported, stored or retained away); summed
	FramesStored    int64          `json:"frames_stored"`    // images rows in the database after shutdown
	// The streams' accounting, summed (see SummaryStream): published =
	// stored_in_streams + retained_away + lost + in_flight_at_exit.
	StoredInStreams int64 `json:"stored_in_streams"` // frames_stored less the frames without stream/seq (seed peers)
	RetainedAway    int64 `json:"retained_away"`
	Lost            int64 `json:"lost"`
	InFlight        int64 `json:"in_flight_at_exit"`
	// Best-effort: the gaps the logger counted as dropped (open 10 s or
	// more), and the gaps between stored frames still open at exit.
	LoggerDropped  uint64             `json:"logger_dropped"`
	GapsOpenAtExit int64              `json:"gaps_open_at_exit"`
	Duplicates     int64              `json:"duplicates"`
	Restarts       map[string]int     `json:"restarts"`
	FPS            map[string]float64 `json:"fps"`         // average over the run
	PeakRSSMB      map[string]float64 `json:"peak_rss_mb"` // highest VmHWM of any process of the stage, MiB
	Remote         []SummaryRemote    `json:"remote,omitempty"`
	Kills          int                `json:"kills"`
	StatusErrors   uint64             `json:"status_errors"`
	ChaosErrors    []string           `json:"chaos_errors,omitempty"`
	ChaosSkipped   []string           `json:"chaos_skipped,omitempty"` // steps not applied: their stage had no process to act on
	// Resumed names the streams a previous run left with frames in flight
	// (its supervisor killed, say), continued by this one: "resumed N
	// frames of stream S (generator)". Their frames are in Streams.
	Resumed    []string        `json:"resumed,omitempty"`
	Streams    []SummaryStream `json:"streams"`
	Invariants []Invariant     `json:"invariants"`
	DB         string          `json:"db"`
	RunDir     string          `json:"run_dir"`
}

// SummaryStream is one generator stream in the summary. Its frames add up:
// Published = Stored + RetainedAway + Lost + InFlight.
type SummaryStream struct {
	StreamID  uint64 `json:"stream_id,string"`
	Generator string `json:"generator,omitempty"`
	// EarlierRun marks a stream found in the database that no generator
	// of this run published: an earlier run's.
	EarlierRun bool   `json:"earlier_run,omitempty"`
	Published  uint64 `json:"published"` // the highest seq published: reported, stored or retained away
	Stored     int64  `json:"stored"`    // distinct seqs in the database
	// RetainedAway counts the frames retention deleted: stored, not lost.
	RetainedAway int64 `json:"retained_away"`
	// Lost counts the seqs never stored and no longer resendable: gaps
	// between stored frames, and frames before the first or after the last
	// stored one, less those in flight.
	Lost int64 `json:"lost"`
	// InFlight counts the frames unacknowledged in the generator's window
	// when it stopped (reliable delivery): kept in its state file, resent by
	// its next run.
	InFlight   int64  `json:"in_flight_at_exit"`
	FirstSeq   uint64 `json:"first_seq"`
	LastSeq    uint64 `json:"last_seq"`
	Missing    int64  `json:"missing"` // seqs between first_seq and last_seq not stored
	Duplicates int64  `json:"duplicates"`
	Drained    bool   `json:"drained"` // its generator stopped on request (exit 0) with no frame unacknowledged
}

// SummaryRemote is a remote stage (observed, not controlled) seen during
// the run.
type SummaryRemote struct {
	Name string     `json:"name"`
	Kind stage.Kind `json:"kind"`
	FPS  float64    `json:"fps"` // average over the status lines it appeared in
}

// Invariant is one checked property of a run.
type Invariant struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// ErrInvariant is returned (wrapped) by RunHeadless when an invariant fails.
var ErrInvariant = errors.New("invariant failed")

// RunHeadless runs sup (calling its Run) without any terminal UI: a status
// line a second on o.Out, the chaos script's steps at their times, until
// o.For has passed, o.Frames frames are stored, or ctx is done. It then shuts
// the pipeline down, checks the invariants against the database and prints
// the Summary as one JSON line, the last thing written to o.Out. It returns
// an error wrapping ErrInvariant when an invariant fails, or Run's error.
func RunHeadless(ctx context.Context, sup *Supervisor, o HeadlessOptions) (Summary, error) {
	steps, err := ParseChaos(o.Chaos)
	if err != nil {
		return Summary{}, err
	}
	out := o.Out
	if out == nil {
		out = os.Stdout
	}
	h := &headless{sup: sup, o: o, out: out, fpsSum: map[string]float64{}, fpsN: map[string]int{},
		peakRSS: map[string]int64{}, remote: map[string]stage.Kind{},
		last: map[string]instanceCounts{}, gone: map[string]instanceCounts{}}

	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- sup.Run(runCtx) }()

	h.start = time.Now()
	var deadline <-chan time.Time
	if o.For > 0 {
		t := time.NewTimer(o.For)
		defer t.Stop()
		deadline = t.C
	}
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	stepTimer := time.NewTimer(time.Hour)
	defer stepTimer.Stop()
	armStep := func() {
		if len(steps) > 0 {
			stepTimer.Reset(max(0, time.Until(h.start.Add(steps[0].At))))
		}
	}
	armStep()
	reason := ""
	for reason == "" {
		select {
		case <-ctx.Done():
			reason = "interrupted"
		case <-deadline:
			reason = fmt.Sprintf("ran for %v", o.For)
		case err := <-runErr:
			return Summary{}, fmt.Errorf("supervisor stopped early: %w", err)
		case <-stepTimer.C:
			steps = h.chaosDue(steps)
			armStep()
		case <-poll.C:
			if h.waiting != "" { // the head step waits for its stage
				steps = h.chaosDue(steps)
				armStep()
			}
			snap := sup.Snapshot()
			h.printEvents(snap)
			h.remember(snap)
			if time.Since(h.lastLine) >= time.Second {
				h.statusLine(snap)
			}
			if o.Frames > 0 && snap.DB.Images >= o.Frames {
				reason = fmt.Sprintf("%d frames stored", snap.DB.Images)
			}
		}
	}
	h.printf("stopping: %s", reason)
	cancel()
	if err := <-runErr; err != nil {
		return Summary{}, err
	}
	snap := sup.Snapshot()
	h.printEvents(snap)
	h.remember(snap)
	sum := h.summary(snap, reason)
	b, _ := json.Marshal(sum)
	fmt.Fprintf(out, "%s\n", b)
	if !sum.OK {
		var bad []string
		for _, inv := range sum.Invariants {
			if !inv.OK {
				bad = append(bad, inv.Name+": "+inv.Detail)
			}
		}
		return sum, fmt.Errorf("%w: %s", ErrInvariant, strings.Join(bad, "; "))
	}
	return sum, nil
}

type headless struct {
	sup       *Supervisor
	o         HeadlessOptions
	out       io.Writer
	start     time.Time
	lastLine  time.Time
	lastEvent uint64
	fpsSum    map[string]float64
	fpsN      map[string]int
	peakRSS   map[string]int64      // bytes, by stage instance
	remote    map[string]stage.Kind // remote stages seen: name → kind
	// last holds the counts of the local instances in the latest snapshot,
	// gone those of instances since scaled away (summed when a name comes
	// back and goes again): the summary keeps every instance that ran.
	last, gone map[string]instanceCounts
	chaosErrs  []string
	// chaosSkipped are steps not applied, with why; waiting is why the
	// head step waits, "" when none does.
	chaosSkipped []string
	waiting      string
}

func (h *headless) elapsed() string { return fmt.Sprintf("%5.1fs", time.Since(h.start).Seconds()) }

// printf writes one human line (or, in JSON mode, a {"t","msg"} object).
func (h *headless) printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if h.o.JSON {
		b, _ := json.Marshal(map[string]any{"t": time.Since(h.start).Seconds(), "msg": msg})
		fmt.Fprintf(h.out, "%s\n", b)
		return
	}
	fmt.Fprintf(h.out, "[%s] %s\n", h.elapsed(), msg)
}

// chaosWait is how long a chaos step waits for its stage to have a process
// to act on: longer than the longest restart backoff (Config.RestartCap).
const chaosWait = 10 * time.Second

// chaosDue applies the steps that are due, in order, and returns the rest. A
// step that cannot apply yet (its stage is in backoff) holds the steps after
// it, up to chaosWait; then, or when it never can, it is skipped with the
// reason.
func (h *headless) chaosDue(steps []ChaosStep) []ChaosStep {
	for len(steps) > 0 && time.Since(h.start) >= steps[0].At {
		st := steps[0]
		why, final := st.Blocked(h.sup.Snapshot())
		if why != "" && !final && time.Since(h.start.Add(st.At)) < chaosWait {
			if h.waiting != why {
				h.printf("chaos %s: waiting: %s", st.Text, why)
				h.waiting = why
			}
			return steps
		}
		h.waiting = ""
		steps = steps[1:]
		if why != "" {
			h.chaosSkipped = append(h.chaosSkipped, st.Text+": "+why)
			h.printf("chaos %s: skipped: %s", st.Text, why)
			continue
		}
		h.chaos(st)
	}
	return steps
}

func (h *headless) chaos(st ChaosStep) {
	h.printEvents(h.sup.Snapshot()) // keep the output in time order
	if err := st.Apply(h.sup); err != nil {
		h.chaosErrs = append(h.chaosErrs, err.Error())
		h.printf("chaos %s: %v", st.Text, err)
		return
	}
	h.printf("chaos %s", st.Text)
}

func (h *headless) printEvents(snap Snapshot) {
	for _, e := range snap.Events {
		if e.Seq <= h.lastEvent {
			continue
		}
		h.lastEvent = e.Seq
		if h.o.JSON {
			b, _ := json.Marshal(map[string]any{"t": e.At.Sub(h.start).Seconds(), "event": e.Kind, "stage": e.Stage, "text": e.Text})
			fmt.Fprintf(h.out, "%s\n", b)
			continue
		}
		stage := e.Stage
		if stage == "" {
			stage = "pipeline"
		}
		fmt.Fprintf(h.out, "[%5.1fs] %s %s: %s\n", e.At.Sub(h.start).Seconds(), stage, e.Kind, e.Text)
	}
}

// statusLine prints one line for the whole pipeline and samples fps.
func (h *headless) statusLine(snap Snapshot) {
	h.lastLine = time.Now()
	type stageJSON struct {
		Name     string        `json:"name"`
		State    State         `json:"state"`
		PID      int           `json:"pid,omitempty"`
		FPS      float64       `json:"fps"`
		Queue    int           `json:"queue"`
		Dropped  uint64        `json:"dropped"`
		Errors   uint64        `json:"errors"`
		Restarts int           `json:"restarts"`
		Faults   []stage.Fault `json:"faults,omitempty"`
		// Reported is the state the stage reports when it says more than
		// "running" (e.g. unacked), and Reason why.
		Reported string `json:"reported,omitempty"`
		Reason   string `json:"reason,omitempty"`
		Seed     uint64 `json:"seed_frames,omitempty"` // frames received without our trailer
	}
	var parts []string
	var js []stageJSON
	for _, st := range snap.Stages {
		j := stageJSON{Name: st.Name, State: st.State, PID: st.PID, Restarts: st.Restarts, Faults: st.Faults}
		if st.Status != nil && (st.State == StateRunning || st.State == StateRemote) {
			j.FPS, j.Queue = st.Status.FPS, st.Status.QueueDepth
			if st.Status.State != wire.StateRunning {
				j.Reported, j.Reason = st.Status.State, st.Status.StateReason
			}
			j.Seed = st.Status.SeedFrames
		}
		if st.Status != nil {
			j.Dropped, j.Errors = st.Status.Dropped, st.Status.Errors
		}
		h.fpsSum[st.Name] += j.FPS
		h.fpsN[st.Name]++
		if st.PID > 0 && st.State != StateRemote {
			if rss := peakRSS(st.PID); rss > h.peakRSS[st.Name] {
				h.peakRSS[st.Name] = rss
			}
		}
		if st.State == StateRemote {
			h.remote[st.Name] = st.Kind
		}
		js = append(js, j)
		p := fmt.Sprintf("%s %s %.1ffps q%d d%d e%d r%d", st.Name, st.State, j.FPS, j.Queue, j.Dropped, j.Errors, st.Restarts)
		if len(st.Faults) > 0 {
			p += fmt.Sprintf(" %v", st.Faults)
		}
		if j.Seed > 0 {
			p += fmt.Sprintf(" seed%d", j.Seed) // frames that came through a seed stage
		}
		if j.Reported != "" {
			p += " " + j.Reported
			if j.Reason != "" {
				p += " (" + j.Reason + ")"
			}
		}
		parts = append(parts, p)
	}
	dbText := fmt.Sprintf("db %d images %d keypoints", snap.DB.Images, snap.DB.Keypoints)
	if snap.DB.Err != "" {
		dbText = "db: " + snap.DB.Err
	}
	if h.o.JSON {
		b, _ := json.Marshal(map[string]any{"t": time.Since(h.start).Seconds(), "stages": js, "db": snap.DB})
		fmt.Fprintf(h.out, "%s\n", b)
		return
	}
	fmt.Fprintf(h.out, "[%s] %s | %s\n", h.elapsed(), strings.Join(parts, " | "), dbText)
}

// summary reads the database (after shutdown) and checks the invariants.
func (h *headless) summary(snap Snapshot, reason string) Summary {
	sum := Summary{
		Delivery:     snap.Delivery,
		Seconds:      time.Since(h.start).Seconds(),
		StopReason:   reason,
		Restarts:     map[string]int{},
		FPS:          map[string]float64{},
		PeakRSSMB:    map[string]float64{},
		StatusErrors: snap.StatusErrors,
		ChaosErrors:  h.chaosErrs,
		ChaosSkipped: h.chaosSkipped,
		DB:           h.sup.cfg.DB,
		RunDir:       snap.RunDir,
		Streams:      []SummaryStream{},
		Invariants:   []Invariant{},
		Resumed:      resumedText(h.sup.Resumed()),
	}
	h.summarizeStages(&sum, snap)
	fin, integrity, dbErr := readFinalDB(h.sup.cfg.DB)
	tally := summarizeStreams(&sum, snap.Streams, fin, snap.Delivery == stage.Reliable)
	if dbErr != nil {
		sum.check("database_readable", false, "%v", dbErr)
	}
	sum.FramesStored = sum.StoredInStreams
	if n := finalImages(h.sup.cfg.DB); n >= 0 {
		sum.FramesStored = n // includes frames without stream/seq (seed peers)
	}
	sum.check("progress", sum.FramesStored > 0, "%d frames stored", sum.FramesStored)
	tally.checkAccounting(&sum)
	if snap.Delivery == stage.Reliable {
		tally.checkReliable(&sum)
	} else {
		for _, st := range snap.Stages {
			if st.Kind == stage.Logger {
				sum.LoggerDropped += st.TotalDropped
			}
		}
		tally.checkBestEffort(&sum)
	}
	sum.check("integrity_check", integrity == "ok" || integrity == "no database", "%s", integrity)
	left := h.sup.Leftovers()
	sum.check("no_orphans", len(left) == 0, "process groups still alive: %v", left)
	sum.OK = !slices.ContainsFunc(sum.Invariants, func(i Invariant) bool { return !i.OK })
	return sum
}

// check records invariant name.
func (s *Summary) check(name string, ok bool, format string, args ...any) {
	s.Invariants = append(s.Invariants, Invariant{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

// instanceCounts are an instance's operator-visible counts.
type instanceCounts struct{ restarts, kills int }

// remember notes the counts of snap's local instances, and banks those of
// instances no longer in it (scaled away).
func (h *headless) remember(snap Snapshot) {
	now := map[string]bool{}
	for _, st := range snap.Stages {
		if st.State != StateRemote {
			now[st.Name] = true
			h.last[st.Name] = instanceCounts{st.Restarts, st.Kills}
		}
	}
	for name, c := range h.last {
		if !now[name] {
			g := h.gone[name]
			h.gone[name] = instanceCounts{g.restarts + c.restarts, g.kills + c.kills}
			delete(h.last, name)
		}
	}
}

// summarizeStages fills the per-stage figures: restarts, kills, peak
// memory, average fps, and the remote stages seen.
func (h *headless) summarizeStages(sum *Summary, snap Snapshot) {
	avg := func(name string) float64 {
		if n := h.fpsN[name]; n > 0 {
			return float64(int(h.fpsSum[name]/float64(n)*100+0.5)) / 100
		}
		return 0
	}
	for _, st := range snap.Stages {
		if st.State == StateRemote {
			h.remote[st.Name] = st.Kind
			continue
		}
		sum.Restarts[st.Name] = st.Restarts
		sum.Kills += st.Kills
		sum.PeakRSSMB[st.Name] = float64(h.peakRSS[st.Name]*10>>20) / 10
		sum.FPS[st.Name] = avg(st.Name)
	}
	for name, g := range h.gone { // scaled away: with what they did while they ran
		sum.Restarts[name] += g.restarts
		sum.Kills += g.kills
		sum.PeakRSSMB[name] = float64(h.peakRSS[name]*10>>20) / 10
		sum.FPS[name] = avg(name)
	}
	for _, name := range slices.Sorted(maps.Keys(h.remote)) {
		sum.Remote = append(sum.Remote, SummaryRemote{Name: name, Kind: h.remote[name], FPS: avg(name)})
	}
}

// finalDB is what the database holds after shutdown, per stream.
type finalDB struct {
	stored   []db.StreamStats
	retained []db.RetainedStream
}

// readFinalDB reads the per-stream statistics and runs the integrity check.
func readFinalDB(path string) (finalDB, string, error) {
	var f finalDB
	if _, err := os.Stat(path); err != nil {
		return f, "no database", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := db.OpenReadOnly(ctx, path)
	if err != nil {
		return f, "not checked", err
	}
	defer d.Close()
	if f.stored, err = d.Streams(ctx); err != nil {
		return f, "not checked", err
	}
	if f.retained, err = d.Retained(ctx); err != nil {
		return f, "not checked", err
	}
	ok, problems, err := d.IntegrityCheck(ctx)
	switch {
	case err != nil:
		return f, "not checked: " + err.Error(), nil
	case !ok:
		return f, fmt.Sprintf("%d problems, first: image %d: %s", len(problems), problems[0].ImageID, problems[0].What), nil
	}
	return f, "ok", nil
}

// finalImages returns the images rows, or -1 if they cannot be read.
func finalImages(path string) int64 {
	if _, err := os.Stat(path); err != nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := db.OpenReadOnly(ctx, path)
	if err != nil {
		return -1
	}
	defer d.Close()
	c, err := d.Counts(ctx)
	if err != nil {
		return -1
	}
	return c.Images
}

// peakRSS reads a process's peak resident set size (VmHWM) in bytes, or 0
// when it is gone.
func peakRSS(pid int) int64 {
	p, err := ReadProcStat(pid)
	if err != nil {
		return 0
	}
	return p.PeakRSS
}
