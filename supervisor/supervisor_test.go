package supervisor

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
)

func startEvents(snap Snapshot) []string {
	var out []string
	for _, e := range snap.Events {
		if e.Kind == "start" && strings.HasPrefix(e.Text, "started pid") {
			out = append(out, e.Stage)
		}
	}
	return out
}

func TestStartStopNoOrphans(t *testing.T) {
	r := startFake(t, func(c *Config) { c.ExtraArgs = map[stage.Kind][]string{stage.Logger: {"--fake-chatty", "50"}} })
	snap := r.waitAllRunning(t, 15*time.Second)

	if got, want := names(snap), []string{"generator", "extractor-0", "logger"}; !slices.Equal(got, want) {
		t.Fatalf("stages = %v; want %v", got, want)
	}
	if got, want := startEvents(snap), []string{"generator", "extractor-0", "logger"}; !slices.Equal(got, want) {
		t.Errorf("start order = %v; want %v", got, want)
	}
	var pids []int
	for _, st := range snap.Stages {
		if st.PID == 0 || st.Status == nil || st.Status.PID != st.PID || st.StartedAt.IsZero() {
			t.Errorf("%s: pid %d, status %+v, started %v; want a live reporting process", st.Name, st.PID, st.Status, st.StartedAt)
		}
		if pgid, err := syscall.Getpgid(st.PID); err != nil || pgid != st.PID {
			t.Errorf("%s: pgid = %d, %v; want its own group %d", st.Name, pgid, err, st.PID)
		}
		pids = append(pids, st.PID)
	}
	if x, _ := stageOf(snap, "extractor-0"); x.Shard != "" {
		t.Errorf("extractor-0 shard = %q; want none (reliable replicas share the work pool)", x.Shard)
	}
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(snap.Stages[1].PID) + "/cmdline")
	args := strings.Split(string(cmdline), "\x00")
	if slices.Contains(args, "--shard") {
		t.Errorf("extractor command line %q has --shard under reliable delivery", args)
	}
	for _, want := range []string{"stage", "extractor", "--work", "--instance", "extractor-0", "--status"} {
		if !slices.Contains(args, want) {
			t.Errorf("extractor command line %q lacks %q", args, want)
		}
	}
	// A chatty child does not block, and its ring stays bounded.
	waitUntil(t, 10*time.Second, "the logger's ring to fill", func() bool { return len(r.sup.Logs("logger", 0)) == logRingLines })
	if l := r.sup.Logs("generator", 3); len(l) != 3 || !strings.Contains(strings.Join(l, "\n"), "tick") {
		t.Errorf("Logs(generator, 3) = %q; want 3 lines with ticks", l)
	}
	if b, err := os.ReadFile(r.sup.RunDir() + "/logs/generator.log"); err != nil || !strings.Contains(string(b), "fake generator") {
		t.Errorf("generator.log: %v; want the stage's output", err)
	}
	r.waitState(t, "logger", StateRunning, 5*time.Second) // still reporting while chatty

	r.stop(t)
	snap = r.sup.Snapshot()
	for _, st := range snap.Stages {
		if st.State != StateStopped || st.PID != 0 || st.LastExit != "exit 0" {
			t.Errorf("after shutdown %s: state %s pid %d last exit %q; want stopped, 0, exit 0", st.Name, st.State, st.PID, st.LastExit)
		}
	}
	for _, p := range pids {
		if procAlive(p) {
			t.Errorf("pid %d still alive after Run returned", p)
		}
	}
	// Shutdown order: generator first, then the rest in reverse start order.
	var stops []string
	for _, e := range snap.Events {
		if e.Kind == "exit" {
			stops = append(stops, e.Stage)
		}
	}
	if want := []string{"generator", "logger", "extractor-0"}; !slices.Equal(stops, want) {
		t.Errorf("exit order = %v; want %v", stops, want)
	}
}

func names(snap Snapshot) []string {
	var out []string
	for _, st := range snap.Stages {
		out = append(out, st.Name)
	}
	return out
}

