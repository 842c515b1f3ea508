package dbcmd

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
)

// gappyDB stores stream 7 with seqs 1-12 except 3-5 and 8, stream 9 with
// seqs 1-3 and two frames without stream/seq; 4 keypoints each.
func gappyDB(t *testing.T) (path string, frames []*db.Frame) {
	t.Helper()
	for seq := uint64(1); seq <= 12; seq++ {
		if seq >= 3 && seq <= 5 || seq == 8 {
			continue
		}
		frames = append(frames, testFrame(t, 7, seq, 32, 24, 4))
	}
	for seq := uint64(1); seq <= 3; seq++ {
		frames = append(frames, testFrame(t, 9, seq, 32, 24, 4))
	}
	for i := range 2 {
		f := testFrame(t, 0, uint64(100+i), 32, 24, 4)
		f.StreamID, f.Seq = 0, 0
		frames = append(frames, f)
	}
	return newDB(t, frames...), frames
}

func TestStatsJSON(t *testing.T) {
	path, frames := gappyDB(t)
	var got statsReport
	out := mustRun(t, "stats", "--db", path, "--json")
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stats --json output %q: %v", out, err)
	}
	n := int64(len(frames))
	if got.Images != n || got.Keypoints != 4*n || got.Descriptors != n || got.Unsequenced != 2 || got.Missing != 4 {
		t.Errorf("counts = images %d keypoints %d descriptors %d unsequenced %d missing %d; want %d %d %d 2 4",
			got.Images, got.Keypoints, got.Descriptors, got.Unsequenced, got.Missing, n, 4*n, n)
	}
	if got.Path != path || got.FileBytes <= 0 || got.UsedBytes <= 0 || got.PageSize <= 0 || got.DiskFree == 0 {
		t.Errorf("path %q file %d used %d page %d free %d; want %q and sizes > 0",
			got.Path, got.FileBytes, got.UsedBytes, got.PageSize, got.DiskFree, path)
	}
	recv := func(seq int) time.Time { return baseTime.Add(time.Duration(seq)*time.Second + 150*time.Millisecond) }
	want := []streamReport{
		{StreamID: 7, Frames: 8, FirstSeq: 1, LastSeq: 12, Missing: 4,
			Gaps: []gapJSON{{3, 5}, {8, 8}}, FirstAt: ptr(recv(1)), LastAt: ptr(recv(12))},
		{StreamID: 9, Frames: 3, FirstSeq: 1, LastSeq: 3,
			Gaps: []gapJSON{}, FirstAt: ptr(recv(1)), LastAt: ptr(recv(3))},
	}
	if !reflect.DeepEqual(got.Streams, want) {
		t.Errorf("streams =\n%+v\nwant\n%+v", got.Streams, want)
	}
	if !got.FirstAt.Equal(recv(1)) || !got.LastAt.Equal(recv(12)) {
		t.Errorf("first/last received = %v, %v; want %v, %v", got.FirstAt, got.LastAt, recv(1), recv(12))
	}

	// --gaps 1 lists the first gap and says there are more.
	got = statsReport{}
	if err := json.Unmarshal([]byte(mustRun(t, "stats", "--json", "--gaps", "1", "--db", path)), &got); err != nil {
		t.Fatal(err)
	}
	if s := got.Streams[0]; !reflect.DeepEqual(s.Gaps, []gapJSON{{3, 5}}) || !s.MoreGaps {
		t.Errorf("--gaps 1: gaps %v more %v; want [{3 5}] true", s.Gaps, s.MoreGaps)
	}
}

func ptr[T any](v T) *T { return &v }

func TestStatsText(t *testing.T) {
	path, _ := gappyDB(t)
	out := mustRun(t, "stats", "--db", path)
	for _, want := range []string{
		"database     " + path,
		"frames       13\n",
		"keypoints    52\n",
		"streams      2 (+ 2 frames without stream/seq)\n",
		"missing      4\n",
		"STREAM  FRAMES  SEQ   DUPLICATES  FIRST RECEIVED",
		"4 (3-5, 8)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stats output lacks %q:\n%s", want, out)
		}
	}
	// Stream 7's line ends with its gaps; stream 9's with 0.
	lines := strings.Split(out, "\n")
	var s7, s9 string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "7 "):
			s7 = l
		case strings.HasPrefix(l, "9 "):
			s9 = l
		}
	}
	if !strings.HasSuffix(s7, "4 (3-5, 8)") || !strings.HasSuffix(s9, " 0") {
		t.Errorf("stream lines %q, %q; want gaps of 7 and 0 for 9", s7, s9)
	}
}

func TestStatsEmptyDB(t *testing.T) {
	path := newDB(t)
	out := mustRun(t, "stats", "--db", path)
	if !strings.Contains(out, "frames       0\n") || !strings.Contains(out, "received     - … -\n") {
		t.Errorf("empty database stats:\n%s", out)
	}
	var got statsReport
	if err := json.Unmarshal([]byte(mustRun(t, "stats", "--json", "--db", path)), &got); err != nil {
		t.Fatal(err)
	}
	if got.Images != 0 || got.Streams == nil || len(got.Streams) != 0 || got.FirstAt != nil {
		t.Errorf("empty database: %+v; want 0 images, streams [], no times", got)
	}
}

// TestStatsRetainedAway: frames retention deleted are shown per stream and
// in total, and a stream deleted whole is still listed.
func TestStatsRetainedAway(t *testing.T) {
	var frames []*db.Frame
	for seq := uint64(1); seq <= 4; seq++ {
		frames = append(frames, testFrame(t, 3, seq, 32, 24, 4))
	}
	for seq := uint64(1); seq <= 6; seq++ {
		frames = append(frames, testFrame(t, 5, seq, 32, 24, 4))
	}
	path := newDB(t, frames...)
	d, err := db.Open(testCtx(t), path)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.Retain(testCtx(t), 4, 0); err != nil || n != 6 {
		t.Fatalf("Retain = %d, %v; want 6", n, err)
	}
	d.Close()
	var got statsReport
	if err := json.Unmarshal([]byte(mustRun(t, "stats", "--json", "--db", path)), &got); err != nil {
		t.Fatal(err)
	}
	if got.RetainedAway != 6 || len(got.Streams) != 2 {
		t.Fatalf("retained_away %d, streams %+v; want 6 over streams 3 and 5", got.RetainedAway, got.Streams)
	}
	if s := got.Streams[0]; s.StreamID != 3 || s.Frames != 0 || s.RetainedAway != 4 {
		t.Errorf("stream 3: %+v; want 0 frames, 4 retained away", s)
	}
	if s := got.Streams[1]; s.StreamID != 5 || s.Frames != 4 || s.RetainedAway != 2 || s.FirstSeq != 3 {
		t.Errorf("stream 5: %+v; want 4 frames from seq 3, 2 retained away", s)
	}
	out := mustRun(t, "stats", "--db", path)
	if !strings.Contains(out, "retained     6 away (frames deleted by retention)\n") || !strings.Contains(out, "RETAINED AWAY  MISSING") {
		t.Errorf("stats text lacks the retained-away total or column:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "3 ") && !regexp.MustCompile(`^3 +0 +- +0 +- +- +4 +0$`).MatchString(l) {
			t.Errorf("stream 3's line %q; want 0 frames, no seq, 4 retained away", l)
		}
	}
}
