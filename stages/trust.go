package stages

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/imaging-tui/imaging-tui/wire"
	"github.com/imaging-tui/imaging-tui/wire/probe"
)

// A message's header declares the image's size, and the extractor's memory
// budget and the database's rows would believe it. Nothing that can be
// checked is taken on trust: the real size is read from the image bytes'
// own header (probe, no decoding) and the message is rejected when the two
// disagree.

// errSizeLie is wrapped by the errors of checkImage for a declared size
// that is not the image's.
var errSizeLie = errors.New("declared size is not the image's")

// checkImage returns the real size of f's image, read from its header, and
// an error when the header cannot be read or f declares another size. A
// size declared the other way round passes: a seed generator that decoded
// the file (OpenCV turns it upright by its EXIF orientation) declares the
// upright size, which the header states on its side.
func checkImage(f *wire.Frame) (probe.Info, error) {
	info, err := probe.Probe(f.Data)
	if err != nil {
		return info, fmt.Errorf("image data: %w", err)
	}
	w, h := uint64(f.Width), uint64(f.Height)
	iw, ih := uint64(info.Width), uint64(info.Height)
	if (w != iw || h != ih) && (w != ih || h != iw) {
		return info, fmt.Errorf("%w: declared %d×%d, %s header says %d×%d", errSizeLie, w, h, info.Format, iw, ih)
	}
	return info, nil
}

// checkProcessed checks what the logger is about to store: an image of the
// size f declares, and keypoints that are numbers within it.
func checkProcessed(f *wire.Frame) error {
	if _, err := checkImage(f); err != nil {
		return err
	}
	side := float32(max(f.Width, f.Height)) // upright or on its side: see checkImage
	for i, k := range f.Keypoints {
		for _, v := range []float32{k.X, k.Y, k.Size, k.Angle, k.Response} {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("keypoint %d: %v is not a number", i, v)
			}
		}
		if k.X < 0 || k.Y < 0 || k.X > side || k.Y > side {
			return fmt.Errorf("keypoint %d at (%g, %g) lies outside the %d×%d image", i, k.X, k.Y, f.Width, f.Height)
		}
	}
	return nil
}

// skip counts a message the stage could not use as an error and logs why:
// at most once a second, with the number skipped without a line since, so
// that a flood of bad input costs no more than its reading.
func skip(c *counters, bad *limiter, log *slog.Logger, what string, err error, attrs ...any) {
	c.fail(err)
	if ok, n := bad.allow(time.Now()); ok {
		log.Warn(what, append(attrs, "err", err, "suppressed", n)...)
	}
}
