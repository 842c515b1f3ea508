package dbcmd

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
)

// showFrame has keypoints with known values: responses 0.1-0.4 (median
// 0.25), sizes 2, 4, 5, 20 (median 4.5), OpenCV-packed octaves -1, 0, 0, 2.
func showFrame(t *testing.T) *db.Frame {
	f := testFrame(t, 42, 17, 64, 48, 4)
	pack := func(octave, layer, xi int32) int32 { return octave&0xff | layer<<8 | xi<<16 }
	f.Keypoints = []db.Keypoint{
		{X: 10, Y: 10, Size: 2, Angle: 0, Response: 0.4, Octave: pack(-1, 1, 200)},
		{X: 20, Y: 10, Size: 5, Angle: 90, Response: 0.1, Octave: pack(0, 2, 10)},
		{X: 30, Y: 10, Size: 20, Angle: 180, Response: 0.3, Octave: pack(0, 1, 0)},
		{X: 40, Y: 10, Size: 4, Angle: -1, Response: 0.2, Octave: pack(2, 3, 255)},
	}
	return f
}

func TestShowJSON(t *testing.T) {
	f := showFrame(t)
	path := newDB(t, testFrame(t, 42, 16, 8, 8, 1), f)
	for _, arg := range []string{"2", "latest"} {
		t.Run(arg, func(t *testing.T) {
			var got showReport
			out := mustRun(t, "show", arg, "--json", "--db", path)
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("show --json output %q: %v", out, err)
			}
			if got.ID != 2 || got.Filename != f.Filename || got.Format != "png" || got.Width != 64 || got.Height != 48 ||
				got.Channels != 3 || got.Bytes != len(f.Image) || *got.StreamID != 42 || *got.Seq != 17 ||
				got.Timestamp != f.Timestamp || got.Descriptors != 4 {
				t.Errorf("metadata = %+v; want frame 2 of %+v", got, f)
			}
			if !got.PublishedAt.Equal(f.PublishedAt) || !got.ExtractedAt.Equal(f.ExtractedAt) ||
				!got.ReceivedAt.Equal(f.ReceivedAt) || got.StoredAt == nil || got.StoredAt.Before(f.ReceivedAt) {
				t.Errorf("times = %v %v %v %v; want %v %v %v and a store time", got.PublishedAt, got.ExtractedAt,
					got.ReceivedAt, got.StoredAt, f.PublishedAt, f.ExtractedAt, f.ReceivedAt)
			}
			if *got.Latency.Extract != int64(100*time.Millisecond) || *got.Latency.Deliver != int64(50*time.Millisecond) ||
				*got.Latency.Total != int64(got.StoredAt.Sub(f.PublishedAt)) {
				t.Errorf("latency = extract %d deliver %d total %d; want 100ms, 50ms, stored-published",
					*got.Latency.Extract, *got.Latency.Deliver, *got.Latency.Total)
			}
			want := keypointSummary{
				Count:    4,
				Response: &valueRange{Min: 0.1, Median: 0.25, Max: 0.4},
				Size:     &valueRange{Min: 2, Median: 4.5, Max: 20},
				Octaves:  []octaveCount{{-1, 1}, {0, 2}, {2, 1}},
			}
			if !reflect.DeepEqual(got.Keypoints, want) {
				t.Errorf("keypoints = %+v %+v %+v; want %+v %+v %+v", got.Keypoints, got.Keypoints.Response,
					got.Keypoints.Size, want, want.Response, want.Size)
			}
		})
	}
}

func TestShowText(t *testing.T) {
	path := newDB(t, showFrame(t))
	out := mustRun(t, "show", "--db", path, "1")
	for _, want := range []string{
		"frame       1 (" + path + ")\n",
		"file        reef, \"north\" 01.png\n",
		"image       png, 64x48, 3 channels,",
		"stream/seq  42/17\n",
		"latency     extract 100ms, deliver 50ms, store ",
		"keypoints   4 (4 descriptors)\n",
		"  response  min 0.1  median 0.25  max 0.4\n",
		"  size      min 2  median 4.5  max 20\n",
		"  octaves   -1: 1  0: 2  2: 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}
}

func TestShowNoKeypointsNoStream(t *testing.T) {
	f := testFrame(t, 0, 1, 8, 8, 0)
	f.StreamID, f.Seq = 0, 0
	f.PublishedAt, f.ExtractedAt = time.Time{}, time.Time{}
	path := newDB(t, f)
	var got showReport
	if err := json.Unmarshal([]byte(mustRun(t, "show", "1", "--json", "--db", path)), &got); err != nil {
		t.Fatal(err)
	}
	if got.StreamID != nil || got.Seq != nil || got.PublishedAt != nil || got.Latency.Extract != nil ||
		got.Latency.Store == nil || got.Keypoints.Count != 0 || got.Keypoints.Response != nil || got.Keypoints.Octaves == nil {
		t.Errorf("show = %+v; want null stream/seq/published/extract latency, a store latency, 0 keypoints", got)
	}
	out := mustRun(t, "show", "1", "--db", path)
	for _, want := range []string{"stream/seq  - (sent without stream/seq)", "published   -\n", "latency     extract -, deliver -, store ", "keypoints   0 (0 descriptors)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}
}

func TestShowMissingFrame(t *testing.T) {
	path := newDB(t, showFrame(t))
	_, _, err := run(t, "show", "99", "--db", path)
	if !errors.Is(err, db.ErrNotFound) || errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "no frame 99 in "+path) {
		t.Errorf("show 99 = %v; want no frame 99, wrapping db.ErrNotFound", err)
	}
	_, _, err = run(t, "show", "latest", "--db", newDB(t))
	if err == nil || !strings.Contains(err.Error(), "no frames in") {
		t.Errorf("show latest on an empty database = %v; want no frames", err)
	}
}
