package supervisor

import (
	"testing"
	"time"
)

// ServeMetricsForTest serves sup's metrics on a loopback port until the
// test ends and returns the /metrics URL. The external test
// metrics_run_test.go sets it, since only there may supervisor/metrics be
// imported.
var ServeMetricsForTest func(t *testing.T, sup *Supervisor) string

// The Prometheus scrape helpers of prom_test.go.
var (
	ScrapeMetrics = scrapeMetrics
	PromValue     = promValue
	PromType      = promType
)

// The fake pipeline of main_test.go, for the external tests (package
// supervisor_test), which import packages that import this one.

// FakeRun is a running supervisor of fake stages.
type FakeRun = running

// StartFake is startFake.
func StartFake(t *testing.T, mutate func(*Config)) *FakeRun { return startFake(t, mutate) }

// Sup returns the supervisor.
func (r *running) Sup() *Supervisor { return r.sup }

// WaitAllRunning is waitAllRunning.
func (r *running) WaitAllRunning(t *testing.T, timeout time.Duration) Snapshot {
	t.Helper()
	return r.waitAllRunning(t, timeout)
}

// WaitState is waitState.
func (r *running) WaitState(t *testing.T, name string, want State, timeout time.Duration) StageSnapshot {
	t.Helper()
	return r.waitState(t, name, want, timeout)
}

// WaitUntil is waitUntil.
func WaitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	waitUntil(t, timeout, what, cond)
}

// StageOf is stageOf.
func StageOf(snap Snapshot, name string) (StageSnapshot, bool) { return stageOf(snap, name) }
