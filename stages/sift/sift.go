// Package sift extracts SIFT keypoints and descriptors from encoded images
// with OpenCV. It is the only package that imports gocv; nothing of gocv
// crosses its API, only []byte in and Go slices out.
//
// Detect guards the decoder: it reads the image header with probe.Probe and
// refuses an image that declares more than Options.MaxPixels pixels (or
// more than OpenCV's own limits) before any pixel buffer is allocated. It
// then decodes straight to 8-bit grayscale (cv::imdecode with
// IMREAD_GRAYSCALE, through a small wrapper that catches the OpenCV
// exceptions gocv.IMDecode would let abort the process) and runs SIFT.
//
// A Detector is used by one goroutine at a time; run one per worker.
// SetNumThreads is process-wide.
package sift

import (
	"errors"
	"fmt"

	"gocv.io/x/gocv"

	"github.com/imaging-tui/imaging-tui/wire"
	"github.com/imaging-tui/imaging-tui/wire/probe"
)

// Errors returned by Detect, wrapped with a reason; test with errors.Is.
var (
	// ErrDecode means the bytes are not an image OpenCV can decode (or not
	// one whose header probe.Probe can read).
	ErrDecode = errors.New("sift: cannot decode image")
	// ErrTooManyPixels means the header declares more pixels than allowed.
	ErrTooManyPixels = errors.New("sift: image has too many pixels")
)

// OpenCV's decoder limits (CV_IO_MAX_IMAGE_WIDTH/HEIGHT/PIXELS in
// imgcodecs). OpenCV enforces them with an exception; Detect checks them
// first from the header, so the decoder is never asked.
const (
	MaxDimension   = 1 << 20
	MaxPixelsLimit = 1 << 30
)

// DescriptorSize is the length of one SIFT descriptor.
const DescriptorSize = 128

// Options configures a Detector. Zero values select OpenCV's SIFT defaults.
type Options struct {
	// MaxFeatures keeps the best MaxFeatures keypoints by response (more
	// when several tie at the cut). Defaults to 0: keep all.
	MaxFeatures int
	// OctaveLayers is the number of layers in each octave. Defaults to 3.
	OctaveLayers int
	// ContrastThreshold filters weak features. Defaults to 0.04.
	ContrastThreshold float64
	// EdgeThreshold filters edge-like features. Defaults to 10.
	EdgeThreshold float64
	// Sigma is the Gaussian blur of the first octave. Defaults to 1.6.
	Sigma float64
	// MaxPixels is the largest width×height Detect decodes. Defaults to
	// DefaultMaxPixels (100 megapixels); at most MaxPixelsLimit.
	MaxPixels int64
}

// DefaultMaxPixels is the default Options.MaxPixels.
const DefaultMaxPixels = 100_000_000

func (o Options) withDefaults() (Options, error) {
	if o.MaxFeatures < 0 || o.OctaveLayers < 0 || o.ContrastThreshold < 0 ||
		o.EdgeThreshold < 0 || o.Sigma < 0 || o.MaxPixels < 0 {
		return o, fmt.Errorf("sift: negative option in %+v", o)
	}
	if o.OctaveLayers == 0 {
		o.OctaveLayers = 3
	}
	if o.ContrastThreshold == 0 {
		o.ContrastThreshold = 0.04
	}
	if o.EdgeThreshold == 0 {
		o.EdgeThreshold = 10
	}
	if o.Sigma == 0 {
		o.Sigma = 1.6
	}
	if o.MaxPixels == 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.MaxPixels > MaxPixelsLimit {
		return o, fmt.Errorf("sift: MaxPixels %d above OpenCV's limit %d", o.MaxPixels, MaxPixelsLimit)
	}
	return o, nil
}

// Result is what Detect found in one image.
type Result struct {
	// Width and Height are those of the decoded image, which the keypoint
	// coordinates refer to. They can differ from the header's (swapped)
	// when a JPEG's EXIF orientation rotates it, as OpenCV applies it.
	Width, Height int
	Keypoints     []wire.Keypoint
	// Descriptors holds DescriptorSize values per keypoint, row after row.
	Descriptors []float32
}

// Detector runs SIFT with fixed options. It is not safe for concurrent use.
type Detector struct {
	opts Options
	sift siftHandle
}

// New creates a Detector. Close it when done.
func New(o Options) (*Detector, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	h, err := newSIFT(o)
	if err != nil {
		return nil, fmt.Errorf("sift: create: %w", err)
	}
	return &Detector{opts: o, sift: h}, nil
}

// Options returns the Detector's options with defaults filled in.
func (d *Detector) Options() Options { return d.opts }

// Close releases the OpenCV detector. It is idempotent.
func (d *Detector) Close() error {
	d.sift.close()
	return nil
}

// Detect decodes an encoded image (JPEG, PNG, BMP or TIFF) to grayscale and
// returns its SIFT keypoints and descriptors. It returns ErrTooManyPixels,
// without decoding, for an image whose header declares more than
// MaxPixels pixels, and ErrDecode for bytes that are not a decodable image.
func (d *Detector) Detect(encoded []byte) (Result, error) {
	if d.sift.p == nil {
		return Result{}, errors.New("sift: detect on a closed Detector")
	}
	info, err := probe.Probe(encoded)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	if err := d.checkSize(info); err != nil {
		return Result{}, err
	}

	gray, err := imdecode(encoded, gocv.IMReadGrayScale)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	defer gray.Close()
	if gray.Empty() {
		return Result{}, fmt.Errorf("%w: OpenCV could not decode the %s data", ErrDecode, info.Format)
	}

	desc := gocv.NewMat()
	defer desc.Close()
	kps, err := d.sift.detectAndCompute(&gray, &desc)
	if err != nil {
		return Result{}, fmt.Errorf("sift: detect: %w", err)
	}
	res := Result{Width: gray.Cols(), Height: gray.Rows()}
	if len(kps) == 0 {
		return res, nil
	}
	if desc.Rows() != len(kps) || desc.Cols() != DescriptorSize {
		return Result{}, fmt.Errorf("sift: %d keypoints but a %d×%d descriptor matrix", len(kps), desc.Rows(), desc.Cols())
	}
	values, err := desc.DataPtrFloat32()
	if err != nil {
		return Result{}, fmt.Errorf("sift: descriptors: %w", err)
	}
	res.Descriptors = append([]float32(nil), values...) // copy out of the Mat
	res.Keypoints = make([]wire.Keypoint, len(kps))
	for i, k := range kps {
		res.Keypoints[i] = wire.Keypoint{
			X:        float32(k.x),
			Y:        float32(k.y),
			Size:     float32(k.size),
			Angle:    float32(k.angle),
			Response: float32(k.response),
			Octave:   int32(k.octave), // raw OpenCV value: octave | layer<<8 | scale bits
		}
	}
	return res, nil
}

// checkSize applies MaxPixels and OpenCV's decoder limits to a header.
func (d *Detector) checkSize(info probe.Info) error {
	if px := info.Pixels(); px > d.opts.MaxPixels {
		return fmt.Errorf("%w: %s header declares %d×%d = %d pixels, max %d",
			ErrTooManyPixels, info.Format, info.Width, info.Height, px, d.opts.MaxPixels)
	}
	if info.Width > MaxDimension || info.Height > MaxDimension {
		return fmt.Errorf("%w: %s header declares %d×%d, max %d on a side",
			ErrTooManyPixels, info.Format, info.Width, info.Height, MaxDimension)
	}
	return nil
}
