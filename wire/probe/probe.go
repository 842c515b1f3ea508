// Package probe reads the dimensions and channel count of an encoded image
// from its header alone, without decoding any pixels.
//
// It recognises JPEG, PNG, BMP and TIFF (classic and BigTIFF). It is pure Go,
// allocates nothing proportional to its input, never panics on hostile bytes
// and is safe for concurrent use. Callers use it to reject decompression bombs
// (an image whose header declares billions of pixels) before a decoder
// allocates the pixel buffer, and to fill in IMAGE_DATA width/height/channels.
//
// Probe checks the structure it reads (marker and segment lengths, the PNG
// IHDR CRC, TIFF IFD bounds) but does not validate the rest of the file: an
// image that probes fine may still fail to decode.
package probe

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Errors returned by Probe, always wrapped with a reason; test with errors.Is.
var (
	// ErrUnknownFormat means the bytes start with no signature Probe knows
	// (this includes empty input and text).
	ErrUnknownFormat = errors.New("probe: unknown image format")
	// ErrTruncated means the input ends before the header Probe needs.
	ErrTruncated = errors.New("probe: truncated image header")
	// ErrCorrupt means the header is present but invalid.
	ErrCorrupt = errors.New("probe: corrupt image header")
)

// Format names reported in Info.Format.
const (
	FormatJPEG = "jpeg"
	FormatPNG  = "png"
	FormatBMP  = "bmp"
	FormatTIFF = "tiff"
)

// maxDim bounds each dimension so that Width and Height fit an int32 and
// Width*Height fits an int64 on every platform.
const maxDim = 1<<31 - 1

// Info describes an encoded image as declared by its header.
type Info struct {
	Format   string // FormatJPEG, FormatPNG, FormatBMP or FormatTIFF
	Width    int    // pixels, > 0
	Height   int    // pixels, > 0
	Channels int    // samples per pixel as the file stores them (palette images count as 3)
}

// Pixels returns Width*Height.
func (i Info) Pixels() int64 { return int64(i.Width) * int64(i.Height) }

var signatures = []struct {
	magic string
	probe func([]byte) (Info, error)
}{
	{"\xff\xd8", probeJPEG},
	{pngSignature, probePNG},
	{"BM", probeBMP},
	{"II*\x00", probeTIFF},
	{"MM\x00*", probeTIFF},
	{"II+\x00", probeTIFF},
	{"MM\x00+", probeTIFF},
}

// Probe identifies the image format of b and reads its dimensions and
// channel count from the header. Only as many bytes as the header needs are
// read; b may be a prefix of the file if it holds the whole header (for TIFF
// the first IFD, which writers often place after the pixel data).
//
// Empty input and input matching no signature return ErrUnknownFormat; input
// that is a strict prefix of a signature, or ends inside the header, returns
// ErrTruncated; an invalid header returns ErrCorrupt.
func Probe(b []byte) (Info, error) {
	if len(b) == 0 {
		return Info{}, fmt.Errorf("%w: empty input", ErrUnknownFormat)
	}
	for _, s := range signatures {
		if len(b) >= len(s.magic) && string(b[:len(s.magic)]) == s.magic {
			return s.probe(b)
		}
	}
	for _, s := range signatures {
		if len(b) < len(s.magic) && strings.HasPrefix(s.magic, string(b)) {
			return Info{}, fmt.Errorf("%w: %d bytes, a partial signature", ErrTruncated, len(b))
		}
	}
	return Info{}, fmt.Errorf("%w: starts with %q", ErrUnknownFormat, head(b))
}

// head returns up to 8 leading bytes for error messages.
func head(b []byte) []byte {
	return b[:min(len(b), 8)]
}

// IsImageName reports whether name has an extension Probe understands:
// .jpg, .jpeg, .png, .bmp, .tif or .tiff, in any letter case.
func IsImageName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff":
		return true
	}
	return false
}

// truncated and corrupt build the wrapped errors with a format prefix.
func truncated(format, reason string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrTruncated, format, fmt.Sprintf(reason, args...))
}

func corrupt(format, reason string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, format, fmt.Sprintf(reason, args...))
}
