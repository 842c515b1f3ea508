package dbcmd

import (
	"bytes"
	"context"
	"database/sql"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"

	_ "modernc.org/sqlite" // the "sqlite" driver, to damage a database behind db's back
)

// testCtx returns a context that ends with the test (or after two minutes).
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newDB creates a database in t.TempDir with db.Open, stores frames in it
// and closes it. It returns the path.
func newDB(t testing.TB, frames ...*db.Frame) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	d, err := db.Open(testCtx(t), path)
	if err != nil {
		t.Fatalf("db.Open(%q): %v", path, err)
	}
	defer d.Close()
	for i, f := range frames {
		if _, ok, err := d.Store(testCtx(t), f); err != nil || !ok {
			t.Fatalf("Store(frame %d) = %v, %v; want inserted", i, ok, err)
		}
	}
	return path
}

// openSQL opens path with the SQLite driver directly (not through db), for
// a test to change what db would never change.
func openSQL(t testing.TB, path string) *sql.DB {
	t.Helper()
	s, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// run runs Main with args and returns its stdout and stderr.
func run(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = Main(testCtx(t), args, &o, &e)
	return o.String(), e.String(), err
}

// mustRun runs Main and fails the test on an error.
func mustRun(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, args...)
	if err != nil {
		t.Fatalf("Main(%q) = %v; stderr:\n%s", args, err, errOut)
	}
	return out
}

// testPicture is a smooth gradient: red grows to the right, green
// downwards, blue stays near 128, so no pixel is ever the drawing's magenta
// or yellow.
func testPicture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatalf("png.Encode: %v", err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatalf("jpeg.Encode: %v", err)
	}
	return b.Bytes()
}

// baseTime is when test frames are published.
var baseTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// testFrame returns a frame of stream/seq with a real PNG image of w×h and
// nkp random keypoints inside it with random descriptors, published at
// baseTime+seq seconds, extracted 100 ms and received 150 ms later.
func testFrame(t testing.TB, stream, seq uint64, w, h, nkp int) *db.Frame {
	t.Helper()
	r := rand.New(rand.NewPCG(stream, seq))
	pub := baseTime.Add(time.Duration(seq) * time.Second)
	f := &db.Frame{
		StreamID: stream, Seq: seq,
		Timestamp: pub.UnixNano(),
		Filename:  "reef, \"north\" 01.png", // CSV must quote this
		Width:     w, Height: h, Channels: 3,
		Image:       encodePNG(t, testPicture(w, h)),
		Keypoints:   make([]db.Keypoint, nkp),
		Descriptors: make([]float32, db.DescriptorSize*nkp),
		PublishedAt: pub,
		ExtractedAt: pub.Add(100 * time.Millisecond),
		ReceivedAt:  pub.Add(150 * time.Millisecond),
	}
	for i := range f.Keypoints {
		f.Keypoints[i] = db.Keypoint{
			X: r.Float32() * float32(w), Y: r.Float32() * float32(h), Size: 1.6 + r.Float32()*20,
			Angle: r.Float32() * 360, Response: r.Float32() / 10,
			Octave: int32(r.IntN(5)-1)&0xff | int32(r.IntN(3))<<8 | int32(r.IntN(256))<<16,
		}
	}
	for i := range f.Descriptors {
		f.Descriptors[i] = float32(r.IntN(256)) + r.Float32()
	}
	return f
}
