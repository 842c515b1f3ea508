package dbcmd

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg" // registers the JPEG decoder for image.Decode
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/wire/probe"
)

var drawCmd = &command{
	name:    "draw",
	args:    "ID|latest",
	summary: "the stored image with its SIFT keypoints drawn, as a PNG",
	about: `Decodes the frame's stored image (JPEG or PNG; BMP and TIFF are not supported
by this build), draws each SIFT keypoint as a circle of radius size/2 (at
least 2 px) with a line from the centre along its orientation (OpenCV's
convention: degrees, clockwise in image coordinates from the +x axis; none
for angle -1), and writes a PNG. A JPEG's EXIF orientation is applied first,
as OpenCV applies it before SIFT, so the keypoints line up. "latest" is the
newest frame. The file is replaced only when the drawing succeeds.
`,
	setup: func(fs *flag.FlagSet) func(context.Context, *cmdEnv) error {
		out := fs.String("out", "", "write the PNG to `FILE` (default frame-ID.png)")
		return func(ctx context.Context, c *cmdEnv) error {
			arg, err := c.idArg()
			if err != nil {
				return err
			}
			d, err := openDB(ctx, c.dbPath)
			if err != nil {
				return err
			}
			defer d.Close()
			id, err := frameArg(ctx, d, arg)
			if err != nil {
				return err
			}
			path := *out
			if path == "" {
				path = frameFile(id)
			}
			res, err := drawFrame(ctx, d, id, path)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "wrote %s: frame %d, %dx%d, %d keypoints\n", path, id, res.width, res.height, res.keypoints)
			return nil
		}
	},
}

// ErrUnsupportedImage is wrapped by Draw's error when the stored image is in
// a format this build cannot decode (BMP, TIFF) or is too large to draw.
var ErrUnsupportedImage = errors.New("image not supported by draw")

// MaxDrawPixels bounds the images Draw decodes (4 bytes a pixel in memory).
const MaxDrawPixels = 200_000_000

// Colours of the drawing: circles magenta, orientation lines yellow, both
// rare in underwater imagery.
var (
	circleColor = color.RGBA{255, 0, 255, 255}
	lineColor   = color.RGBA{255, 255, 0, 255}
)

// frameFile is the default file name of frame id's drawing.
func frameFile(id int64) string { return fmt.Sprintf("frame-%d.png", id) }

// Draw writes frame id of d as a PNG file at out, with its SIFT keypoints
// drawn on the image: a circle of radius size/2 (at least 2 px) and a line
// from the centre along the keypoint's angle. out is replaced only when the
// drawing succeeds. The error wraps db.ErrNotFound for a missing frame and
// ErrUnsupportedImage for an image draw cannot decode.
func Draw(ctx context.Context, d *db.DB, id int64, out string) error {
	_, err := drawFrame(ctx, d, id, out)
	return err
}

// DrawLatest opens the database at dbPath read-only, draws its newest frame
// into outDir (created if needed) as stream-STREAM-seq-SEQ.png (the names
// the stages' logs use; frame-ID.png for a frame without them) and returns
// that file's path. It is what the console's draw key runs. The error wraps
// db.ErrNotFound when the database holds no frame.
func DrawLatest(ctx context.Context, dbPath, outDir string) (string, error) {
	d, err := openDB(ctx, dbPath)
	if err != nil {
		return "", err
	}
	defer d.Close()
	id, err := frameArg(ctx, d, "latest")
	if err != nil {
		return "", err
	}
	if outDir == "" {
		outDir = "."
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("db draw: %w", err)
	}
	name := frameFile(id)
	if f, err := d.Image(ctx, id); err == nil && (f.StreamID != 0 || f.Seq != 0) {
		name = fmt.Sprintf("stream-%d-seq-%d.png", f.StreamID, f.Seq)
	}
	path := filepath.Join(outDir, name)
	if _, err := drawFrame(ctx, d, id, path); err != nil {
		return "", err
	}
	return path, nil
}

type drawResult struct{ width, height, keypoints int }

