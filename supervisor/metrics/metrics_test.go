package metrics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
	"github.com/imaging-tui/imaging-tui/wire"
)

// Scrape GETs url and parses the answer with the Prometheus text parser.
func Scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q; want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse the exposition of %s: %v", url, err)
	}
	return fams
}

// sample finds the sample of family name whose labels include want; ok is
// false when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, typ dto.MetricType, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, 0, false
	}
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
			return m.GetCounter().GetValue(), f.GetType(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), f.GetType(), true
		case dto.MetricType_UNTYPED:
			return m.GetUntyped().GetValue(), f.GetType(), true
		}
		return 0, f.GetType(), true
	}
	return 0, f.GetType(), false
}

func lbl(stage, instance string) map[string]string {
	return map[string]string{"stage": stage, "instance": instance}
}

// fixedSnapshots is a snap function whose snapshot the test sets.
type fixedSnapshots struct {
	mu   sync.Mutex
	snap supervisor.Snapshot
}

func (f *fixedSnapshots) set(s supervisor.Snapshot) { f.mu.Lock(); f.snap = s; f.mu.Unlock() }
func (f *fixedSnapshots) get() supervisor.Snapshot  { f.mu.Lock(); defer f.mu.Unlock(); return f.snap }

func stageSnap(name string, kind stage.Kind, state supervisor.State, restarts int, totalDropped uint64, st *wire.Status) supervisor.StageSnapshot {
	return supervisor.StageSnapshot{Name: name, Kind: kind, State: state, Restarts: restarts, TotalDropped: totalDropped, Status: st}
}

// serve runs ServeListener on a loopback port until the test ends and
// returns the /metrics URL.
func serve(t *testing.T, snap func() supervisor.Snapshot) string {
	t.Helper()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln, snap) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServeListener = %v after cancel; want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("ServeListener did not return 5s after cancel")
		}
	})
	return "http://" + ln.Addr().String() + "/metrics"
}

type check struct {
	name   string
	labels map[string]string
	typ    dto.MetricType
	want   float64
}

func (c check) run(t *testing.T, phase string, fams map[string]*dto.MetricFamily) {
	t.Helper()
	v, typ, ok := sample(fams, c.name, c.labels)
	switch {
	case !ok:
		t.Errorf("%s: no %s%v", phase, c.name, c.labels)
	case typ != c.typ:
		t.Errorf("%s: %s is a %v; want a %v", phase, c.name, typ, c.typ)
	case v != c.want:
		t.Errorf("%s: %s%v = %v; want %v", phase, c.name, c.labels, v, c.want)
	}
}

const (
	counter = dto.MetricType_COUNTER
	gauge   = dto.MetricType_GAUGE
)

