package dbcmd

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
)

// exportFrames are stored in this order (ids 1…): keypoint counts 3, 0
// and 2500 (more than one page of EachKeypoint), and one frame without
// stream/seq or publish time.
func exportFrames(t *testing.T) []*db.Frame {
	unseq := testFrame(t, 0, 99, 16, 16, 5)
	unseq.StreamID, unseq.Seq, unseq.PublishedAt = 0, 0, time.Time{}
	return []*db.Frame{
		testFrame(t, 5, 1, 40, 30, 3),
		testFrame(t, 5, 2, 40, 30, 0),
		testFrame(t, 5, 3, 80, 60, 2500),
		unseq,
	}
}

// exportRec is a JSON lines record as the package doc defines it.
type exportRec struct {
	ID            int64      `json:"id"`
	StreamID      *uint64    `json:"stream_id"`
	Seq           *uint64    `json:"seq"`
	Timestamp     int64      `json:"timestamp"`
	Filename      string     `json:"filename"`
	Width         int        `json:"width"`
	Height        int        `json:"height"`
	Channels      int        `json:"channels"`
	DataSize      int64      `json:"data_size"`
	KeypointCount int        `json:"keypoint_count"`
	PublishedAt   *time.Time `json:"published_at"`
	ExtractedAt   *time.Time `json:"extracted_at"`
	ReceivedAt    *time.Time `json:"received_at"`
	StoredAt      *time.Time `json:"stored_at"`
	Keypoints     []struct {
		X, Y, Size, Angle, Response float32
		Octave                      int32
		Descriptor                  json.RawMessage `json:"descriptor"`
	} `json:"keypoints"`
	Image json.RawMessage `json:"image"`
}

func TestExportJSONL(t *testing.T) {
	frames := exportFrames(t)
	path := newDB(t, frames...)
	tests := []struct {
		name              string
		flags             []string
		descriptors, imgs bool
	}{
		{"plain", nil, false, false},
		{"descriptors", []string{"--descriptors"}, true, false},
		{"images", []string{"--images", "--format", "jsonl"}, false, true},
		{"both", []string{"--images", "--descriptors"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mustRun(t, append([]string{"export", "--db", path}, tt.flags...)...)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != len(frames) {
				t.Fatalf("export wrote %d lines; want %d", len(lines), len(frames))
			}
			for i, line := range lines {
				f := frames[i]
				dec := json.NewDecoder(strings.NewReader(line))
				dec.DisallowUnknownFields()
				var r exportRec
				if err := dec.Decode(&r); err != nil {
					t.Fatalf("line %d %.200q: %v", i+1, line, err)
				}
				if !strings.HasPrefix(line, fmt.Sprintf(`{"id":%d,"stream_id":`, i+1)) {
					t.Errorf("line %d starts %.40q; want id then stream_id", i+1, line)
				}
				checkRecord(t, r, int64(i+1), f, tt.descriptors, tt.imgs)
			}
		})
	}
}

func checkRecord(t *testing.T, r exportRec, id int64, f *db.Frame, descriptors, images bool) {
	t.Helper()
	sequenced := f.StreamID != 0 || f.Seq != 0
	if sequenced && (r.StreamID == nil || *r.StreamID != f.StreamID || *r.Seq != f.Seq) ||
		!sequenced && (r.StreamID != nil || r.Seq != nil) {
		t.Errorf("frame %d: stream/seq %v/%v; want %d/%d", id, r.StreamID, r.Seq, f.StreamID, f.Seq)
	}
	if r.ID != id || r.Timestamp != f.Timestamp || r.Filename != f.Filename || r.Width != f.Width ||
		r.Height != f.Height || r.Channels != f.Channels || r.DataSize != int64(len(f.Image)) ||
		r.KeypointCount != len(f.Keypoints) {
		t.Errorf("frame %d: record %+v; want %+v", id, r, f)
	}
	for _, tc := range []struct {
		got  *time.Time
		want time.Time
	}{{r.PublishedAt, f.PublishedAt}, {r.ExtractedAt, f.ExtractedAt}, {r.ReceivedAt, f.ReceivedAt}} {
		if tc.want.IsZero() && tc.got != nil || !tc.want.IsZero() && (tc.got == nil || !tc.got.Equal(tc.want)) {
			t.Errorf("frame %d: time %v; want %v", id, tc.got, tc.want)
		}
	}
	if r.StoredAt == nil {
		t.Errorf("frame %d: stored_at null", id)
	}
	if len(r.Keypoints) != len(f.Keypoints) || r.Keypoints == nil {
		t.Fatalf("frame %d: %d keypoints; want %d (an array)", id, len(r.Keypoints), len(f.Keypoints))
	}
	for j, k := range r.Keypoints {
		if got := (db.Keypoint{X: k.X, Y: k.Y, Size: k.Size, Angle: k.Angle, Response: k.Response, Octave: k.Octave}); got != f.Keypoints[j] {
			t.Fatalf("frame %d keypoint %d = %+v; want %+v", id, j, got, f.Keypoints[j])
		}
		if !descriptors {
			if k.Descriptor != nil {
				t.Fatalf("frame %d keypoint %d has a descriptor without --descriptors", id, j)
			}
			continue
		}
		var d []float32
		if err := json.Unmarshal(k.Descriptor, &d); err != nil {
			t.Fatalf("frame %d keypoint %d descriptor %q: %v", id, j, k.Descriptor, err)
		}
		if want := f.Descriptors[j*db.DescriptorSize : (j+1)*db.DescriptorSize]; !slices.Equal(d, want) {
			t.Fatalf("frame %d keypoint %d descriptor = %v; want %v", id, j, d, want)
		}
	}
	if !images {
		if r.Image != nil {
			t.Errorf("frame %d has an image without --images", id)
		}
		return
	}
	var img []byte // encoding/json reads base64 into []byte
	if err := json.Unmarshal(r.Image, &img); err != nil || !bytes.Equal(img, f.Image) {
		t.Errorf("frame %d image: %d bytes, %v; want the %d stored bytes", id, len(img), err, len(f.Image))
	}
}