func drawFrame(ctx context.Context, d *db.DB, id int64, out string) (drawResult, error) {
	f, err := d.Image(ctx, id)
	if err != nil {
		return drawResult{}, notFound(err, id, d.Path())
	}
	img, err := decodeImage(f.Image)
	if err != nil {
		return drawResult{}, fmt.Errorf("db draw: frame %d (%s): %w", id, f.Filename, err)
	}
	drawKeypoints(img, f.Keypoints)
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	_, err = writeFileAtomic(out, func(w io.Writer) (struct{}, error) {
		return struct{}{}, enc.Encode(w, img)
	})
	if err != nil {
		return drawResult{}, fmt.Errorf("db draw: write %s: %w", out, err)
	}
	b := img.Bounds()
	return drawResult{b.Dx(), b.Dy(), len(f.Keypoints)}, nil
}

// decodeImage decodes an encoded image into RGBA with its origin at 0,0,
// applying a JPEG's EXIF orientation.
func decodeImage(b []byte) (*image.RGBA, error) {
	info, err := probe.Probe(b)
	if err == nil {
		switch {
		case info.Format == probe.FormatBMP || info.Format == probe.FormatTIFF:
			return nil, fmt.Errorf("%w: %s (this build decodes JPEG and PNG only)", ErrUnsupportedImage, info.Format)
		case info.Pixels() > MaxDrawPixels:
			return nil, fmt.Errorf("%w: %dx%d is over %d pixels", ErrUnsupportedImage, info.Width, info.Height, MaxDrawPixels)
		}
	}
	src, format, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decode image: %w", err)
	}
	sb := src.Bounds()
	if int64(sb.Dx())*int64(sb.Dy()) > MaxDrawPixels { // a format Probe does not know
		return nil, fmt.Errorf("%w: %dx%d is over %d pixels", ErrUnsupportedImage, sb.Dx(), sb.Dy(), MaxDrawPixels)
	}
	rgba := image.NewRGBA(image.Rect(0, 0, sb.Dx(), sb.Dy()))
	draw.Draw(rgba, rgba.Bounds(), src, sb.Min, draw.Src)
	if format == "jpeg" {
		rgba = orient(rgba, exifOrientation(b))
	}
	return rgba, nil
}

// drawKeypoints draws each keypoint on img. Lines are thicker on large
// images so the drawing stays visible when scaled down to a screen.
func drawKeypoints(img *image.RGBA, kps []db.Keypoint) {
	b := img.Bounds()
	t := max(1, int(math.Round(float64(min(b.Dx(), b.Dy()))/600)))
	for _, k := range kps {
		cx, cy := float64(k.X), float64(k.Y)
		r := max(float64(k.Size)/2, 2)
		ix, iy := int(math.Round(cx)), int(math.Round(cy))
		circle(img, ix, iy, int(math.Round(r)), t, circleColor)
		if k.Angle >= 0 { // OpenCV uses -1 for "no orientation"
			a := float64(k.Angle) * math.Pi / 180
			ex, ey := int(math.Round(cx+r*math.Cos(a))), int(math.Round(cy+r*math.Sin(a)))
			line(img, ix, iy, ex, ey, t, lineColor)
		}
		dot(img, ix, iy, t, lineColor) // the centre, also for angle -1
	}
}

// dot sets a t×t square centred on x, y, clipped to img.
func dot(img *image.RGBA, x, y, t int, c color.RGBA) {
	x0, y0 := x-(t-1)/2, y-(t-1)/2
	r := image.Rect(x0, y0, x0+t, y0+t).Intersect(img.Rect)
	for py := r.Min.Y; py < r.Max.Y; py++ {
		for px := r.Min.X; px < r.Max.X; px++ {
			img.SetRGBA(px, py, c)
		}
	}
}

// circle draws a circle of radius r with the midpoint algorithm.
func circle(img *image.RGBA, cx, cy, r, t int, c color.RGBA) {
	if r < 0 || !image.Rect(cx-r-t, cy-r-t, cx+r+t+1, cy+r+t+1).Overlaps(img.Rect) {
		return
	}
	x, y, e := r, 0, 1-r
	for x >= y {
		for _, p := range [8][2]int{{x, y}, {y, x}, {-y, x}, {-x, y}, {-x, -y}, {-y, -x}, {y, -x}, {x, -y}} {
			dot(img, cx+p[0], cy+p[1], t, c)
		}
		y++
		if e < 0 {
			e += 2*y + 1
		} else {
			x--
			e += 2*(y-x) + 1
		}
	}
}

// line draws a line from x0, y0 to x1, y1 with Bresenham's algorithm.
func line(img *image.RGBA, x0, y0, x1, y1, t int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		dot(img, x0, y0, t, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int { return max(v, -v) }

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
