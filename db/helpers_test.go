package db

import (
	"context"
	"database/sql"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
)

// testCtx returns a context that ends with the test (or after a minute).
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openTest opens a fresh database in t.TempDir and closes it at cleanup.
func openTest(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	d, err := Open(testCtx(t), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

// makeFrame returns a deterministic frame with an image of imgBytes random
// bytes and nkp keypoints with random descriptors.
func makeFrame(seed uint64, stream, seq uint64, imgBytes, nkp int) *Frame {
	r := rand.New(rand.NewPCG(seed, stream^seq))
	f := &Frame{
		StreamID: stream, Seq: seq,
		Timestamp: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).UnixNano() + int64(seq),
		Filename:  "img_0001.jpg",
		Width:     640, Height: 480, Channels: 3,
		Image:       make([]byte, imgBytes),
		Keypoints:   make([]Keypoint, nkp),
		Descriptors: make([]float32, DescriptorSize*nkp),
		PublishedAt: time.Unix(0, 1_700_000_000_123_456_789),
		ExtractedAt: time.Unix(0, 1_700_000_000_223_456_789),
		ReceivedAt:  time.Unix(0, 1_700_000_000_323_456_789+int64(seq)),
	}
	for i := range f.Image {
		f.Image[i] = byte(r.Uint32())
	}
	for i := range f.Keypoints {
		f.Keypoints[i] = Keypoint{
			X: r.Float32() * 640, Y: r.Float32() * 480, Size: 1 + r.Float32()*30,
			Angle: r.Float32() * 360, Response: r.Float32() / 10, Octave: int32(r.Uint32()),
		}
	}
	for i := range f.Descriptors {
		f.Descriptors[i] = math.Float32frombits(r.Uint32() & 0xff7fffff) // finite, any sign and magnitude
	}
	return f
}

// checkConsistent asserts the file's integrity and that every frame is whole:
// keypoint_count keypoint rows, one descriptor row of 512×keypoint_count bytes.
func checkConsistent(t testing.TB, sdb *sql.DB) {
	t.Helper()
	ctx := testCtx(t)
	var res string
	if err := sdb.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check = %q, %v; want ok", res, err)
	}
	rows, err := sdb.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		t.Fatalf("foreign_key_check: %v", err)
	}
	if rows.Next() {
		t.Errorf("foreign_key_check reports violations")
	}
	rows.Close()
	var bad int
	err = sdb.QueryRowContext(ctx, `SELECT count(*) FROM images i WHERE
		keypoint_count IS NULL
		OR keypoint_count != (SELECT count(*) FROM keypoints k WHERE k.image_id = i.id)
		OR (SELECT count(*) FROM descriptors d WHERE d.image_id = i.id) != 1
		OR (SELECT length(descriptor_data) FROM descriptors d WHERE d.image_id = i.id) != 512 * keypoint_count
		OR data_size != length(image_data)`).Scan(&bad)
	if err != nil || bad != 0 {
		t.Fatalf("%d partial frames (err %v)", bad, err)
	}
	var orphans int
	err = sdb.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM keypoints WHERE image_id NOT IN (SELECT id FROM images)) +
		(SELECT count(*) FROM descriptors WHERE image_id NOT IN (SELECT id FROM images))`).Scan(&orphans)
	if err != nil || orphans != 0 {
		t.Fatalf("%d orphan feature rows (err %v)", orphans, err)
	}
}

func mustCounts(t testing.TB, d *DB) Counts {
	t.Helper()
	c, err := d.Counts(testCtx(t))
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	return c
}