// TestMetricsOverHTTP feeds fixed snapshots to a served collector, scrapes
// /metrics over HTTP, parses it with the Prometheus text parser and checks
// names, types, labels and values, through a restart of two stages, a
// remote stage that goes away and a database that cannot be read.
func TestMetricsOverHTTP(t *testing.T) {
	var f fixedSnapshots
	f.set(supervisor.Snapshot{
		Stages: []supervisor.StageSnapshot{
			stageSnap("generator", "generator", supervisor.StateRunning, 0, 0,
				&wire.Status{PID: 10, FramesOut: 100, FramesIn: 90, FPS: 12.5, QueueDepth: 4}),
			stageSnap("extractor-0", "extractor", supervisor.StateRunning, 0, 1,
				&wire.Status{PID: 20, FramesIn: 95, FramesOut: 94, Errors: 2, Dropped: 1, FPS: 12}),
			stageSnap("logger", "logger", supervisor.StateBackoff, 2, 5,
				&wire.Status{PID: 30, FramesIn: 80, FramesOut: 80, Dropped: 5, FPS: 11, QueueDepth: 9}),
			stageSnap("far-x", "extractor", supervisor.StateRemote, 0, 0, &wire.Status{PID: 40, FramesOut: 7, FPS: 3}),
		},
		DB:           supervisor.DBStats{Images: 80, Keypoints: 8000, Descriptors: 8000, FileBytes: 1 << 20, FreeBytes: 5 << 30},
		StatusErrors: 3,
	})
	url := serve(t, f.get)

	fams := Scrape(t, url)
	for _, c := range []check{
		{"imaging_frames_total", lbl("generator", "generator"), counter, 100},
		{"imaging_frames_in_total", lbl("generator", "generator"), counter, 90},
		{"imaging_fps", lbl("generator", "generator"), gauge, 12.5},
		{"imaging_queue_depth", lbl("generator", "generator"), gauge, 4},
		{"imaging_stage_up", lbl("generator", "generator"), gauge, 1},
		{"imaging_dropped_total", lbl("generator", "generator"), counter, 0},
		{"imaging_frames_total", lbl("extractor", "extractor-0"), counter, 94},
		{"imaging_errors_total", lbl("extractor", "extractor-0"), counter, 2},
		{"imaging_dropped_total", lbl("extractor", "extractor-0"), counter, 1},
		{"imaging_restarts_total", lbl("extractor", "extractor-0"), counter, 0},
		// The logger is in backoff: its last status is kept, but it is down.
		{"imaging_frames_total", lbl("logger", "logger"), counter, 80},
		{"imaging_missing_frames", lbl("logger", "logger"), gauge, 5},
		{"imaging_restarts_total", lbl("logger", "logger"), counter, 2},
		{"imaging_stage_up", lbl("logger", "logger"), gauge, 0},
		{"imaging_fps", lbl("logger", "logger"), gauge, 0},
		{"imaging_queue_depth", lbl("logger", "logger"), gauge, 0},
		{"imaging_stage_state", map[string]string{"instance": "logger", "state": "backoff"}, gauge, 1},
		{"imaging_stage_state", map[string]string{"instance": "logger", "state": "running"}, gauge, 0},
		// A remote stage is observed: up while it reports.
		{"imaging_stage_up", lbl("extractor", "far-x"), gauge, 1},
		{"imaging_fps", lbl("extractor", "far-x"), gauge, 3},
		{"imaging_frames_total", lbl("extractor", "far-x"), counter, 7},
		{"imaging_stage_state", map[string]string{"instance": "far-x", "state": "remote"}, gauge, 1},
		{"imaging_db_readable", nil, gauge, 1},
		{"imaging_db_images", nil, gauge, 80},
		{"imaging_db_keypoints", nil, gauge, 8000},
		{"imaging_db_descriptors", nil, gauge, 8000},
		{"imaging_db_file_bytes", nil, gauge, 1 << 20},
		{"imaging_db_free_bytes", nil, gauge, 5 << 30},
		{"imaging_status_errors_total", nil, counter, 3},
	} {
		c.run(t, "phase 1", fams)
	}
	if _, _, ok := sample(fams, "imaging_dropped_total", lbl("logger", "logger")); ok {
		t.Errorf("imaging_dropped_total for the logger: its gaps are the gauge imaging_missing_frames")
	}
	// imaging_stage_state is one-hot: one series per state, exactly one 1.
	for _, inst := range []string{"generator", "extractor-0", "logger", "far-x"} {
		var n, ones int
		for _, m := range fams["imaging_stage_state"].GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["instance"] == inst {
				n++
				if m.GetGauge().GetValue() == 1 {
					ones++
				}
			}
		}
		if n != len(States) || ones != 1 {
			t.Errorf("imaging_stage_state{instance=%q}: %d series, %d set; want %d, 1", inst, n, ones, len(States))
		}
	}
	// The client library's own metrics are there too.
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}

	// Phase 2: extractor-0 and the logger were restarted (new pids, counts
	// from 0 again), a late frame closed two of the logger's gaps, the
	// remote stage was forgotten and the database is unreadable.
	f.set(supervisor.Snapshot{
		Stages: []supervisor.StageSnapshot{
			stageSnap("generator", "generator", supervisor.StateRunning, 0, 0,
				&wire.Status{PID: 10, FramesOut: 150, FramesIn: 140, FPS: 12.5}),
			stageSnap("extractor-0", "extractor", supervisor.StateRunning, 1, 1,
				&wire.Status{PID: 21, FramesIn: 6, FramesOut: 5, FPS: 10}),
			stageSnap("logger", "logger", supervisor.StateRunning, 3, 8,
				&wire.Status{PID: 31, FramesIn: 3, FramesOut: 3, Dropped: 3, FPS: 9}),
		},
		DB: supervisor.DBStats{Err: "database is locked"},
	})
	fams = Scrape(t, url)
	for _, c := range []check{
		{"imaging_frames_total", lbl("generator", "generator"), counter, 150},
		{"imaging_frames_total", lbl("extractor", "extractor-0"), counter, 94 + 5},
		{"imaging_frames_in_total", lbl("extractor", "extractor-0"), counter, 95 + 6},
		{"imaging_errors_total", lbl("extractor", "extractor-0"), counter, 2},
		{"imaging_restarts_total", lbl("extractor", "extractor-0"), counter, 1},
		{"imaging_frames_total", lbl("logger", "logger"), counter, 80 + 3},
		{"imaging_missing_frames", lbl("logger", "logger"), gauge, 3},
		{"imaging_stage_up", lbl("logger", "logger"), gauge, 1},
		{"imaging_db_readable", nil, gauge, 0},
	} {
		c.run(t, "phase 2", fams)
	}
	if _, _, ok := sample(fams, "imaging_stage_up", lbl("extractor", "far-x")); ok {
		t.Errorf("phase 2: the forgotten remote stage is still exposed")
	}
	if fams["imaging_db_images"] != nil {
		t.Errorf("phase 2: imaging_db_images exposed while the database is unreadable")
	}

	// Phase 3: extractor-0 restarted again and has not reported yet: its
	// counters keep their sums.
	snap := f.get()
	snap.Stages[1] = stageSnap("extractor-0", "extractor", supervisor.StateStarting, 2, 1, nil)
	f.set(snap)
	fams = Scrape(t, url)
	for _, c := range []check{
		{"imaging_frames_total", lbl("extractor", "extractor-0"), counter, 99},
		{"imaging_stage_up", lbl("extractor", "extractor-0"), gauge, 0},
		{"imaging_stage_state", map[string]string{"instance": "extractor-0", "state": "starting"}, gauge, 1},
	} {
		c.run(t, "phase 3", fams)
	}
}

