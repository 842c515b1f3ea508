package db

import (
	"encoding/binary"
	"math"
	"time"
	"unicode/utf8"
	"unsafe"
)

// DescriptorSize is the number of float32 values in one SIFT descriptor.
const DescriptorSize = 128

// Limits Store enforces; a frame outside them is refused with ErrInvalid.
const (
	// MaxImageBytes is the largest image Store accepts (256 MiB, as the wire).
	MaxImageBytes = 256 << 20
	// MaxKeypoints is the most keypoints one frame may carry (as the wire).
	MaxKeypoints = 1 << 20
	// MaxFilename is the longest filename in bytes (as the seed design).
	MaxFilename = 255
	// MaxDimension bounds Width and Height.
	MaxDimension = 1 << 20
	// MaxChannels bounds Channels.
	MaxChannels = 255
)

// Keypoint is one SIFT keypoint, as the seed stores it.
type Keypoint struct {
	X, Y, Size, Angle, Response float32
	Octave                      int32
}

// Frame is one processed image with its features: what Store writes and
// Image reads back.
type Frame struct {
	// StreamID and Seq identify the frame for deduplication. Both 0 means a
	// seed peer's frame without the extension trailer: stored with NULL
	// stream_id/seq, and deduplicated only with KeyBySeed.
	StreamID, Seq uint64
	// KeyBySeed, for a frame without StreamID and Seq, identifies it by its
	// seed key: Timestamp, Filename, Width, Height, Channels and the image's
	// size, the fields a seed stage passes on. A frame whose seed key a
	// KeyBySeed frame already stored is not stored again. Without it such
	// frames are never deduplicated (two seed-era frames may share a key).
	KeyBySeed bool
	// Timestamp is the wire timestamp, ns since the Unix epoch.
	Timestamp int64

	Filename                string
	Width, Height, Channels int

	// Image is the encoded image, stored byte for byte. Must not be empty.
	Image []byte
	// Keypoints and Descriptors: len(Descriptors) must be
	// DescriptorSize*len(Keypoints); descriptor i is
	// Descriptors[128*i : 128*(i+1)].
	Keypoints   []Keypoint
	Descriptors []float32
	// DescriptorBlob, when not nil, replaces Descriptors with the values
	// already in the stored layout (float32 little-endian, 512 bytes a
	// keypoint), as a receiver that decoded them in place holds them.
	DescriptorBlob []byte

	// Pipeline times; the zero Time means unknown (stored as NULL).
	PublishedAt, ExtractedAt, ReceivedAt time.Time

	// ID and StoredAt are set by Image; Store ignores them.
	ID       int64
	StoredAt time.Time
}

// validate checks f before anything is written.
func (f *Frame) validate() error {
	switch {
	case f == nil:
		return invalidf("nil frame")
	case len(f.Image) == 0:
		return invalidf("empty image")
	case len(f.Image) > MaxImageBytes:
		return invalidf("image of %d bytes (max %d)", len(f.Image), MaxImageBytes)
	case len(f.Filename) > MaxFilename:
		return invalidf("filename of %d bytes (max %d)", len(f.Filename), MaxFilename)
	case !utf8.ValidString(f.Filename):
		return invalidf("filename %q is not UTF-8", f.Filename)
	case f.Width < 0 || f.Width > MaxDimension || f.Height < 0 || f.Height > MaxDimension:
		return invalidf("size %dx%d (max %d)", f.Width, f.Height, MaxDimension)
	case f.Channels < 0 || f.Channels > MaxChannels:
		return invalidf("%d channels (max %d)", f.Channels, MaxChannels)
	case len(f.Keypoints) > MaxKeypoints:
		return invalidf("%d keypoints (max %d)", len(f.Keypoints), MaxKeypoints)
	case f.DescriptorBlob == nil && len(f.Descriptors) != DescriptorSize*len(f.Keypoints):
		return invalidf("%d descriptor values for %d keypoints (want %d)",
			len(f.Descriptors), len(f.Keypoints), DescriptorSize*len(f.Keypoints))
	case f.DescriptorBlob != nil && len(f.DescriptorBlob) != 4*DescriptorSize*len(f.Keypoints):
		return invalidf("%d descriptor bytes for %d keypoints (want %d)",
			len(f.DescriptorBlob), len(f.Keypoints), 4*DescriptorSize*len(f.Keypoints))
	}
	for i, k := range f.Keypoints {
		// SQLite stores NaN as NULL, which the seed's NOT NULL columns refuse.
		if isNaN(k.X) || isNaN(k.Y) || isNaN(k.Size) || isNaN(k.Angle) || isNaN(k.Response) {
			return invalidf("keypoint %d has a NaN field", i)
		}
	}
	return nil
}

func isNaN(f float32) bool { return f != f }

// descriptorBlob returns what the descriptors row stores for f.
func (f *Frame) descriptorBlob() []byte {
	if f.DescriptorBlob != nil {
		return f.DescriptorBlob
	}
	return encodeDescriptors(f.Descriptors)
}

// sequenced reports whether f carries a stream/seq (the extension trailer).
func (f *Frame) sequenced() bool { return f.StreamID != 0 || f.Seq != 0 }

// keyedBySeed reports whether f is deduplicated by its seed key.
func (f *Frame) keyedBySeed() bool { return f.KeyBySeed && !f.sequenced() }

// encodeDescriptors returns the seed's descriptor BLOB layout: the float32
// values little-endian, K×128 of them. On a little-endian machine that is
// the slice's own memory, returned without a copy (megabytes a frame): Store
// binds it where it lies (see raw.go).
func encodeDescriptors(d []float32) []byte {
	if len(d) == 0 {
		return []byte{}
	}
	if littleEndianHost {
		return unsafe.Slice((*byte)(unsafe.Pointer(&d[0])), 4*len(d))
	}
	b := make([]byte, 4*len(d))
	for i, v := range d {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// littleEndianHost reports whether this machine stores a uint32 with its
// low byte first.
var littleEndianHost = func() bool {
	x := uint32(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// appendDescriptors decodes a descriptor BLOB onto d. A trailing partial
// value (a malformed blob) is ignored.
func appendDescriptors(d []float32, b []byte) []float32 {
	for len(b) >= 4 {
		d = append(d, math.Float32frombits(binary.LittleEndian.Uint32(b)))
		b = b[4:]
	}
	return d
}

// nsOrNull maps a time to its ns column value; the zero Time is NULL.
func nsOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}
