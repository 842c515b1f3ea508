package bench

import (
	"bytes"
	"context"
	goimage "image"
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"github.com/imaging-tui/imaging-tui/wire/probe"
)

func TestUpscale(t *testing.T) {
	src := goimage.NewGray(goimage.Rect(0, 0, 2, 1))
	src.SetGray(0, 0, color.Gray{Y: 0})
	src.SetGray(1, 0, color.Gray{Y: 200})
	got := upscale(src, 8, 2, 0, 0)
	if b := got.Bounds(); b.Dx() != 8 || b.Dy() != 2 {
		t.Fatalf("upscale to 8×2: bounds %v", b)
	}
	noisy := upscale(src, 8, 2, 3, 7)
	for i, v := range noisy.Pix {
		if d := int(v) - int(got.Pix[i]); d < -3 || d > 3 {
			t.Errorf("noise ±3 moved byte %d from %d to %d", i, got.Pix[i], v)
		}
	}
	if again := upscale(src, 8, 2, 3, 7); !bytes.Equal(again.Pix, noisy.Pix) {
		t.Error("upscale with noise and the same seed gave different pixels")
	}
	// Pixel centres: the outer quarter copies the edge pixels, the middle
	// interpolates, monotonically.
	want := []uint8{0, 0, 25, 75, 125, 175, 200, 200}
	for x, w := range want {
		for y := range 2 {
			c := got.RGBAAt(x, y)
			if c.R != w || c.G != w || c.B != w || c.A != 255 {
				t.Errorf("pixel (%d,%d) = %v; want gray %d, opaque", x, y, c, w)
			}
		}
	}
}

// TestMakeLarge generates one frame from the smallest sample image and
// checks it is a 4000×3000 8-bit RGB PNG of the expected size.
func TestMakeLarge(t *testing.T) {
	data, err := os.ReadFile("../../testdata/images/crop_urchins_gray.png")
	if err != nil {
		t.Fatal(err)
	}
	info, err := probe.Probe(data)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	names, err := makeLarge(context.Background(), []image{{name: "crop_urchins_gray.png", data: data, info: info}}, 1, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "large_000_crop_urchins_gray.png" {
		t.Fatalf("makeLarge names = %q", names)
	}
	out, err := os.ReadFile(filepath.Join(dir, names[0]))
	if err != nil {
		t.Fatal(err)
	}
	got, err := probe.Probe(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Format != "png" || got.Width != LargeWidth || got.Height != LargeHeight || got.Channels != 3 {
		t.Errorf("large frame = %+v; want a %d×%d 3-channel png", got, LargeWidth, LargeHeight)
	}
	// The noise makes it about a camera frame's size: 12 MB of noise at
	// least, at most the raw 36 MB.
	if n := len(out); n < 12e6 || n > LargeWidth*LargeHeight*3 {
		t.Errorf("large frame is %d bytes; want 12 MB..36 MB", n)
	}
	imgs, err := loadImages(dir)
	if err != nil || len(imgs) != 1 {
		t.Fatalf("loadImages(large) = %d images, %v", len(imgs), err)
	}
}
