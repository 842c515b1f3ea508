package metrics

import (
	"testing"

	"github.com/imaging-tui/imaging-tui/supervisor"
	"github.com/imaging-tui/imaging-tui/wire"
)

// TestReportedState: a logger reporting itself blocked shows in
// imaging_stage_reported_state, one-hot, while it runs; a stage that is
// down has no such series.
func TestReportedState(t *testing.T) {
	var f fixedSnapshots
	f.set(supervisor.Snapshot{Stages: []supervisor.StageSnapshot{
		stageSnap("logger", "logger", supervisor.StateRunning, 0, 0,
			&wire.Status{PID: 30, State: wire.StateBlocked, StateReason: "disk full: 0.0 MB free on /mnt/x; waiting"}),
		stageSnap("extractor-0", "extractor", supervisor.StateBackoff, 1, 0, &wire.Status{PID: 20, State: wire.StateRunning}),
	}})
	fams := Scrape(t, serve(t, f.get))
	for _, s := range ReportedStates {
		want := 0.0
		if s == wire.StateBlocked {
			want = 1
		}
		check{"imaging_stage_reported_state", map[string]string{"instance": "logger", "state": s}, gauge, want}.run(t, "blocked logger", fams)
	}
	if _, _, ok := sample(fams, "imaging_stage_reported_state", map[string]string{"instance": "extractor-0"}); ok {
		t.Error("imaging_stage_reported_state for an extractor in backoff; want none")
	}
}
