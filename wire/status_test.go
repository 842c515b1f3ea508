package wire_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/wire"
)

// designExample is DESIGN.md's status example with its "…" placeholders
// filled with RFC 3339 times, plus fields a newer stage might add.
const designExample = `{"stage":"extractor","instance":"extractor-0","pid":4242,"state":"running","started_at":"2025-11-27T10:00:00Z",
 "frames_in":1200,"frames_out":1198,"dropped":2,"errors":0,"fps":4.8,"queue_depth":3,
 "latency_ms":{"p50":210,"p99":380},"db":{"images":0,"keypoints":0,"descriptors":0},
 "last_error":"","ts":"2025-11-27T10:04:10.25Z",
 "gpu":{"name":"none"},"future_counter":7}`

func TestStatusUnmarshalDesignExample(t *testing.T) {
	var got wire.Status
	if err := json.Unmarshal([]byte(designExample), &got); err != nil {
		t.Fatalf("Unmarshal(DESIGN.md example) = %v", err)
	}
	want := wire.Status{
		Stage: "extractor", Instance: "extractor-0", PID: 4242, State: wire.StateRunning,
		StartedAt: time.Date(2025, 11, 27, 10, 0, 0, 0, time.UTC),
		FramesIn:  1200, FramesOut: 1198, Dropped: 2, Errors: 0, FPS: 4.8, QueueDepth: 3,
		Latency: &wire.Latency{P50: 210, P99: 380},
		DB:      &wire.DBCounts{},
		TS:      time.Date(2025, 11, 27, 10, 4, 10, 250e6, time.UTC),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Unmarshal(DESIGN.md example) =\n%+v\nwant\n%+v", got, want)
	}
}

// TestStatusMarshalFieldNames: a Status marshals with every key of
// DESIGN.md's example, nested blocks included.
func TestStatusMarshalFieldNames(t *testing.T) {
	s := wire.Status{
		Stage: "logger", Instance: "logger", PID: 7, State: wire.StateBlocked,
		StartedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), FramesIn: 3, FramesOut: 2, Dropped: 1,
		FPS: 1.5, QueueDepth: 4, Latency: &wire.Latency{P50: 1, P99: 2},
		DB:        &wire.DBCounts{Images: 10, Keypoints: 20, Descriptors: 30},
		LastError: "database is full", TS: time.Date(2025, 1, 2, 3, 4, 6, 0, time.UTC),
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"stage", "instance", "pid", "state", "started_at", "frames_in", "frames_out",
		"dropped", "errors", "fps", "queue_depth", "latency_ms", "db", "last_error", "ts"} {
		if _, ok := m[k]; !ok {
			t.Errorf("Marshal(Status) = %s; missing key %q", b, k)
		}
	}
	nested := func(block string, want ...string) {
		obj, _ := m[block].(map[string]any)
		var keys []string
		for k := range obj {
			keys = append(keys, k)
		}
		for _, k := range want {
			if !slices.Contains(keys, k) {
				t.Errorf("%q = %v; missing key %q", block, obj, k)
			}
		}
	}
	nested("latency_ms", "p50", "p99")
	nested("db", "images", "keypoints", "descriptors")
	if m["started_at"] != "2025-01-02T03:04:05Z" || m["last_error"] != "database is full" || m["pid"] != 7.0 {
		t.Errorf("Marshal(Status) = %s", b)
	}

	var back wire.Status
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, s) {
		t.Errorf("round trip = %+v, %v; want %+v", back, err, s)
	}
}