func TestExportCSV(t *testing.T) {
	frames := exportFrames(t)
	path := newDB(t, frames...)
	total := 0
	for _, f := range frames {
		total += len(f.Keypoints)
	}
	for _, withDesc := range []bool{false, true} {
		t.Run(fmt.Sprintf("descriptors=%v", withDesc), func(t *testing.T) {
			args := []string{"export", "--format", "csv", "--db", path}
			cols := len(csvColumns)
			if withDesc {
				args = append(args, "--descriptors")
				cols += db.DescriptorSize
			}
			rows, err := csv.NewReader(strings.NewReader(mustRun(t, args...))).ReadAll()
			if err != nil {
				t.Fatalf("export CSV: %v", err)
			}
			if len(rows) != 1+total {
				t.Fatalf("CSV has %d rows; want a header and %d keypoints", len(rows), total)
			}
			if len(rows[0]) != cols || !slices.Equal(rows[0][:len(csvColumns)], csvColumns) ||
				withDesc && (rows[0][len(csvColumns)] != "d0" || rows[0][cols-1] != "d127") {
				t.Fatalf("CSV header = %q", rows[0])
			}
			// Rows follow the frames in id order, then keypoints in stored order.
			row := 1
			for i, f := range frames {
				for j, k := range f.Keypoints {
					r := rows[row]
					row++
					stream, seq := strconv.FormatUint(f.StreamID, 10), strconv.FormatUint(f.Seq, 10)
					if f.StreamID == 0 && f.Seq == 0 {
						stream, seq = "", ""
					}
					want := []string{strconv.Itoa(i + 1), stream, seq, f.Filename, strconv.FormatInt(f.Timestamp, 10),
						strconv.Itoa(j), fmtFloat(k.X), fmtFloat(k.Y), fmtFloat(k.Size), fmtFloat(k.Angle),
						fmtFloat(k.Response), strconv.Itoa(int(k.Octave))}
					if len(r) != cols || !slices.Equal(r[:len(want)], want) {
						t.Fatalf("row %d = %q; want %q…", row-1, r[:min(len(r), len(want))], want)
					}
					for d := range cols - len(want) {
						v, err := strconv.ParseFloat(r[len(want)+d], 32)
						if err != nil || float32(v) != f.Descriptors[j*db.DescriptorSize+d] {
							t.Fatalf("row %d d%d = %q; want %v", row-1, d, r[len(want)+d], f.Descriptors[j*db.DescriptorSize+d])
						}
					}
				}
			}
		})
	}
}

func TestExportOutFile(t *testing.T) {
	path := newDB(t, exportFrames(t)...)
	want := mustRun(t, "export", "--db", path)
	out := filepath.Join(t.TempDir(), "frames.jsonl")
	if err := os.WriteFile(out, []byte("old content"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := run(t, "export", "--db", path, "--out", out)
	if err != nil || stdout != "" || !strings.Contains(stderr, "exported 4 frames, 2508 keypoints to "+out) {
		t.Fatalf("export --out = %v, stdout %q, stderr %q", err, stdout, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil || string(got) != want {
		t.Fatalf("--out file: %d bytes, %v; want the %d bytes export prints", len(got), err, len(want))
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Errorf("output folder holds %d entries; want only the export (no temporary file)", len(ents))
	}

	// An export that fails leaves an existing file alone.
	_, _, err = run(t, "export", "--db", filepath.Join(t.TempDir(), "none.db"), "--out", out)
	if got2, _ := os.ReadFile(out); err == nil || string(got2) != want {
		t.Errorf("failed export: err %v, file changed: %v", err, string(got2) != want)
	}
}

// countingWriter counts and discards what is written.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(b []byte) (int, error) { w.n += int64(len(b)); return len(b), nil }

// TestExportEmpty: an empty database exports nothing (CSV: the header).
func TestExportEmpty(t *testing.T) {
	path := newDB(t)
	if out := mustRun(t, "export", "--db", path); out != "" {
		t.Errorf("jsonl export of an empty database = %q; want nothing", out)
	}
	out := mustRun(t, "export", "--format", "csv", "--db", path)
	sc := bufio.NewScanner(strings.NewReader(out))
	if n := 0; sc.Scan() && sc.Text() == strings.Join(csvColumns, ",") {
		for sc.Scan() {
			n++
		}
		if n != 0 {
			t.Errorf("csv export of an empty database has %d rows after the header", n)
		}
	} else {
		t.Errorf("csv export of an empty database = %q; want the header", out)
	}
}