func TestKillRestartsWithBackoff(t *testing.T) {
	r := startFake(t, nil)
	snap := r.waitAllRunning(t, 15*time.Second)
	old, _ := stageOf(snap, "extractor-0")
	if err := r.sup.Kill("extractor-0"); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	var st StageSnapshot
	waitUntil(t, 10*time.Second, "extractor-0 restarted and running", func() bool {
		st, _ = stageOf(r.sup.Snapshot(), "extractor-0")
		return st.State == StateRunning && st.PID != old.PID && st.PID != 0
	})
	if st.Restarts != 1 || st.Kills != 1 || st.LastExit != "signal: killed" {
		t.Errorf("after kill: restarts %d kills %d last exit %q; want 1, 1, signal: killed", st.Restarts, st.Kills, st.LastExit)
	}
	if procAlive(old.PID) {
		t.Errorf("killed pid %d still alive", old.PID)
	}
	var kinds []stage.EventKind
	for _, e := range r.sup.Snapshot().Events {
		if e.Stage == "extractor-0" {
			kinds = append(kinds, e.Kind)
		}
	}
	if i := slices.Index(kinds, "kill"); i < 0 || !slices.Equal(kinds[i:i+4], []stage.EventKind{"kill", "exit", "backoff", "start"}) {
		t.Errorf("extractor-0 events = %v; want kill, exit, backoff, start", kinds)
	}
	// The other stages were not touched.
	for _, name := range []string{"generator", "logger"} {
		now, _ := stageOf(r.sup.Snapshot(), name)
		was, _ := stageOf(snap, name)
		if now.PID != was.PID || now.Restarts != 0 {
			t.Errorf("%s: pid %d→%d restarts %d; want untouched", name, was.PID, now.PID, now.Restarts)
		}
	}
	// Errors for impossible commands.
	if err := r.sup.Kill("nope"); !errors.Is(err, ErrUnknownStage) {
		t.Errorf("Kill(nope) = %v; want ErrUnknownStage", err)
	}
	if err := r.sup.Start("logger"); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("Start(running logger) = %v; want ErrAlreadyRunning", err)
	}
	if err := r.sup.Resume("logger"); !errors.Is(err, ErrNotPaused) {
		t.Errorf("Resume(logger) = %v; want ErrNotPaused", err)
	}
	if err := r.sup.Inject("generator", stage.FaultDBFull); !errors.Is(err, ErrWrongKind) {
		t.Errorf("Inject(generator, dbfull) = %v; want ErrWrongKind", err)
	}
}

func TestBackoffGrowsThenFails(t *testing.T) {
	r := startFake(t, func(c *Config) {
		c.ExtraArgs = map[stage.Kind][]string{stage.Extractor: {"--fake-exit-after", "100ms"}}
		c.StartWait = 500 * time.Millisecond
		c.MinUptime = 10 * time.Second // every exit is quick, however slowly a loaded machine starts the fake
	})
	st := r.waitState(t, "extractor-0", StateFailed, 20*time.Second)
	if st.Restarts != 4 || st.LastExit != "exit 1" {
		t.Errorf("failed extractor: restarts %d last exit %q; want 4 restarts (5 quick exits), exit 1", st.Restarts, st.LastExit)
	}
	var delays []time.Duration
	for _, e := range r.sup.Snapshot().Events {
		if e.Stage == "extractor-0" && e.Kind == "backoff" {
			d, err := time.ParseDuration(strings.Fields(e.Text)[2])
			if err != nil {
				t.Fatalf("backoff event %q: %v", e.Text, err)
			}
			delays = append(delays, d)
		}
	}
	base := 50 * time.Millisecond
	for i, d := range delays {
		want := min(base<<i, 400*time.Millisecond)
		if d < want*8/10-time.Millisecond || d > min(want*12/10+time.Millisecond, 400*time.Millisecond) {
			t.Errorf("backoff %d = %v; want %v ±20%% (cap 400ms)", i+1, d, want)
		}
	}
	if len(delays) != 4 {
		t.Errorf("backoff events = %v; want 4", delays)
	}
	// An operator's start revives it; its failures are forgotten: it fails
	// again only after five more quick exits. (Not "running" in between:
	// a fake that lives 100 ms may exit before its first status on a
	// loaded machine.)
	if err := r.sup.Start("extractor-0"); err != nil {
		t.Fatalf("Start(failed): %v", err)
	}
	waitUntil(t, 5*time.Second, "extractor-0 to be revived", func() bool {
		st, _ := stageOf(r.sup.Snapshot(), "extractor-0")
		return st.State != StateFailed
	})
	st = r.waitState(t, "extractor-0", StateFailed, 20*time.Second)
	if st.Restarts != 9 {
		t.Errorf("failed again after %d restarts in all; want 9: the revived stage starts five more times", st.Restarts)
	}
}

