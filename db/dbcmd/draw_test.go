package dbcmd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imaging-tui/imaging-tui/db"
)

// drawKeypointsFixture are keypoints at known places in a 200×150 image:
// small (radius clamps to 2 px), one without orientation (-1), one at the
// border (clipped), and large ones at 0°, 90° and 225°.
var drawKeypointsFixture = []db.Keypoint{
	{X: 20, Y: 20, Size: 1, Angle: 0, Response: 0.1},
	{X: 60.4, Y: 30.6, Size: 12, Angle: 90, Response: 0.1},
	{X: 120, Y: 40, Size: 30, Angle: 225, Response: 0.1},
	{X: 40, Y: 110, Size: 16, Angle: -1, Response: 0.1},
	{X: 0, Y: 149, Size: 10, Angle: 45, Response: 0.1},
	{X: 160, Y: 100, Size: 20, Angle: 0, Response: 0.1},
}

func drawFixtureFrame(t *testing.T, encoded []byte) *db.Frame {
	f := testFrame(t, 3, 1, 200, 150, 0)
	f.Image = encoded
	f.Keypoints = drawKeypointsFixture
	f.Descriptors = make([]float32, db.DescriptorSize*len(f.Keypoints))
	return f
}

// decodeRGBA decodes b as image.Decode does and converts it to RGBA.
func decodeRGBA(t *testing.T, b []byte) *image.RGBA {
	t.Helper()
	src, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	img := image.NewRGBA(image.Rect(0, 0, src.Bounds().Dx(), src.Bounds().Dy()))
	draw.Draw(img, img.Bounds(), src, src.Bounds().Min, draw.Src)
	return img
}

func readPNG(t *testing.T, path string) *image.RGBA {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	return decodeRGBA(t, b)
}

// checkDrawing compares a drawing with the original image: same size, the
// pixel at each keypoint centre and the end of each orientation line
// changed, every pixel farther than the radius (+2 px) from all keypoints
// unchanged.
func checkDrawing(t *testing.T, got, orig *image.RGBA, kps []db.Keypoint) {
	t.Helper()
	if got.Bounds() != orig.Bounds() {
		t.Fatalf("drawing is %v; want the image's %v", got.Bounds(), orig.Bounds())
	}
	changed := func(x, y int) bool { return got.RGBAAt(x, y) != orig.RGBAAt(x, y) }
	for i, k := range kps {
		r := math.Max(float64(k.Size)/2, 2)
		x, y := int(math.Round(float64(k.X))), int(math.Round(float64(k.Y)))
		if !changed(x, y) {
			t.Errorf("keypoint %d: centre %d,%d unchanged", i, x, y)
		}
		if got.RGBAAt(x, y) != lineColor {
			t.Errorf("keypoint %d: centre %d,%d is %v; want %v", i, x, y, got.RGBAAt(x, y), lineColor)
		}
		// The circle passes through the four points R px left, right, above
		// and below the centre.
		R := int(math.Round(r))
		for _, p := range []image.Point{{x - R, y}, {x + R, y}, {x, y - R}, {x, y + R}} {
			if p.In(got.Bounds()) && !changed(p.X, p.Y) {
				t.Errorf("keypoint %d: circle of radius %d at %v unchanged", i, R, p)
			}
		}
		if k.Angle >= 0 { // the orientation line, halfway out
			a := float64(k.Angle) * math.Pi / 180
			lx, ly := int(math.Round(float64(k.X)+r/2*math.Cos(a))), int(math.Round(float64(k.Y)+r/2*math.Sin(a)))
			if image.Pt(lx, ly).In(got.Bounds()) && got.RGBAAt(lx, ly) != lineColor {
				t.Errorf("keypoint %d (angle %v): line at %d,%d is %v; want %v", i, k.Angle, lx, ly, got.RGBAAt(lx, ly), lineColor)
			}
		}
	}
	far := 0
	b := got.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			near := false
			for _, k := range kps {
				r := math.Max(float64(k.Size)/2, 2)
				if math.Hypot(float64(x)-float64(k.X), float64(y)-float64(k.Y)) <= r+2 {
					near = true
					break
				}
			}
			if near {
				continue
			}
			far++
			if changed(x, y) {
				t.Fatalf("pixel %d,%d, far from every keypoint, changed from %v to %v", x, y, orig.RGBAAt(x, y), got.RGBAAt(x, y))
			}
		}
	}
	if far < b.Dx()*b.Dy()/2 {
		t.Fatalf("only %d pixels far from keypoints checked", far)
	}
}

