package wire_test

import (
	"bytes"
	"encoding/hex"
	"math"
	"strings"
	"testing"

	"github.com/imaging-tui/imaging-tui/wire"
)

// The golden vectors below are written by hand from the layout in DESIGN.md
// ("Wire format") and doc.go, never produced by the encoder under test. Each
// hex string is one field; the comment names it.

// hx decodes hex written with spaces, one field a line, each line's comment
// after "#". It panics on a typo, which only a broken test file can cause.
func hx(s string) []byte {
	var digits strings.Builder
	for line := range strings.Lines(s) {
		line, _, _ = strings.Cut(line, "#")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		panic("bad hex in test vector: " + err.Error())
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Fields common to the IMAGE_DATA and PROCESSED_DATA golden vectors.
var (
	goldenHeader = hx(`
		1122334455667788 # timestamp 0x1122334455667788 ns
		00000280         # width 640
		000001e0         # height 480
		00000003         # channels 3
		00000004         # data size 4
		00000005         # filename length 5
		612e6a7067       # filename "a.jpg"
		ffd8ffd9         # data: JPEG SOI + EOI`)

	// Two keypoints, then 256 descriptor values (2 × 128, SIFT-shaped): the
	// first row all 1.0 (0x3f800000), the second all 0.5 (0x3f000000).
	goldenFeatures = cat(hx(`
		00000002 # keypoint count 2
		3f800000 # x 1.0
		40000000 # y 2.0
		3fc00000 # size 1.5
		42b40000 # angle 90.0
		3e800000 # response 0.25
		ffffffff # octave -1
		41200000 # x 10.0
		c0400000 # y -3.0
		40800000 # size 4.0
		43b38000 # angle 359.0
		3c23d70a # response 0.01
		00010200 # octave 0x10200 (SIFT packs octave, layer and scale)
		00000100 # descriptor count 256`),
		bytes.Repeat(hx("3f800000"), 128),
		bytes.Repeat(hx("3f000000"), 128))

	goldenImageTrailer = hx(`
		49545549         # magic "ITUI"
		01               # version 1
		20               # body length 32
		a1a2a3a4a5a6a7a8 # stream id
		000000000000002a # seq 42
		179c3b8e00000001 # published ns
		0000000000000000 # extracted ns: not yet`)

	goldenProcessedTrailer = hx(`
		49545549         # magic "ITUI"
		01               # version 1
		20               # body length 32
		a1a2a3a4a5a6a7a8 # stream id
		000000000000002a # seq 42
		179c3b8e00000001 # published ns
		179c3b8e00000002 # extracted ns`)

	goldenImage              = cat(hx("01"), goldenHeader)
	goldenImageWithTrailer   = cat(goldenImage, goldenImageTrailer)
	goldenProcessed          = cat(hx("02"), goldenHeader, goldenFeatures)
	goldenProcessedWithTrail = cat(goldenProcessed, goldenProcessedTrailer)

	goldenAck = hx(`
		10               # type ACK
		a1a2a3a4a5a6a7a8 # stream id
		00000003         # count 3
		0000000000000001 # seq 1
		000000000000002a # seq 42
		ffffffffffffffff # seq 2^64-1`)
)

// Offsets of fields in the golden vectors, counted by hand from the layout.
const (
	offDataSize   = 1 + 8 + 4 + 4 + 4      // 21
	offNameLen    = offDataSize + 4        // 25
	offName       = offNameLen + 4         // 29
	offData       = offName + 5            // 34: "a.jpg" is 5 bytes
	offKeyCount   = offData + 4            // 38: 4 data bytes
	offDescCount  = offKeyCount + 4 + 2*24 // 90
	offDescValues = offDescCount + 4       // 94
	trailerLen    = 4 + 1 + 1 + 32         // magic, version, length, v1 body
)

// wantImage is what goldenImage holds, field by field.
func wantImage() *wire.Frame {
	return &wire.Frame{
		Type:      wire.TypeImage,
		Timestamp: 0x1122334455667788,
		Width:     640,
		Height:    480,
		Channels:  3,
		Filename:  "a.jpg",
		Data:      []byte{0xff, 0xd8, 0xff, 0xd9},
	}
}

func wantProcessed() *wire.Frame {
	f := wantImage()
	f.Type = wire.TypeProcessed
	f.Keypoints = []wire.Keypoint{
		{X: 1, Y: 2, Size: 1.5, Angle: 90, Response: 0.25, Octave: -1},
		{X: 10, Y: -3, Size: 4, Angle: 359, Response: 0.01, Octave: 0x10200},
	}
	f.Descriptors = make([]float32, 256)
	for i := range f.Descriptors {
		f.Descriptors[i] = 1
		if i >= 128 {
			f.Descriptors[i] = 0.5
		}
	}
	return f
}

func imageTrailer() *wire.Trailer {
	return &wire.Trailer{StreamID: 0xa1a2a3a4a5a6a7a8, Seq: 42, PublishedNS: 0x179c3b8e00000001}
}

func processedTrailer() *wire.Trailer {
	t := imageTrailer()
	t.ExtractedNS = 0x179c3b8e00000002
	return t
}

func withTrailer(f *wire.Frame, t *wire.Trailer) *wire.Frame {
	f.Trailer = t
	return f
}

// equalFrames compares frames field by field: floats by their bits (so NaN
// equals itself) and nil equal to empty slices.
func equalFrames(t *testing.T, got, want *wire.Frame) {
	t.Helper()
	if got.Type != want.Type || got.Timestamp != want.Timestamp || got.Width != want.Width ||
		got.Height != want.Height || got.Channels != want.Channels || got.Filename != want.Filename {
		t.Errorf("header = {%v ts=%#x %dx%dx%d %q}; want {%v ts=%#x %dx%dx%d %q}",
			got.Type, got.Timestamp, got.Width, got.Height, got.Channels, got.Filename,
			want.Type, want.Timestamp, want.Width, want.Height, want.Channels, want.Filename)
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Errorf("Data = % x; want % x", head(got.Data), head(want.Data))
	}
	if len(got.Keypoints) != len(want.Keypoints) {
		t.Errorf("len(Keypoints) = %d; want %d", len(got.Keypoints), len(want.Keypoints))
	} else {
		for i, g := range got.Keypoints {
			if w := want.Keypoints[i]; keypointBits(g) != keypointBits(w) {
				t.Errorf("Keypoints[%d] = %+v; want %+v", i, g, w)
			}
		}
	}
	if len(got.Descriptors) != len(want.Descriptors) {
		t.Errorf("len(Descriptors) = %d; want %d", len(got.Descriptors), len(want.Descriptors))
	} else {
		for i, g := range got.Descriptors {
			if w := want.Descriptors[i]; math.Float32bits(g) != math.Float32bits(w) {
				t.Errorf("Descriptors[%d] = %v; want %v", i, g, w)
				break
			}
		}
	}
	switch {
	case (got.Trailer == nil) != (want.Trailer == nil):
		t.Errorf("Trailer = %+v; want %+v", got.Trailer, want.Trailer)
	case got.Trailer != nil && *got.Trailer != *want.Trailer:
		t.Errorf("Trailer = %+v; want %+v", *got.Trailer, *want.Trailer)
	}
}

func keypointBits(k wire.Keypoint) [6]uint32 {
	return [6]uint32{math.Float32bits(k.X), math.Float32bits(k.Y), math.Float32bits(k.Size),
		math.Float32bits(k.Angle), math.Float32bits(k.Response), uint32(k.Octave)}
}

// head shortens b for failure messages.
func head(b []byte) []byte {
	if len(b) > 48 {
		return b[:48]
	}
	return b
}

// patch returns a copy of b with a big-endian u32 v written at off.
func patch(b []byte, off int, v uint32) []byte {
	c := bytes.Clone(b)
	c[off], c[off+1], c[off+2], c[off+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	return c
}

// exact returns b[:n] with capacity n, so a decoder that reads past the end
// of its input panics instead of reading the spare capacity.
func exact(b []byte, n int) []byte { return b[:n:n] }
