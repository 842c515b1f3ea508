package dbcmd

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/imaging-tui/imaging-tui/db"
)

func completeDB(t *testing.T) string {
	var frames []*db.Frame
	for seq := uint64(1); seq <= 5; seq++ {
		frames = append(frames, testFrame(t, 11, seq, 16, 16, 20))
	}
	return newDB(t, append(frames, testFrame(t, 12, 1, 16, 16, 3))...)
}

func TestVerifyOK(t *testing.T) {
	path := completeDB(t)
	out := mustRun(t, "verify", "--db", path)
	for _, want := range []string{"frames     6 in 2 streams\n", "integrity  ok\n", "verdict: OK\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	var r verifyReport
	if err := json.Unmarshal([]byte(mustRun(t, "verify", "--json", "--db", path)), &r); err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Frames != 6 || len(r.Streams) != 2 || len(r.Problems) != 0 || len(r.Integrity) != 0 {
		t.Errorf("verify --json = %+v; want ok, 6 frames, 2 streams", r)
	}
}

// TestVerifyIncompleteFrame deletes keypoint rows of frame 3 behind db's
// back, with a connection of its own.
func TestVerifyIncompleteFrame(t *testing.T) {
	path := completeDB(t)
	s := openSQL(t, path)
	res, err := s.ExecContext(testCtx(t), "DELETE FROM keypoints WHERE id IN (SELECT id FROM keypoints WHERE image_id = 3 LIMIT 7)")
	if n, _ := res.RowsAffected(); err != nil || n != 7 {
		t.Fatalf("delete keypoints: %d rows, %v", n, err)
	}
	s.Close()

	out, _, err := run(t, "verify", "--db", path)
	if !errors.Is(err, ErrVerify) || errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "1 integrity problem") {
		t.Errorf("verify = %v; want ErrVerify for 1 integrity problem", err)
	}
	for _, want := range []string{"integrity  1 problem\n", "  frame 3: 13 keypoint rows, keypoint_count says 20\n", "verdict: FAILED: 1 integrity problem\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = run(t, "verify", "--json", "--db", path)
	var r verifyReport
	if jerr := json.Unmarshal([]byte(out), &r); jerr != nil || !errors.Is(err, ErrVerify) {
		t.Fatalf("verify --json: %v, %v", jerr, err)
	}
	if r.OK || len(r.Integrity) != 1 || r.Integrity[0].ImageID != 3 {
		t.Errorf("verify --json = %+v; want one problem with frame 3", r)
	}
	// stats still works on the damaged database.
	mustRun(t, "stats", "--db", path)
}

func TestVerifyGaps(t *testing.T) {
	path, _ := gappyDB(t)
	out, _, err := run(t, "verify", "--db", path)
	if !errors.Is(err, ErrVerify) || !strings.Contains(out, "verdict: FAILED: stream 7: 4 sequence numbers missing (3-5, 8)\n") {
		t.Errorf("verify of a stream with gaps = %v:\n%s", err, out)
	}
	out = mustRun(t, "verify", "--allow-gaps", "--db", path)
	if !strings.Contains(out, "warning: stream 7: 4 sequence numbers missing (3-5, 8)\nverdict: OK\n") {
		t.Errorf("verify --allow-gaps:\n%s", out)
	}
}

func TestVerifyDuplicates(t *testing.T) {
	path := completeDB(t)
	// A second copy of stream 11's seq 2: possible only without the
	// unique index, e.g. in a database edited by hand.
	s := openSQL(t, path)
	for _, q := range []string{
		"DROP INDEX idx_images_stream_seq",
		`INSERT INTO images (timestamp, filename, width, height, channels, data_size, image_data, stream_id, seq, keypoint_count)
			SELECT timestamp, filename, width, height, channels, data_size, image_data, stream_id, seq, 0 FROM images WHERE id = 2`,
		"INSERT INTO descriptors (image_id, descriptor_data) VALUES (last_insert_rowid(), x'')",
	} {
		if _, err := s.ExecContext(testCtx(t), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	out, _, err := run(t, "verify", "--db", path)
	if !errors.Is(err, ErrVerify) || !strings.Contains(out, "verdict: FAILED: stream 11: 1 duplicate frame\n") {
		t.Errorf("verify with a duplicate = %v:\n%s", err, out)
	}
}
