package supervisor

import (
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// A kill and a restart by the operator count as operator restarts; an exit
// of the stage's own counts as a crash. The frames of every process add up,
// and each process is in the stage's history with its exit and cause.
func TestRestartCausesAndRunTotals(t *testing.T) {
	r := startFake(t, nil)
	r.waitAllRunning(t, 15*time.Second)
	first, _ := stageOf(r.sup.Snapshot(), "generator")
	waitUntil(t, 10*time.Second, "generator frames out", func() bool {
		st, _ := stageOf(r.sup.Snapshot(), "generator")
		return st.FramesOut > 0
	})
	if err := r.sup.Kill("generator"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "generator back after kill", func() bool {
		st, _ := stageOf(r.sup.Snapshot(), "generator")
		return st.State == StateRunning && st.PID != first.PID && st.Status != nil
	})
	if err := r.sup.Restart("generator"); err != nil {
		t.Fatal(err)
	}
	var st StageSnapshot
	waitUntil(t, 15*time.Second, "generator back after restart, with frames", func() bool {
		st, _ = stageOf(r.sup.Snapshot(), "generator")
		return st.State == StateRunning && st.Restarts == 2 && st.Status != nil && st.Status.FramesOut > 0
	})
	if st.Crashes != 0 || st.OperatorRestarts != 2 {
		t.Errorf("after kill and restart: crashes %d operator %d; want 0 and 2", st.Crashes, st.OperatorRestarts)
	}
	if len(st.Runs) != 3 || st.Runs[0].Cause != CauseOperator || st.Runs[0].Exit != "signal: killed" || st.Runs[2].Exit != "" {
		t.Errorf("runs = %+v; want 3, the first killed by the operator, the last running", st.Runs)
	}
	var ended uint64
	for _, run := range st.Runs[:2] {
		ended += run.Out
	}
	if ended == 0 || st.FramesOut != ended+st.Status.FramesOut {
		t.Errorf("frames out over the run %d; want the ended processes' %d + the current one's %d", st.FramesOut, ended, st.Status.FramesOut)
	}
	if st.LogPath == "" || len(st.Args) == 0 || st.Args[0] != "stage" || len(st.States) < 4 {
		t.Errorf("log %q args %q states %v; want a log path, a command line, a state history", st.LogPath, st.Args, st.States)
	}
	kinds := r.sup.Snapshot().Kinds
	if len(kinds) != 3 || kinds[0].Kind != "generator" || kinds[0].FramesOut < st.FramesOut || kinds[0].OperatorRestarts != 2 {
		t.Errorf("kind totals %+v; want the generator's first, with its run's frames and restarts", kinds)
	}
}

// A stage that exits on its own is restarted as a crash.
func TestCrashCountsAsCrash(t *testing.T) {
	r := startFake(t, func(c *Config) {
		c.ExtraArgs = map[stage.Kind][]string{stage.Logger: {"--fake-exit-after", "1500ms"}}
	})
	var st StageSnapshot
	waitUntil(t, 20*time.Second, "logger restarted after its own exit", func() bool {
		st, _ = stageOf(r.sup.Snapshot(), "logger")
		return st.Crashes >= 1
	})
	if st.OperatorRestarts != 0 || st.Runs[0].Cause != CauseCrash || st.Runs[0].Exit != "exit 1" {
		t.Errorf("operator restarts %d, first run %+v; want 0 and a crash with exit 1", st.OperatorRestarts, st.Runs[0])
	}
}

// A paused stage's rate is 0, not its last one, and it says since when.
func TestPausedStageHasNoRate(t *testing.T) {
	r := startFake(t, nil)
	r.waitAllRunning(t, 15*time.Second)
	waitUntil(t, 10*time.Second, "the generator reporting a rate", func() bool {
		st, _ := stageOf(r.sup.Snapshot(), "generator")
		return st.FPS > 0 && st.StalledSince.IsZero()
	})
	before := time.Now()
	if err := r.sup.Pause("generator"); err != nil {
		t.Fatal(err)
	}
	st, _ := stageOf(r.sup.Snapshot(), "generator")
	if st.FPS != 0 || st.StalledSince.Before(before) || st.Status == nil || st.Status.FPS == 0 {
		t.Errorf("paused: fps %v stalled since %v (paused at %v), last status fps %v; want 0, since the pause, the old rate kept in the status",
			st.FPS, st.StalledSince, before, st.Status.FPS)
	}
	if err := r.sup.Resume("generator"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the generator moving again", func() bool {
		st, _ := stageOf(r.sup.Snapshot(), "generator")
		return st.FPS > 0 && st.StalledSince.IsZero()
	})
}