// TestCollectorSamplesBetweenScrapes: Serve folds snapshots into the
// counters between scrapes, so counts of a process that died and was
// replaced between two scrapes are kept.
func TestCollectorSamplesBetweenScrapes(t *testing.T) {
	var f fixedSnapshots
	calls := make(chan struct{}, 100)
	snap := func() supervisor.Snapshot {
		select {
		case calls <- struct{}{}:
		default:
		}
		return f.get()
	}
	st := func(pid int, out uint64) supervisor.Snapshot {
		return supervisor.Snapshot{Stages: []supervisor.StageSnapshot{
			stageSnap("extractor-0", "extractor", supervisor.StateRunning, 0, 0, &wire.Status{PID: pid, FramesOut: out}),
		}}
	}
	f.set(st(1, 40))
	url := serve(t, snap)
	// Wait for two sampler calls after setting pid 1's last count, so the
	// sampler (not a scrape) has seen it.
	f.set(st(1, 50))
	drain(calls)
	waitCalls(t, calls, 2)
	f.set(st(2, 7))
	fams := Scrape(t, url)
	check{"imaging_frames_total", lbl("extractor", "extractor-0"), counter, 57}.run(t, "after the restart", fams)
}

func drain(c chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

func waitCalls(t *testing.T, c chan struct{}, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for range n {
		select {
		case <-c:
		case <-deadline:
			t.Fatalf("the sampler did not take %d snapshots within 10s", n)
		}
	}
}

// TestConcurrentScrapes scrapes in parallel (run with -race) while the
// snapshots change: every scrape parses and frames_total never goes down.
func TestConcurrentScrapes(t *testing.T) {
	var f fixedSnapshots
	set := func(pid int, out uint64) {
		f.set(supervisor.Snapshot{Stages: []supervisor.StageSnapshot{
			stageSnap("logger", "logger", supervisor.StateRunning, 0, 0, &wire.Status{PID: pid, FramesOut: out}),
		}})
	}
	set(1, 0)
	url := serve(t, f.get)
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Add(1)
	go func() { // the only writer of the snapshots
		defer writer.Done()
		pid, out := 1, uint64(0)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			out++
			if i%7 == 6 {
				pid, out = pid+1, 1
			}
			set(pid, out)
			time.Sleep(time.Millisecond) // pacing the writer, not a wait
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := -1.0
			for range 10 {
				resp, err := http.Get(url)
				if err != nil {
					errs <- err
					return
				}
				p := expfmt.NewTextParser(model.UTF8Validation)
				fams, err := p.TextToMetricFamilies(resp.Body)
				resp.Body.Close()
				if err != nil {
					errs <- err
					return
				}
				v, _, ok := sample(fams, "imaging_frames_total", lbl("logger", "logger"))
				if !ok || v < last {
					errs <- fmt.Errorf("imaging_frames_total = %v (found %v) after %v", v, ok, last)
					return
				}
				last = v
			}
		}()
	}
	wg.Wait()
	close(stop)
	writer.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestServeShutsDownAndReportsListenErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The port is taken: Serve fails at once.
	if err := Serve(context.Background(), ln.Addr().String(), func() supervisor.Snapshot { return supervisor.Snapshot{} }); err == nil {
		t.Errorf("Serve on a taken port = nil; want an error")
	}
	if err := Serve(context.Background(), "not an address", nil); err == nil {
		t.Errorf("Serve(%q) = nil; want an error", "not an address")
	}

	ctx, cancel := context.WithCancel(context.Background())
	ln2, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln2.Addr().String()
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln2, func() supervisor.Snapshot { return supervisor.Snapshot{} }) }()
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `href="/metrics"`) {
		t.Errorf("GET / = %q; want a link to /metrics", body)
	}
	resp, err = http.Get("http://" + addr + "/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing = %s; want 404", resp.Status)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeListener after cancel = %v; want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeListener did not return 5s after cancel")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after shutdown", addr)
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:9464", true},
		{"127.1.2.3:9464", true},
		{"[::1]:9464", true},
		{"localhost:9464", true},
		{"LOCALHOST:0", true},
		{":9464", false},
		{"0.0.0.0:9464", false},
		{"[::]:9464", false},
		{"192.168.1.10:9464", false},
		{"metrics.example:9464", false},
		{"127.0.0.1", false}, // no port: not an address Listen takes
	}
	for _, tt := range tests {
		if got := IsLoopback(tt.addr); got != tt.want {
			t.Errorf("IsLoopback(%q) = %v; want %v", tt.addr, got, tt.want)
		}
	}
}

// TestPedanticRegistry: what Collect sends matches what Describe declares
// and is a valid exposition, as the client library's pedantic registry
// checks it.
func TestPedanticRegistry(t *testing.T) {
	snap := supervisor.Snapshot{Stages: []supervisor.StageSnapshot{
		stageSnap("generator", "generator", supervisor.StateRunning, 0, 0, &wire.Status{PID: 1, FramesOut: 3}),
		stageSnap("logger", "logger", supervisor.StateRunning, 0, 0, &wire.Status{PID: 2, Dropped: 1}),
		stageSnap("far", "extractor", supervisor.StateRemote, 0, 0, nil),
	}}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(NewCollector(func() supervisor.Snapshot { return snap })); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	if len(fams) != 18 {
		var names []string
		for _, f := range fams {
			names = append(names, f.GetName())
		}
		t.Errorf("gathered %d families %v; want the 18 of doc.go", len(fams), names)
	}
}
