package wire_test

import (
	"testing"

	"github.com/imaging-tui/imaging-tui/wire"
)

// benchImage is an IMAGE_DATA frame carrying n bytes of image data with a
// trailer, as the generator sends a large file.
func benchImage(n int) *wire.Frame {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i)
	}
	return &wire.Frame{Type: wire.TypeImage, Timestamp: 1, Width: 7360, Height: 4912, Channels: 3,
		Filename: "underwater/IMG_0001.tif", Data: data, Trailer: &wire.Trailer{StreamID: 1, Seq: 1, PublishedNS: 1}}
}

func benchmarkEncodeImage(b *testing.B, n int) {
	f := benchImage(n)
	b.SetBytes(int64(f.Size()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkDecodeImage(b *testing.B, n int) {
	msg, err := benchImage(n).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wire.DecodeImage(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendImage36MB encodes into a reused buffer: the copy alone,
// without the page faults of a fresh 36 MB buffer that MarshalBinary pays.
func BenchmarkAppendImage36MB(b *testing.B) {
	f := benchImage(36 << 20)
	buf := make([]byte, 0, f.Size())
	b.SetBytes(int64(f.Size()))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = f.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeImage36MB(b *testing.B)  { benchmarkEncodeImage(b, 36<<20) }
func BenchmarkEncodeImage300KB(b *testing.B) { benchmarkEncodeImage(b, 300<<10) }

// Decoding slices Data out of the message, so it costs the same at 36 MB as
// at 300 KB: compare the ns/op (the MB/s figure only grows with the size).
func BenchmarkDecodeImage36MB(b *testing.B)  { benchmarkDecodeImage(b, 36<<20) }
func BenchmarkDecodeImage300KB(b *testing.B) { benchmarkDecodeImage(b, 300<<10) }

// processed5000 is a PROCESSED_DATA frame with 5000 SIFT keypoints (and
// 5000×128 descriptor values) for a 300 KB image.
func processed5000() *wire.Frame {
	f := benchImage(300 << 10)
	f.Type = wire.TypeProcessed
	f.Keypoints = make([]wire.Keypoint, 5000)
	for i := range f.Keypoints {
		f.Keypoints[i] = wire.Keypoint{X: float32(i % 640), Y: float32(i / 640), Size: 2.5, Angle: 45, Response: 0.03, Octave: 1}
	}
	f.Descriptors = make([]float32, 5000*wire.DescriptorSize)
	for i := range f.Descriptors {
		f.Descriptors[i] = float32(i % 256)
	}
	return f
}

// BenchmarkEncodeProcessed encodes into a new buffer, and into a reused
// one (the extractor's way).
func BenchmarkEncodeProcessed(b *testing.B) {
	f := processed5000()
	buf := make([]byte, 0, f.Size())
	for _, bm := range []struct {
		name   string
		encode func() ([]byte, error)
	}{
		{"new", f.MarshalBinary},
		{"reused", func() ([]byte, error) { return f.AppendBinary(buf[:0]) }},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(f.Size()))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bm.encode(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeProcessed decodes into new slices, and in place (the
// logger's way: descriptors swapped to little-endian inside the message;
// each round swaps them back, which is the same work).
func BenchmarkDecodeProcessed(b *testing.B) {
	msg, err := processed5000().MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	for _, bm := range []struct {
		name   string
		decode func([]byte) (*wire.Frame, error)
	}{
		{"new", wire.DecodeProcessed},
		{"in-place", wire.DecodeProcessedInPlace},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bm.decode(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