func TestDraw(t *testing.T) {
	pic := testPicture(200, 150)
	gray := image.NewGray(pic.Bounds())
	draw.Draw(gray, gray.Bounds(), pic, image.Point{}, draw.Src)
	tests := []struct {
		name    string
		encoded []byte
	}{
		{"png", encodePNG(t, pic)},
		{"jpeg", encodeJPEG(t, pic)},
		{"gray-png", encodePNG(t, gray)},
		{"gray-jpeg", encodeJPEG(t, gray)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := newDB(t, drawFixtureFrame(t, tt.encoded))
			out := filepath.Join(t.TempDir(), "kp.png")
			stdout := mustRun(t, "draw", "1", "--out", out, "--db", path)
			if want := "wrote " + out + ": frame 1, 200x150, 6 keypoints\n"; stdout != want {
				t.Errorf("draw printed %q; want %q", stdout, want)
			}
			checkDrawing(t, readPNG(t, out), decodeRGBA(t, tt.encoded), drawKeypointsFixture)
		})
	}
}

func TestDrawLatestAndDefaultOut(t *testing.T) {
	first := drawFixtureFrame(t, encodePNG(t, testPicture(200, 150)))
	second := drawFixtureFrame(t, encodePNG(t, testPicture(90, 70)))
	second.Seq, second.Keypoints, second.Descriptors = 2, drawKeypointsFixture[:1], make([]float32, db.DescriptorSize)
	path := newDB(t, first, second)

	// The console's entry point: a new folder, the frame named by stream
	// and sequence number in it, as the logs name it.
	dir := filepath.Join(t.TempDir(), "a", "b")
	got, err := DrawLatest(testCtx(t), path, dir)
	if want := filepath.Join(dir, "stream-3-seq-2.png"); err != nil || got != want {
		t.Fatalf("DrawLatest = %q, %v; want %q", got, err, want)
	}
	checkDrawing(t, readPNG(t, got), decodeRGBA(t, second.Image), second.Keypoints)

	// The command without --out writes frame-ID.png in the current folder.
	t.Chdir(t.TempDir())
	if out := mustRun(t, "draw", "latest", "--db", path); !strings.HasPrefix(out, "wrote frame-2.png: frame 2, 90x70, 1 keypoints") {
		t.Errorf("draw latest printed %q", out)
	}
	if img := readPNG(t, "frame-2.png"); img.Bounds().Dx() != 90 {
		t.Errorf("frame-2.png is %v; want 90x70", img.Bounds())
	}
	// Draw on an open database, as the console could.
	d, err := db.OpenReadOnly(testCtx(t), path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := Draw(testCtx(t), d, 1, "one.png"); err != nil {
		t.Fatalf("Draw(1) = %v", err)
	}
	checkDrawing(t, readPNG(t, "one.png"), decodeRGBA(t, first.Image), first.Keypoints)
	if err := Draw(testCtx(t), d, 9, "nine.png"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("Draw(9) = %v; want db.ErrNotFound", err)
	}
	if _, err := os.Stat("nine.png"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Draw of a missing frame left a file: %v", err)
	}

	empty := newDB(t)
	if _, err := DrawLatest(testCtx(t), empty, t.TempDir()); !errors.Is(err, db.ErrNotFound) || err.Error() != "no frames in "+empty {
		t.Errorf("DrawLatest on an empty database = %v; want no frames in %s, wrapping db.ErrNotFound", err, empty)
	}
	if _, err := DrawLatest(testCtx(t), "missing.db", t.TempDir()); err == nil || err.Error() != "no database at missing.db" {
		t.Errorf("DrawLatest on a missing database = %v; want no database at missing.db", err)
	}
}

// withOrientation inserts an EXIF APP1 segment with orientation o after the
// SOI of a JPEG.
func withOrientation(jpg []byte, o uint16) []byte {
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08" + // big-endian, IFD0 at 8
		"\x00\x01" + // one entry
		"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00" + // orientation, SHORT, 1 value
		"\x00\x00\x00\x00") // no next IFD
	binary.BigEndian.PutUint16(tiff[8+2+8:], o)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := binary.BigEndian.AppendUint16([]byte{0xff, 0xe1}, uint16(len(seg)+2))
	out := append([]byte{0xff, 0xd8}, app1...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// TestDrawEXIFOrientation: OpenCV 4.6's imdecode (what the extractor runs)
// turns a 64×32 JPEG with orientation 6 into 32×64 — its pixel at the
// top-left is the stored bottom-left — and SIFT's keypoints are in those
// coordinates, so draw must turn the image the same way.
func TestDrawEXIFOrientation(t *testing.T) {
	stored := image.NewGray(image.Rect(0, 0, 64, 32))
	for y := range 32 {
		for x := range 64 {
			stored.SetGray(x, y, color.Gray{uint8(x * 4)}) // dark left, bright right
		}
	}
	plain := encodeJPEG(t, stored)
	if o := exifOrientation(plain); o != 1 {
		t.Fatalf("exifOrientation(no EXIF) = %d; want 1", o)
	}
	want := map[int]image.Point{1: {64, 32}, 3: {64, 32}, 6: {32, 64}, 8: {32, 64}}
	for o, size := range want {
		b := withOrientation(plain, uint16(o))
		if got := exifOrientation(b); got != o {
			t.Fatalf("exifOrientation = %d; want %d", got, o)
		}
		img, err := decodeImage(b)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds().Size() != size {
			t.Errorf("orientation %d: %v; want %v", o, img.Bounds().Size(), size)
		}
		// Where the stored image's bright right edge ends up.
		bright := map[int]image.Point{1: {63, 0}, 3: {0, 0}, 6: {0, 63}, 8: {0, 0}}[o]
		dark := map[int]image.Point{1: {0, 0}, 3: {63, 0}, 6: {0, 0}, 8: {0, 63}}[o]
		if b, d := img.RGBAAt(bright.X, bright.Y).R, img.RGBAAt(dark.X, dark.Y).R; b < 200 || d > 50 {
			t.Errorf("orientation %d: pixel %v = %d, %v = %d; want bright, dark", o, bright, b, dark, d)
		}
	}
	// All eight orientations are permutations of the pixels.
	src := testPicture(5, 3)
	for o := 1; o <= 8; o++ {
		got := orient(src, o)
		if o >= 5 != (got.Bounds().Dx() == 3) {
			t.Errorf("orient(%d) size %v", o, got.Bounds())
		}
		seen := map[color.RGBA]bool{}
		for y := range got.Bounds().Dy() {
			for x := range got.Bounds().Dx() {
				seen[got.RGBAAt(x, y)] = true
			}
		}
		if len(seen) != 15 {
			t.Errorf("orient(%d) has %d distinct pixels; want 15", o, len(seen))
		}
	}
}

// bmp returns a 4×2 24-bit BMP, which Store accepts and draw cannot decode.
func bmp() []byte {
	b := make([]byte, 54+2*12)
	copy(b, "BM")
	binary.LittleEndian.PutUint32(b[2:], uint32(len(b)))
	binary.LittleEndian.PutUint32(b[10:], 54)
	binary.LittleEndian.PutUint32(b[14:], 40)
	binary.LittleEndian.PutUint32(b[18:], 4)
	binary.LittleEndian.PutUint32(b[22:], 2)
	binary.LittleEndian.PutUint16(b[26:], 1)
	binary.LittleEndian.PutUint16(b[28:], 24)
	return b
}

// tiff returns the header of a 4×2 TIFF, enough for probe to name it.
func tiff() []byte {
	b := []byte("II*\x00\x08\x00\x00\x00\x02\x00")
	b = append(b, 0, 1, 3, 0, 1, 0, 0, 0, 4, 0, 0, 0) // ImageWidth SHORT 4
	b = append(b, 1, 1, 3, 0, 1, 0, 0, 0, 2, 0, 0, 0) // ImageLength SHORT 2
	return append(b, 0, 0, 0, 0)
}

// hugePNG returns a 1×1 PNG whose header claims 30000×20000 pixels: a
// decompression bomb draw must refuse before allocating.
func hugePNG(t *testing.T) []byte {
	b := encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	ihdr := b[8+8 : 8+8+13] // after the signature, length and type
	binary.BigEndian.PutUint32(ihdr[0:], 30000)
	binary.BigEndian.PutUint32(ihdr[4:], 20000)
	binary.BigEndian.PutUint32(b[8+8+13:], crc32.ChecksumIEEE(b[8+4:8+8+13]))
	return b
}

func TestDrawUnsupported(t *testing.T) {
	tests := []struct {
		name  string
		image []byte
		want  error
		msg   string
	}{
		{"bmp", bmp(), ErrUnsupportedImage, "bmp (this build decodes JPEG and PNG only)"},
		{"tiff", tiff(), ErrUnsupportedImage, "tiff (this build decodes JPEG and PNG only)"},
		{"huge-png", hugePNG(t), ErrUnsupportedImage, "30000x20000 is over 200000000 pixels"},
		{"garbage", []byte("not an image at all"), nil, "decode image: image: unknown format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := drawFixtureFrame(t, tt.image)
			path := newDB(t, f)
			out := filepath.Join(t.TempDir(), "x.png")
			_, _, err := run(t, "draw", "1", "--db", path, "--out", out)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) ||
				errors.Is(err, ErrUsage) {
				t.Errorf("draw = %v; want an error containing %q", err, tt.msg)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("failed draw left %s: %v", out, err)
			}
		})
	}
}