func TestCrashLoopFaultFailsThenClears(t *testing.T) {
	r := startFake(t, nil)
	r.waitAllRunning(t, 15*time.Second)
	if err := r.sup.Inject("logger", stage.FaultCrashLoop); err != nil {
		t.Fatalf("Inject crashloop: %v", err)
	}
	st := r.waitState(t, "logger", StateFailed, 20*time.Second)
	if st.LastExit != "exit 3" || !slices.Contains(st.Faults, stage.FaultCrashLoop) {
		t.Errorf("crash-looping logger: last exit %q faults %v; want exit 3, [crashloop]", st.LastExit, st.Faults)
	}
	if err := r.sup.Inject("logger", stage.FaultCrashLoop); err != nil { // toggle off: revives it
		t.Fatalf("clear crashloop: %v", err)
	}
	st = r.waitState(t, "logger", StateRunning, 10*time.Second)
	if len(st.Faults) != 0 {
		t.Errorf("faults after clearing = %v; want none", st.Faults)
	}
}

func TestPauseShowsStaleThenRecovers(t *testing.T) {
	r := startFake(t, nil)
	r.waitAllRunning(t, 15*time.Second)
	if err := r.sup.Pause("logger"); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	st := r.waitState(t, "logger", StateStale, 5*time.Second)
	if !st.Paused || procState(st.PID) != 'T' {
		t.Errorf("paused logger: Paused %v, /proc state %c; want true, T", st.Paused, procState(st.PID))
	}
	said := false
	for _, e := range r.sup.Snapshot().Events {
		said = said || (e.Stage == "logger" && e.Kind == stage.EventStale && strings.Contains(e.Text, "paused"))
	}
	if !said {
		t.Errorf("no stale event saying the logger is paused: %v", r.sup.Snapshot().Events)
	}
	if err := r.sup.Pause("logger"); !errors.Is(err, ErrAlreadyPaused) {
		t.Errorf("second Pause = %v; want ErrAlreadyPaused", err)
	}
	if err := r.sup.Resume("logger"); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	st2 := r.waitState(t, "logger", StateRunning, 5*time.Second)
	if st2.PID != st.PID || st2.Paused || st2.Restarts != 0 {
		t.Errorf("resumed logger: pid %d→%d paused %v restarts %d; want same process, not paused", st.PID, st2.PID, st2.Paused, st2.Restarts)
	}

	// silent: stale while silent, running again when toggled back.
	if err := r.sup.Inject("generator", stage.FaultSilent); err != nil {
		t.Fatalf("Inject silent: %v", err)
	}
	r.waitState(t, "generator", StateStale, 5*time.Second)
	if err := r.sup.Inject("generator", stage.FaultSilent); err != nil {
		t.Fatalf("clear silent: %v", err)
	}
	r.waitState(t, "generator", StateRunning, 5*time.Second)

	// slow: a SIGSTOP/SIGCONT duty cycle; cleared, the process runs on.
	x, _ := stageOf(r.sup.Snapshot(), "extractor-0")
	if err := r.sup.Inject("extractor-0", stage.FaultSlow); err != nil {
		t.Fatalf("Inject slow: %v", err)
	}
	waitUntil(t, 5*time.Second, "the slowed extractor to be seen stopped", func() bool { return procState(x.PID) == 'T' })
	if err := r.sup.Resume("extractor-0"); err != nil {
		t.Fatalf("Resume slowed: %v", err)
	}
	for range 10 {
		if s := procState(x.PID); s == 'T' {
			t.Fatalf("extractor /proc state %c after clearing slow; want running", s)
		}
		time.Sleep(15 * time.Millisecond)
	}

	// dbfull: the logger toggles on SIGUSR2 (the fake reports "blocked").
	if err := r.sup.Inject("logger", stage.FaultDBFull); err != nil {
		t.Fatalf("Inject dbfull: %v", err)
	}
	waitUntil(t, 5*time.Second, "logger to report blocked", func() bool {
		st, _ := stageOf(r.sup.Snapshot(), "logger")
		return st.Status != nil && st.Status.State == "blocked"
	})
	// A restart ends process-bound faults.
	if err := r.sup.Restart("logger"); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	waitUntil(t, 10*time.Second, "logger restarted", func() bool {
		st, _ := stageOf(r.sup.Snapshot(), "logger")
		return st.State == StateRunning && st.PID != st2.PID && st.Status.State == "running" && len(st.Faults) == 0
	})
}

