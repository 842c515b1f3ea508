package supervisor

import (
	"context"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/imaging-tui/imaging-tui/supervisor/metrics"
)

// serveMetricsForTest serves sup's metrics on a loopback port until the
// test ends and returns the /metrics URL.
func serveMetricsForTest(t *testing.T, sup *Supervisor) string {
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

// scrapeMetrics GETs url and parses it with the Prometheus text parser.
func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// promValue returns the value of the first sample of family name whose
// labels include want.
func promValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		}
		return m.GetUntyped().GetValue(), true
	}
	return 0, false
}

func promType(fams map[string]*dto.MetricFamily, name string) dto.MetricType {
	return fams[name].GetType()
}

// TestMetricsOfAFakeRun scrapes the metrics of a supervisor of fake stages
// (real processes, real status channel) over HTTP: the stages are up and
// counting; after the extractor is killed and restarted by the policy, its
// restarts counter is 1 and its frames counter went on from where it was,
// though the new process counts from 0.
func TestMetricsOfAFakeRun(t *testing.T) {
	r := startFake(t, nil)
	url := serveMetricsForTest(t, r.sup)
	r.waitAllRunning(t, 15*time.Second)
	ext := map[string]string{"stage": "extractor", "instance": "extractor-0"}
	var before float64
	waitUntil(t, 10*time.Second, "frames counted for every stage", func() bool {
		fams := scrapeMetrics(t, url)
		for _, inst := range []string{"generator", "extractor-0", "logger"} {
			if v, ok := promValue(fams, "imaging_frames_total", map[string]string{"instance": inst}); !ok || v < 3 {
				return false
			}
			if v, _ := promValue(fams, "imaging_stage_up", map[string]string{"instance": inst}); v != 1 {
				return false
			}
		}
		before, _ = promValue(fams, "imaging_frames_total", ext)
		return true
	})
	fams := scrapeMetrics(t, url)
	for name, want := range map[string]dto.MetricType{"imaging_frames_total": dto.MetricType_COUNTER,
		"imaging_restarts_total": dto.MetricType_COUNTER, "imaging_fps": dto.MetricType_GAUGE,
		"imaging_stage_state": dto.MetricType_GAUGE, "imaging_db_readable": dto.MetricType_GAUGE} {
		if got := promType(fams, name); got != want {
			t.Errorf("%s is a %v; want a %v", name, got, want)
		}
	}
	if v, ok := promValue(fams, "imaging_fps", ext); !ok || v != 10 {
		t.Errorf("imaging_fps{extractor-0} = %v; want the fake's 10", v)
	}

	old := r.waitState(t, "extractor-0", StateRunning, time.Second)
	if err := r.sup.Kill("extractor-0"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "extractor-0 restarted, running and counting again", func() bool {
		st, _ := stageOf(r.sup.Snapshot(), "extractor-0")
		return st.State == StateRunning && st.PID != old.PID && st.Status != nil && st.Status.FramesOut >= 3
	})
	fams = scrapeMetrics(t, url)
	st, _ := stageOf(r.sup.Snapshot(), "extractor-0")
	after, _ := promValue(fams, "imaging_frames_total", ext)
	if restarts, _ := promValue(fams, "imaging_restarts_total", ext); restarts != 1 {
		t.Errorf("imaging_restarts_total{extractor-0} = %v; want 1", restarts)
	}
	if after < before+float64(st.Status.FramesOut)-1 || after <= float64(st.Status.FramesOut) {
		t.Errorf("imaging_frames_total{extractor-0} = %v after the restart; want at least %v before it plus the new process's %d",
			after, before, st.Status.FramesOut)
	}
	if v, ok := promValue(fams, "imaging_db_readable", nil); !ok || v != 0 {
		t.Errorf("imaging_db_readable = %v (found %v); want 0: the fakes make no database", v, ok)
	}
}
