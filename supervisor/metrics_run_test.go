package supervisor_test

// An external test: supervisor/metrics imports the supervisor, so a test
// that serves a supervisor's metrics cannot be in package supervisor.
// export_test.go lends this file the fake pipeline, and this file lends the
// internal tests (remote_test.go) serveMetricsForTest.

import (
	"context"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/imaging-tui/imaging-tui/supervisor"
	"github.com/imaging-tui/imaging-tui/supervisor/metrics"
)

func init() { supervisor.ServeMetricsForTest = serveMetricsForTest }

// serveMetricsForTest serves sup's metrics on a loopback port until the
// test ends and returns the /metrics URL.
func serveMetricsForTest(t *testing.T, sup *supervisor.Supervisor) string {
	t.Helper()
	ln, err := metrics.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- metrics.ServeListener(ctx, ln, sup.Snapshot) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("metrics.ServeListener = %v; want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("metrics.ServeListener did not return 5s after cancel")
		}
	})
	return "http://" + ln.Addr().String() + "/metrics"
}

// TestMetricsOfAFakeRun scrapes the metrics of a supervisor of fake stages
// (real processes, real status channel) over HTTP: the stages are up and
// counting; after the extractor is killed and restarted by the policy, its
// restarts counter is 1 and its frames counter went on from where it was,
// though the new process counts from 0.
func TestMetricsOfAFakeRun(t *testing.T) {
	r := supervisor.StartFake(t, nil)
	url := serveMetricsForTest(t, r.Sup())
	r.WaitAllRunning(t, 15*time.Second)
	ext := map[string]string{"stage": "extractor", "instance": "extractor-0"}
	var before float64
	supervisor.WaitUntil(t, 10*time.Second, "frames counted for every stage", func() bool {
		fams := supervisor.ScrapeMetrics(t, url)
		for _, inst := range []string{"generator", "extractor-0", "logger"} {
			if v, ok := supervisor.PromValue(fams, "imaging_frames_total", map[string]string{"instance": inst}); !ok || v < 3 {
				return false
			}
			if v, _ := supervisor.PromValue(fams, "imaging_stage_up", map[string]string{"instance": inst}); v != 1 {
				return false
			}
		}
		before, _ = supervisor.PromValue(fams, "imaging_frames_total", ext)
		return true
	})
	fams := supervisor.ScrapeMetrics(t, url)
	for name, want := range map[string]dto.MetricType{"imaging_frames_total": dto.MetricType_COUNTER,
		"imaging_restarts_total": dto.MetricType_COUNTER, "imaging_fps": dto.MetricType_GAUGE,
		"imaging_stage_state": dto.MetricType_GAUGE, "imaging_db_readable": dto.MetricType_GAUGE} {
		if got := supervisor.PromType(fams, name); got != want {
			t.Errorf("%s is a %v; want a %v", name, got, want)
		}
	}
	if v, ok := supervisor.PromValue(fams, "imaging_fps", ext); !ok || v != 10 {
		t.Errorf("imaging_fps{extractor-0} = %v; want the fake's 10", v)
	}

	old := r.WaitState(t, "extractor-0", supervisor.StateRunning, time.Second)
	if err := r.Sup().Kill("extractor-0"); err != nil {
		t.Fatal(err)
	}
	supervisor.WaitUntil(t, 15*time.Second, "extractor-0 restarted, running and counting again", func() bool {
		st, _ := supervisor.StageOf(r.Sup().Snapshot(), "extractor-0")
		return st.State == supervisor.StateRunning && st.PID != old.PID && st.Status != nil && st.Status.FramesOut >= 3
	})
	fams = supervisor.ScrapeMetrics(t, url)
	st, _ := supervisor.StageOf(r.Sup().Snapshot(), "extractor-0")
	after, _ := supervisor.PromValue(fams, "imaging_frames_total", ext)
	if restarts, _ := supervisor.PromValue(fams, "imaging_restarts_total", ext); restarts != 1 {
		t.Errorf("imaging_restarts_total{extractor-0} = %v; want 1", restarts)
	}
	if after < before+float64(st.Status.FramesOut)-1 || after <= float64(st.Status.FramesOut) {
		t.Errorf("imaging_frames_total{extractor-0} = %v after the restart; want at least %v before it plus the new process's %d",
			after, before, st.Status.FramesOut)
	}
	if v, ok := supervisor.PromValue(fams, "imaging_db_readable", nil); !ok || v != 0 {
		t.Errorf("imaging_db_readable = %v (found %v); want 0: the fakes make no database", v, ok)
	}
}