func TestStopIsNotUndone(t *testing.T) {
	r := startFake(t, func(c *Config) {
		c.StopGrace = 1500 * time.Millisecond
		c.ExtraArgs = map[stage.Kind][]string{stage.Generator: {"--fake-ignore-term"}}
	})
	r.waitAllRunning(t, 15*time.Second)
	if err := r.sup.Stop("extractor-0"); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	st := r.waitState(t, "extractor-0", StateStopped, 5*time.Second)
	if st.LastExit != "exit 0" {
		t.Errorf("stopped extractor: last exit %q; want exit 0", st.LastExit)
	}
	if err := r.sup.Stop("extractor-0"); !errors.Is(err, ErrNotAlive) {
		t.Errorf("second Stop = %v; want ErrNotAlive", err)
	}
	if err := r.sup.Kill("extractor-0"); !errors.Is(err, ErrNotAlive) {
		t.Errorf("Kill(stopped) = %v; want ErrNotAlive", err)
	}
	deadline := time.Now().Add(700 * time.Millisecond) // several backoff periods
	for time.Now().Before(deadline) {
		if st, _ := stageOf(r.sup.Snapshot(), "extractor-0"); st.State != StateStopped {
			t.Fatalf("stopped extractor became %s", st.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.sup.Start("extractor-0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	r.waitState(t, "extractor-0", StateRunning, 5*time.Second)

	// A stage that ignores SIGTERM is SIGKILLed after the grace period.
	if err := r.sup.Stop("generator"); err != nil {
		t.Fatalf("Stop(generator): %v", err)
	}
	st = r.waitState(t, "generator", StateStopped, 5*time.Second)
	if st.LastExit != "signal: killed" {
		t.Errorf("generator ignoring SIGTERM: last exit %q; want signal: killed", st.LastExit)
	}
}

func TestReorderAndRestartAll(t *testing.T) {
	r := startFake(t, nil)
	r.waitAllRunning(t, 15*time.Second)
	for range 2 {
		if err := r.sup.MoveUp("logger"); err != nil {
			t.Fatalf("MoveUp: %v", err)
		}
	}
	if err := r.sup.MoveUp("logger"); !errors.Is(err, ErrEdge) {
		t.Errorf("MoveUp(first) = %v; want ErrEdge", err)
	}
	if err := r.sup.MoveDown("generator"); err != nil {
		t.Fatalf("MoveDown: %v", err)
	}
	want := []string{"logger", "extractor-0", "generator"}
	if got := names(r.sup.Snapshot()); !slices.Equal(got, want) {
		t.Fatalf("order = %v; want %v", got, want)
	}
	before := r.sup.Snapshot().Events[len(r.sup.Snapshot().Events)-1].Seq
	if err := r.sup.RestartAll(); err != nil {
		t.Fatalf("RestartAll: %v", err)
	}
	var snap Snapshot
	waitUntil(t, 20*time.Second, "three new starts", func() bool {
		snap = r.sup.Snapshot()
		n := 0
		for _, e := range snap.Events {
			if e.Seq > before && e.Kind == "start" && strings.HasPrefix(e.Text, "started pid") {
				n++
			}
		}
		return n == 3
	})
	var stops, starts []string
	for _, e := range snap.Events {
		if e.Seq <= before {
			continue
		}
		switch {
		case e.Kind == "exit":
			stops = append(stops, e.Stage)
		case e.Kind == "start" && strings.HasPrefix(e.Text, "started pid"):
			starts = append(starts, e.Stage)
		}
	}
	if !slices.Equal(starts, want) {
		t.Errorf("restart-all start order = %v; want %v", starts, want)
	}
	if rev := slices.Clone(want); !slices.Equal(stops, func() []string { slices.Reverse(rev); return rev }()) {
		t.Errorf("restart-all stop order = %v; want reverse of %v", stops, want)
	}
	r.waitAllRunning(t, 10*time.Second)
}

// TestScaleExtractors: under reliable delivery the replicas share the work
// pool, so scaling starts or stops only the replicas added or removed.
func TestScaleExtractors(t *testing.T) {
	r := startFake(t, nil)
	first, _ := stageOf(r.waitAllRunning(t, 15*time.Second), "extractor-0")
	snap := scaleUpToThree(t, r)
	for _, name := range []string{"extractor-0", "extractor-1", "extractor-2"} {
		st, _ := stageOf(snap, name)
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(st.PID) + "/cmdline")
		if st.Shard != "" || strings.Contains(string(cmdline), "--shard") || !strings.Contains(string(cmdline), "--work") {
			t.Errorf("%s shard %q, runs %q; want --work and no shard", name, st.Shard, cmdline)
		}
	}
	if st, _ := stageOf(snap, "extractor-0"); st.PID != first.PID {
		t.Errorf("extractor-0 pid %d after scale up; want %d, not restarted", st.PID, first.PID)
	}
	old, _ := stageOf(snap, "extractor-2")
	if err := r.sup.Scale(-2); err != nil {
		t.Fatalf("Scale(-2): %v", err)
	}
	waitUntil(t, 20*time.Second, "one extractor running", func() bool {
		snap = r.sup.Snapshot()
		st, _ := stageOf(snap, "extractor-0")
		return len(snap.Stages) == 3 && st.State == StateRunning
	})
	if st, _ := stageOf(snap, "extractor-0"); st.PID != first.PID {
		t.Errorf("extractor-0 pid %d after scale down; want %d, not restarted", st.PID, first.PID)
	}
	if procAlive(old.PID) {
		t.Errorf("scaled-away extractor-2 pid %d still alive", old.PID)
	}
}

// scaleUpToThree adds two extractors and waits for all five stages to run,
// the new replicas after extractor-0.
func scaleUpToThree(t *testing.T, r *running) Snapshot {
	t.Helper()
	if err := r.sup.Scale(+2); err != nil {
		t.Fatalf("Scale(+2): %v", err)
	}
	var snap Snapshot
	waitUntil(t, 20*time.Second, "three extractors running", func() bool {
		snap = r.sup.Snapshot()
		return len(snap.Stages) == 5 && !slices.ContainsFunc(snap.Stages, func(s StageSnapshot) bool { return s.State != StateRunning })
	})
	if got, want := names(snap), []string{"generator", "extractor-0", "extractor-1", "extractor-2", "logger"}; !slices.Equal(got, want) {
		t.Errorf("after scale up: %v; want %v", got, want)
	}
	return snap
}

// TestScaleExtractorsBestEffort: best-effort replicas each take --shard
// i/n, so scaling restarts every replica with the new count.
func TestScaleExtractorsBestEffort(t *testing.T) {
	r := startFake(t, func(c *Config) { c.Delivery = stage.BestEffort })
	r.waitAllRunning(t, 15*time.Second)
	snap := scaleUpToThree(t, r)
	for i, name := range []string{"extractor-0", "extractor-1", "extractor-2"} {
		st, _ := stageOf(snap, name)
		if want := strconv.Itoa(i) + "/3"; st.Shard != want {
			t.Errorf("%s shard %q; want %s", name, st.Shard, want)
		}
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(st.PID) + "/cmdline")
		if !strings.Contains(string(cmdline), "--shard\x00"+strconv.Itoa(i)+"/3") {
			t.Errorf("%s runs %q; want --shard %d/3", name, cmdline, i)
		}
	}
	if snap.Replicas != 3 {
		t.Errorf("Replicas = %d; want 3", snap.Replicas)
	}
	old, _ := stageOf(snap, "extractor-2")
	if err := r.sup.Scale(-2); err != nil {
		t.Fatalf("Scale(-2): %v", err)
	}
	waitUntil(t, 20*time.Second, "one extractor 0/1 running", func() bool {
		snap = r.sup.Snapshot()
		st, _ := stageOf(snap, "extractor-0")
		return len(snap.Stages) == 3 && st.Shard == "0/1" && st.State == StateRunning
	})
	if procAlive(old.PID) {
		t.Errorf("scaled-away extractor-2 pid %d still alive", old.PID)
	}
	if err := r.sup.Scale(-1); !errors.Is(err, ErrScale) {
		t.Errorf("Scale below 1 = %v; want ErrScale", err)
	}
}

func TestStatusErrorsAndRemoteStages(t *testing.T) {
	r := startFake(t, nil)
	r.waitAllRunning(t, 15*time.Second)
	zctx, err := bus.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Close()
	pub, err := zctx.Pub(">"+strings.TrimPrefix(r.sup.Config().StatusBind, "@"), bus.Options{Linger: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	waitUntil(t, 10*time.Second, "invalid status counted and a remote stage seen", func() bool {
		_ = pub.Send([]byte("{not json"))
		_ = pub.Send([]byte(`{"stage":"extractor"}`)) // no instance
		_ = pub.Send([]byte(`{"stage":"extractor","instance":"far-x","pid":1,"state":"running","fps":3}`))
		snap := r.sup.Snapshot()
		st, ok := stageOf(snap, "far-x")
		return snap.StatusErrors >= 2 && ok && st.State == StateRemote && st.Status.FPS == 3
	})
	if err := r.sup.Kill("far-x"); !errors.Is(err, ErrRemote) {
		t.Errorf("Kill(remote) = %v; want ErrRemote", err)
	}
	// A status claiming a local name from another pid is ignored.
	_ = pub.Send([]byte(`{"stage":"logger","instance":"logger","pid":1,"state":"running","fps":99}`))
	for range 10 {
		if st, _ := stageOf(r.sup.Snapshot(), "logger"); st.Status != nil && st.Status.FPS == 99 {
			t.Fatalf("logger status taken from a foreign pid")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := slices.IndexFunc(r.sup.Snapshot().Events, func(e Event) bool { return e.Kind == "status-error" }); n < 0 {
		t.Errorf("no status-error event")
	}
}

func TestInjectCorruptAndTruncate(t *testing.T) {
	r := startFake(t, nil)
	r.waitAllRunning(t, 15*time.Second)
	for _, name := range []string{"generator", "extractor-0", "logger"} {
		for _, f := range []stage.Fault{stage.FaultCorrupt, stage.FaultTruncate} {
			if err := r.sup.Inject(name, f); err != nil {
				t.Fatalf("Inject(%s, %s): %v", name, f, err)
			}
		}
	}
	waitUntil(t, 10*time.Second, "each stage to count bad input", func() bool {
		for _, st := range r.sup.Snapshot().Stages {
			if st.Status == nil || st.Status.Errors < 10 {
				return false
			}
		}
		return true
	})
	for _, st := range r.sup.Snapshot().Stages {
		if st.Status.FramesIn != 0 {
			t.Errorf("%s decoded %d injected messages as valid; want 0", st.Name, st.Status.FramesIn)
		}
		if !slices.Equal(st.Faults, []stage.Fault{stage.FaultCorrupt, stage.FaultTruncate}) {
			t.Errorf("%s faults = %v; want corrupt, truncate", st.Name, st.Faults)
		}
	}
	for _, name := range []string{"generator", "extractor-0", "logger"} {
		if err := r.sup.Clear(name, stage.FaultCorrupt); err != nil {
			t.Fatal(err)
		}
		if err := r.sup.Inject(name, stage.FaultTruncate); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // let injections in flight land
	e1 := r.sup.Snapshot().Stages[1].Status.Errors
	time.Sleep(500 * time.Millisecond)
	if e2 := r.sup.Snapshot().Stages[1].Status.Errors; e2 != e1 {
		t.Errorf("errors grew %d→%d after clearing both faults", e1, e2)
	}
}

// TestSupervisorKilledLeavesNoChild SIGKILLs a supervisor process and checks
// that Pdeathsig took its children with it.
func TestSupervisorKilledLeavesNoChild(t *testing.T) {
	dir := shortTempDir(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SV_HELPER=supervisor", "SV_RUNDIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "PIDS ") || strings.HasPrefix(sc.Text(), "ERR") {
				lines <- sc.Text()
				return
			}
		}
		close(lines)
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(20 * time.Second):
		t.Fatal("supervisor helper did not report its stages")
	}
	var pids []int
	for _, f := range strings.Fields(strings.TrimPrefix(line, "PIDS ")) {
		p, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("helper said %q", line)
		}
		pids = append(pids, p)
	}
	for _, p := range pids {
		if !procAlive(p) {
			t.Fatalf("stage pid %d not alive before the kill", p)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitUntil(t, 5*time.Second, "every stage of the killed supervisor to die", func() bool {
		for _, p := range pids {
			if procAlive(p) || groupAlive(p) && procAlive(p) {
				return false
			}
		}
		return true
	})
}

func TestCommandsBeforeAndAfterRun(t *testing.T) {
	cfg := fakeConfig(shortTempDir(t))
	sup, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Kill("logger"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Kill before Run = %v; want ErrNotRunning", err)
	}
	if err := sup.MoveUp("logger"); err != nil { // reordering before Run is fine
		t.Errorf("MoveUp before Run = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sup.Run(ctx); err != nil {
		t.Fatalf("Run(cancelled) = %v", err)
	}
	if err := sup.Restart("logger"); !errors.Is(err, ErrClosed) {
		t.Errorf("Restart after Run = %v; want ErrClosed", err)
	}
	if err := sup.Run(context.Background()); err == nil {
		t.Errorf("second Run = nil; want an error")
	}
	if _, err := New(Config{Delivery: "sometimes"}, nil); err == nil {
		t.Errorf("New(bad delivery) = nil error")
	}
}
