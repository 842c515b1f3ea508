package wire_test

import (
	"bytes"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/imaging-tui/imaging-tui/wire"
)

func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		msg    []byte
		decode func([]byte) (*wire.Frame, error)
		want   *wire.Frame
	}{
		{"image", goldenImage, wire.DecodeImage, wantImage()},
		{"image with trailer", goldenImageWithTrailer, wire.DecodeImage, withTrailer(wantImage(), imageTrailer())},
		{"processed", goldenProcessed, wire.DecodeProcessed, wantProcessed()},
		{"processed with trailer", goldenProcessedWithTrail, wire.DecodeProcessed, withTrailer(wantProcessed(), processedTrailer())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := bytes.Clone(tt.msg)
			got, err := tt.decode(msg)
			if err != nil {
				t.Fatalf("decode(% x) = %v; want nil error", head(msg), err)
			}
			equalFrames(t, got, tt.want)
			if &got.Data[0] != &msg[offData] {
				t.Errorf("Data does not slice into the message at byte %d", offData)
			}

			// Decode, whichever the type, agrees.
			any, err := wire.Decode(msg)
			if err != nil {
				t.Fatalf("Decode(% x) = %v; want nil error", head(msg), err)
			}
			equalFrames(t, any, tt.want)

			// Encoding the hand-written frame gives the hand-written bytes.
			enc, err := tt.want.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary() = %v", err)
			}
			if !bytes.Equal(enc, tt.msg) {
				t.Errorf("MarshalBinary() =\n% x\nwant\n% x", enc, tt.msg)
			}
			if n := tt.want.Size(); n != len(tt.msg) {
				t.Errorf("Size() = %d; want %d", n, len(tt.msg))
			}
			if len(enc) != cap(enc) {
				t.Errorf("MarshalBinary() len %d, cap %d; want one exact allocation", len(enc), cap(enc))
			}
		})
	}
}

// TestSeedCompat decodes messages as a seed peer (the original C++ design)
// sends them: no trailer. They decode with a nil Trailer and re-encode to the
// same bytes, so a frame passes through our stages unchanged.
func TestSeedCompat(t *testing.T) {
	image := hx(`
		01                                       # IMAGE_DATA
		187a5f3c00000000                         # timestamp
		00000f00 00000870 00000003               # 3840 × 2160 × 3
		00000008                                 # data size 8
		00000017                                 # filename length 23
		756e64657277617465722f494d475f303030312e706e67 # "underwater/IMG_0001.png"
		89504e470d0a1a0a                         # data: the PNG signature`)
	processed := cat(hx("02"), image[1:], hx(`
		00000001                                     # one keypoint
		43480000 43960000 40a00000 00000000 3d4ccccd 00000002 # (200, 300) size 5 angle 0 response 0.05 octave 2
		00000080                                     # 128 descriptor values`),
		bytes.Repeat(hx("00000000"), 127), hx("437f0000")) // 127 × 0.0, then 255.0

	for _, tt := range []struct {
		name   string
		msg    []byte
		decode func([]byte) (*wire.Frame, error)
	}{
		{"image", image, wire.DecodeImage},
		{"processed", processed, wire.DecodeProcessed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.decode(tt.msg)
			if err != nil {
				t.Fatalf("decode(seed %s) = %v; want nil error", tt.name, err)
			}
			if f.Trailer != nil {
				t.Errorf("Trailer = %+v; want nil for a seed message", *f.Trailer)
			}
			if f.Timestamp != 0x187a5f3c00000000 || f.Width != 3840 || f.Height != 2160 || f.Channels != 3 ||
				f.Filename != "underwater/IMG_0001.png" || !bytes.Equal(f.Data, hx("89504e470d0a1a0a")) {
				t.Errorf("decoded %+v", f)
			}
			if tt.name == "processed" {
				want := wire.Keypoint{X: 200, Y: 300, Size: 5, Angle: 0, Response: 0.05, Octave: 2}
				if len(f.Keypoints) != 1 || f.Keypoints[0] != want {
					t.Errorf("Keypoints = %+v; want [%+v]", f.Keypoints, want)
				}
				if len(f.Descriptors) != 128 || f.Descriptors[0] != 0 || f.Descriptors[127] != 255 {
					t.Errorf("Descriptors = %v; want 127 zeros then 255", f.Descriptors)
				}
			}
			out, err := f.MarshalBinary()
			if err != nil || !bytes.Equal(out, tt.msg) {
				t.Errorf("re-encode = % x, %v; want the seed bytes % x", head(out), err, head(tt.msg))
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	sift := func(k int) (kps []wire.Keypoint, desc []float32) {
		for i := range k {
			kps = append(kps, wire.Keypoint{X: float32(i) * 1.25, Y: float32(i) * 2.5, Size: 1.6,
				Angle: float32(i % 360), Response: 0.02, Octave: int32(i % 4)})
		}
		desc = make([]float32, k*wire.DescriptorSize)
		for i := range desc {
			desc[i] = float32(i % 256)
		}
		return kps, desc
	}
	kps, desc := sift(3)
	nan := func(bits uint32) float32 { return math.Float32frombits(bits) }
	full := &wire.Trailer{StreamID: math.MaxUint64, Seq: math.MaxUint64, PublishedNS: math.MaxUint64, ExtractedNS: math.MaxUint64}

	tests := []struct {
		name string
		f    *wire.Frame
	}{
		{"image zero", &wire.Frame{Type: wire.TypeImage}},
		{"image zero with zero trailer", &wire.Frame{Type: wire.TypeImage, Trailer: &wire.Trailer{}}},
		{"image utf-8 name", &wire.Frame{Type: wire.TypeImage, Timestamp: 1, Width: 2, Height: 3, Channels: 1,
			Filename: "tauchgänge/ålesund 海.jpg", Data: bytes.Repeat([]byte{0xab, 0xcd}, 500)}},
		{"image 255-byte name", &wire.Frame{Type: wire.TypeImage, Filename: strings.Repeat("n", 255), Data: []byte{1}}},
		{"image max fields", &wire.Frame{Type: wire.TypeImage, Timestamp: math.MaxUint64, Width: math.MaxUint32,
			Height: math.MaxUint32, Channels: math.MaxUint32, Filename: "x", Data: []byte{0}, Trailer: full}},
		{"golden image", withTrailer(wantImage(), imageTrailer())},
		{"processed empty", &wire.Frame{Type: wire.TypeProcessed}},
		{"processed empty with trailer", &wire.Frame{Type: wire.TypeProcessed, Trailer: full}},
		{"processed sift", &wire.Frame{Type: wire.TypeProcessed, Timestamp: 7, Width: 64, Height: 48, Channels: 1,
			Filename: "f.png", Data: []byte("\x89PNG"), Keypoints: kps, Descriptors: desc, Trailer: processedTrailer()}},
		{"processed descriptors without keypoints", &wire.Frame{Type: wire.TypeProcessed, Descriptors: []float32{1, 2, 3}}},
		{"processed keypoints without descriptors", &wire.Frame{Type: wire.TypeProcessed, Keypoints: kps[:1]}},
		{"processed special floats", &wire.Frame{Type: wire.TypeProcessed,
			Keypoints: []wire.Keypoint{
				{X: nan(0x7fc00000), Y: nan(0x7fc00001), Size: nan(0xffc0dead), Angle: float32(math.Inf(1)),
					Response: float32(math.Inf(-1)), Octave: math.MinInt32},
				{X: nan(0x80000000) /* -0 */, Y: nan(0x00000001) /* denormal */, Size: math.MaxFloat32,
					Angle: math.SmallestNonzeroFloat32, Response: -math.MaxFloat32, Octave: math.MaxInt32},
			},
			Descriptors: []float32{nan(0x7fc00000), nan(0x80000000), float32(math.Inf(1)), 0}}},
		{"golden processed", withTrailer(wantProcessed(), processedTrailer())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := tt.f.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary() = %v", err)
			}
			if len(enc) != tt.f.Size() {
				t.Errorf("len(MarshalBinary()) = %d; Size() = %d", len(enc), tt.f.Size())
			}
			got, err := wire.Decode(enc)
			if err != nil {
				t.Fatalf("Decode(% x) = %v; want nil error", head(enc), err)
			}
			equalFrames(t, got, tt.f)
			checkInPlace(t, enc) // odd and even descriptor counts, swapped eight bytes at a time
			again, err := got.MarshalBinary()
			if err != nil || !bytes.Equal(again, enc) {
				t.Errorf("re-encode = % x, %v; want % x", head(again), err, head(enc))
			}
			prefix := []byte("prefix")
			app, err := tt.f.AppendBinary(bytes.Clone(prefix))
			if err != nil || !bytes.Equal(app, cat(prefix, enc)) {
				t.Errorf("AppendBinary(prefix) = % x, %v; want prefix then % x", head(app), err, head(enc))
			}
		})
	}
}

// validMessages are the messages whose every prefix TestDecodeTruncated
// tries. seedLen is where the seed content ends (len(msg) without trailer).
func validMessages() []struct {
	name    string
	msg     []byte
	seedLen int
} {
	noName := hx(`01 0000000000000000 00000000 00000000 00000000 00000000 00000000`)
	return []struct {
		name    string
		msg     []byte
		seedLen int
	}{
		{"image", goldenImage, len(goldenImage)},
		{"image with trailer", goldenImageWithTrailer, len(goldenImage)},
		{"image empty name and data", noName, len(noName)},
		{"processed", goldenProcessed, len(goldenProcessed)},
		{"processed with trailer", goldenProcessedWithTrail, len(goldenProcessed)},
	}
}

// TestDecodeTruncated cuts valid messages at every byte offset. Every prefix
// is an error (ErrTruncated, or ErrTrailer inside the trailer) and never a
// panic, except the one that ends exactly where the seed content ends: that
// is a valid message without a trailer, as a seed peer would send.
func TestDecodeTruncated(t *testing.T) {
	for _, tt := range validMessages() {
		t.Run(tt.name, func(t *testing.T) {
			for i := range len(tt.msg) {
				for _, dec := range []struct {
					name string
					fn   func([]byte) (*wire.Frame, error)
					typ  wire.Type // 0: any
				}{
					{"Decode", wire.Decode, 0},
					{"DecodeImage", wire.DecodeImage, wire.TypeImage},
					{"DecodeProcessed", wire.DecodeProcessed, wire.TypeProcessed},
				} {
					if dec.typ != 0 && dec.typ != wire.Type(tt.msg[0]) {
						continue // the wrong decoder for this type: TestWrongType covers it
					}
					f, err := dec.fn(exact(tt.msg, i))
					if i == tt.seedLen && i > 0 {
						if err != nil || f.Trailer != nil {
							t.Errorf("%s(msg[:%d]) = %+v, %v; want the frame without trailer", dec.name, i, f, err)
						}
						continue
					}
					if err == nil {
						t.Fatalf("%s(msg[:%d]) = %+v, nil; want an error", dec.name, i, f)
					}
					if !errors.Is(err, wire.ErrTruncated) && !errors.Is(err, wire.ErrTrailer) {
						t.Errorf("%s(msg[:%d]) = %v; want ErrTruncated or ErrTrailer", dec.name, i, err)
					}
					var de *wire.DecodeError
					if !errors.As(err, &de) || de.Offset < 0 || de.Offset > i {
						t.Errorf("%s(msg[:%d]) = %#v; want a *DecodeError with Offset in [0, %d]", dec.name, i, err, i)
					}
				}
			}
		})
	}
}

// be32 writes v big-endian by hand, for the lying-length messages.
func be32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// pad100 pads b with 0x5a bytes to the 100 bytes of a small hostile message.
func pad100(b []byte) []byte { return cat(b, bytes.Repeat([]byte{0x5a}, 100-len(b))) }

// lieImage is a 100-byte IMAGE_DATA message with the given declared sizes.
func lieImage(dataSize, nameLen uint32) []byte {
	return pad100(cat(hx("01 1122334455667788 00000280 000001e0 00000003"), be32(dataSize), be32(nameLen), []byte("a.jpg")))
}

// lieKeypoints is a 100-byte PROCESSED_DATA message declaring k keypoints
// (the keypoint count is at byte 38).
func lieKeypoints(k uint32) []byte { return pad100(cat(hx("02"), goldenHeader, be32(k))) }

// lieDescriptors is a 100-byte PROCESSED_DATA message with no keypoints that
// declares n descriptor values (the descriptor count is at byte 42).
func lieDescriptors(n uint32) []byte {
	return pad100(cat(hx("02"), goldenHeader, hx("00000000"), be32(n)))
}

// TestDecodeLyingLengths gives declared lengths larger than the bytes that
// follow, up to 0xFFFFFFFF. Each is a named error at the lying field (or at
// the bytes it failed to find), and decoding allocates next to nothing: a
// 100-byte message declaring 4 GB costs well under 1 KB.
func TestDecodeLyingLengths(t *testing.T) {
	tests := []struct {
		name   string
		msg    []byte
		want   error
		field  string
		offset int
	}{
		{"data size 4 GB", lieImage(0xffffffff, 5), wire.ErrTooLarge, "data size", offDataSize},
		{"data size over limit", lieImage(wire.MaxImageBytes+1, 5), wire.ErrTooLarge, "data size", offDataSize},
		{"data size at limit", lieImage(wire.MaxImageBytes, 5), wire.ErrTruncated, "image data", offData},
		{"data size one more", patch(goldenImage, offDataSize, 5), wire.ErrTruncated, "image data", offData},
		{"filename length 4 GB", lieImage(4, 0xffffffff), wire.ErrFilename, "filename length", offNameLen},
		{"filename length 256", lieImage(4, 256), wire.ErrFilename, "filename length", offNameLen},
		{"filename length past end", patch(goldenImage, offNameLen, 10), wire.ErrTruncated, "filename", offName},
		{"filename length 255 past end", lieImage(4, 255), wire.ErrTruncated, "filename", offName},
		{"keypoint count 4 G", lieKeypoints(0xffffffff), wire.ErrTooLarge, "keypoint count", offKeyCount},
		{"keypoint count over limit", lieKeypoints(wire.MaxKeypoints + 1), wire.ErrTooLarge, "keypoint count", offKeyCount},
		{"keypoint count at limit", lieKeypoints(wire.MaxKeypoints), wire.ErrTruncated, "keypoints", offKeyCount + 4},
		{"keypoint count past end", patch(goldenProcessed, offKeyCount, 45), wire.ErrTruncated, "keypoints", offKeyCount + 4},
		{"descriptor count 4 G", lieDescriptors(0xffffffff), wire.ErrTooLarge, "descriptor count", offKeyCount + 4},
		{"descriptor count over limit", lieDescriptors(wire.MaxKeypoints*wire.DescriptorSize + 1), wire.ErrTooLarge, "descriptor count", offKeyCount + 4},
		{"descriptor count at limit", lieDescriptors(wire.MaxKeypoints * wire.DescriptorSize), wire.ErrTruncated, "descriptors", offKeyCount + 8},
		{"descriptor count one more", patch(goldenProcessed, offDescCount, 257), wire.ErrTruncated, "descriptors", offDescValues},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := wire.Decode(tt.msg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode(% x) = %+v, %v; want %v", head(tt.msg), f, err, tt.want)
			}
			var de *wire.DecodeError
			if !errors.As(err, &de) || de.Field != tt.field || de.Offset != tt.offset {
				t.Errorf("Decode() = %#v; want field %q at byte %d", err, tt.field, tt.offset)
			}
			if len(tt.msg) == 100 {
				if n := allocBytes(200, func() { wire.Decode(tt.msg) }); n >= 1024 {
					t.Errorf("Decode of a 100-byte message allocates %d bytes; want < 1 KB", n)
				}
			}
		})
	}
}

// allocBytes returns the bytes fn allocates per call, averaged over runs.
func allocBytes(runs int, fn func()) uint64 {
	fn() // warm up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		fn()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

func TestFilenameLimit(t *testing.T) {
	for _, n := range []int{wire.MaxFilename + 1, 1000} {
		f := &wire.Frame{Type: wire.TypeImage, Filename: strings.Repeat("n", n)}
		if b, err := f.MarshalBinary(); !errors.Is(err, wire.ErrFilename) {
			t.Errorf("MarshalBinary(%d-byte filename) = % x, %v; want ErrFilename", n, head(b), err)
		}
		f.Type = wire.TypeProcessed
		if _, err := f.MarshalBinary(); !errors.Is(err, wire.ErrFilename) {
			t.Errorf("MarshalBinary(processed, %d-byte filename) = %v; want ErrFilename", n, err)
		}
	}

	name := func(n int) []byte {
		return cat(hx("01 0000000000000000 00000001 00000001 00000001 00000000"), be32(uint32(n)), bytes.Repeat([]byte("n"), n))
	}
	if f, err := wire.DecodeImage(name(255)); err != nil || len(f.Filename) != 255 {
		t.Errorf("DecodeImage(255-byte filename) = %v; want a 255-byte name", err)
	}
	if f, err := wire.DecodeImage(name(256)); !errors.Is(err, wire.ErrFilename) {
		t.Errorf("DecodeImage(256-byte filename) = %+v, %v; want ErrFilename", f, err)
	}
}

func TestWrongType(t *testing.T) {
	img, proc := goldenImage, goldenProcessed
	retype := func(b []byte, typ byte) []byte { c := bytes.Clone(b); c[0] = typ; return c }
	tests := []struct {
		name   string
		decode func([]byte) (*wire.Frame, error)
		msg    []byte
	}{
		{"DecodeImage of processed", wire.DecodeImage, proc},
		{"DecodeProcessed of image", wire.DecodeProcessed, img},
		{"DecodeImage of type 0", wire.DecodeImage, retype(img, 0)},
		{"Decode of type 0", wire.Decode, retype(img, 0)},
		{"Decode of heartbeat", wire.Decode, retype(img, 3)},
		{"Decode of shutdown", wire.Decode, retype(img, 4)},
		{"Decode of ack", wire.Decode, goldenAck},
		{"Decode of 0xff", wire.Decode, retype(proc, 0xff)},
		{"DecodeImage of one byte", wire.DecodeImage, []byte{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.decode(tt.msg)
			var de *wire.DecodeError
			if !errors.Is(err, wire.ErrType) || !errors.As(err, &de) || de.Field != "type" || de.Offset != 0 {
				t.Errorf("decode(% x) = %+v, %v; want ErrType at byte 0", head(tt.msg), f, err)
			}
		})
	}
	if _, err := wire.DecodeAck(img); !errors.Is(err, wire.ErrType) {
		t.Errorf("DecodeAck(image) = %v; want ErrType", err)
	}
	for _, typ := range []wire.Type{0, wire.TypeHeartbeat, wire.TypeShutdown, wire.TypeAck} {
		f := &wire.Frame{Type: typ}
		if b, err := f.AppendBinary([]byte("keep")); !errors.Is(err, wire.ErrType) || string(b) != "keep" {
			t.Errorf("AppendBinary(%v) = %q, %v; want the input and ErrType", typ, b, err)
		}
	}
	if err := (&wire.DecodeError{Field: "type", Err: wire.ErrType, Detail: "got HEARTBEAT"}).Error(); !strings.Contains(err, "unexpected message type") {
		t.Errorf("DecodeError.Error() = %q", err)
	}
	_, err := wire.Decode(retype(img, 3))
	if got, want := err.Error(), "wire: unexpected message type: type at byte 0: got HEARTBEAT, want IMAGE_DATA or PROCESSED_DATA"; got != want {
		t.Errorf("Decode(heartbeat) error = %q; want %q", got, want)
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		f    *wire.Frame
		want error
	}{
		{"image with keypoints", &wire.Frame{Type: wire.TypeImage, Keypoints: make([]wire.Keypoint, 1)}, wire.ErrMismatch},
		{"image with descriptors", &wire.Frame{Type: wire.TypeImage, Descriptors: make([]float32, 128)}, wire.ErrMismatch},
		{"too many keypoints", &wire.Frame{Type: wire.TypeProcessed, Keypoints: make([]wire.Keypoint, wire.MaxKeypoints+1)}, wire.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.f.MarshalBinary(); !errors.Is(err, tt.want) {
				t.Errorf("MarshalBinary() = % x, %v; want %v", head(b), err, tt.want)
			}
		})
	}
}

func TestTrailingGarbage(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
	}{
		{"one byte", cat(goldenImage, []byte{0})},
		{"not a trailer", cat(goldenImage, bytes.Repeat([]byte("JUNK"), 10))},
		{"magic only", cat(goldenImage, []byte("ITUI"))},
		{"lowercase magic", cat(goldenImage, []byte("itui"), goldenImageTrailer[4:])},
		{"trailer then a byte", cat(goldenImageWithTrailer, []byte{0})},
		{"two trailers", cat(goldenImageWithTrailer, goldenImageTrailer)},
		{"trailer version 0", cat(goldenImage, hx("49545549 00 20"), goldenImageTrailer[6:])},
		{"trailer body 31 bytes", cat(goldenImage, hx("49545549 01 1f"), goldenImageTrailer[6:37])},
		{"trailer declares more", cat(goldenImage, hx("49545549 01 28"), goldenImageTrailer[6:])},
		{"trailer declares less", cat(goldenImage, hx("49545549 01 20"), goldenImageTrailer[6:], hx("00"))},
		{"processed then garbage", cat(goldenProcessed, []byte("garbage"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := wire.Decode(tt.msg)
			if err == nil {
				t.Fatalf("Decode(% x) = %+v, nil; want an error", tt.msg[len(goldenImage):], f)
			}
			// "ITUI" alone is a trailer cut short of its version byte.
			if !errors.Is(err, wire.ErrTrailer) && !(tt.name == "magic only" && errors.Is(err, wire.ErrTruncated)) {
				t.Errorf("Decode() = %v; want ErrTrailer", err)
			}
		})
	}
}

// TestFutureTrailer: a later trailer version with a longer body decodes; the
// v1 fields are read and the rest skipped.
func TestFutureTrailer(t *testing.T) {
	tests := []struct {
		name    string
		trailer []byte
	}{
		{"v2 with 8 more bytes", cat(hx("49545549 02 28"), goldenImageTrailer[6:], hx("0102030405060708"))},
		{"v1 with 1 more byte", cat(hx("49545549 01 21"), goldenImageTrailer[6:], hx("ee"))},
		{"v255 with 255-byte body", cat(hx("49545549 ff ff"), goldenImageTrailer[6:], bytes.Repeat([]byte{0xee}, 255-32))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := cat(goldenImage, tt.trailer)
			f, err := wire.DecodeImage(msg)
			if err != nil {
				t.Fatalf("DecodeImage(% x) = %v; want nil error", tt.trailer, err)
			}
			equalFrames(t, f, withTrailer(wantImage(), imageTrailer()))
		})
	}
}

// TestDataAliasesInput: Data slices into the message, without a copy, and
// its capacity ends with it, so appending to Data cannot overwrite the bytes
// after it.
func TestDataAliasesInput(t *testing.T) {
	for _, tt := range []struct {
		name string
		msg  []byte
	}{{"image", goldenImageWithTrailer}, {"processed", goldenProcessedWithTrail}} {
		t.Run(tt.name, func(t *testing.T) {
			msg := bytes.Clone(tt.msg)
			f, err := wire.Decode(msg)
			if err != nil {
				t.Fatal(err)
			}
			if &f.Data[0] != &msg[offData] || len(f.Data) != 4 || cap(f.Data) != 4 {
				t.Fatalf("Data = %p len %d cap %d; want %p len 4 cap 4", &f.Data[0], len(f.Data), cap(f.Data), &msg[offData])
			}
			msg[offData] = 0x42
			if f.Data[0] != 0x42 {
				t.Errorf("after writing the message, Data[0] = %#x; want 0x42 (a view, not a copy)", f.Data[0])
			}
			after := msg[offData+4]
			_ = append(f.Data, 0x99)
			if msg[offData+4] != after {
				t.Errorf("append(Data) overwrote the byte after the image data")
			}
			// Keypoints and descriptors are converted, so they are not views.
			if f.Type == wire.TypeProcessed {
				msg[offKeyCount+4] ^= 0xff
				if f.Keypoints[0].X != 1 {
					t.Errorf("Keypoints changed with the message buffer")
				}
			}
		})
	}
}

func TestPeekType(t *testing.T) {
	if typ, err := wire.PeekType(nil); !errors.Is(err, wire.ErrTruncated) {
		t.Errorf("PeekType(nil) = %v, %v; want ErrTruncated", typ, err)
	}
	for _, tt := range []struct {
		msg  []byte
		want wire.Type
	}{{goldenImage, wire.TypeImage}, {goldenProcessed, wire.TypeProcessed}, {goldenAck, wire.TypeAck}, {[]byte{3}, wire.TypeHeartbeat}} {
		if typ, err := wire.PeekType(tt.msg); err != nil || typ != tt.want {
			t.Errorf("PeekType(%#x...) = %v, %v; want %v", tt.msg[0], typ, err, tt.want)
		}
	}
	for typ, want := range map[wire.Type]string{1: "IMAGE_DATA", 2: "PROCESSED_DATA", 3: "HEARTBEAT",
		4: "SHUTDOWN", 0x10: "ACK", 9: "type(9)"} {
		if got := typ.String(); got != want {
			t.Errorf("Type(%d).String() = %q; want %q", uint8(typ), got, want)
		}
	}
}

func TestDecodeErrorText(t *testing.T) {
	_, err := wire.DecodeImage(patch(goldenImage, offDataSize, 5))
	want := "wire: message truncated: image data at byte 34: needs 5 bytes, 4 remain"
	if err == nil || err.Error() != want {
		t.Errorf("DecodeImage(data size 5 of 4) error = %v; want %q", err, want)
	}
	if got := (&wire.DecodeError{Field: "f", Offset: 3, Err: wire.ErrTrailer}).Error(); got != "wire: bad extension trailer: f at byte 3" {
		t.Errorf("DecodeError without detail = %q", got)
	}
}

// TestEncodeInPlace reads "image data" straight into a message buffer at
// DataOffset and encodes around it: the same bytes as MarshalBinary, in the
// same buffer, with the data left where it was read.
func TestEncodeInPlace(t *testing.T) {
	data := []byte("pretend this is a JPEG")
	f := wire.Frame{Type: wire.TypeImage, Timestamp: 7, Width: 3, Height: 2, Channels: 1, Filename: "a.jpg",
		Trailer: &wire.Trailer{StreamID: 1, Seq: 2, PublishedNS: 3}}
	off := f.DataOffset()
	buf := make([]byte, f.Size()+len(data))
	copy(buf[off:], data) // the file read
	f.Data = buf[off : off+len(data)]
	msg, err := f.AppendBinary(buf[:0])
	if err != nil {
		t.Fatal(err)
	}
	want, err := (&wire.Frame{Type: f.Type, Timestamp: 7, Width: 3, Height: 2, Channels: 1, Filename: "a.jpg",
		Data: data, Trailer: f.Trailer}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msg, want) {
		t.Fatalf("in place:\n% x\nwant:\n% x", msg, want)
	}
	if &msg[0] != &buf[0] || len(msg) != len(buf) {
		t.Errorf("the message left its buffer (len %d of %d)", len(msg), len(buf))
	}
	got, err := wire.DecodeImage(msg)
	if err != nil || !bytes.Equal(got.Data, data) {
		t.Errorf("decode = %q, %v; want %q", got.Data, err, data)
	}
	// Data elsewhere in the spare capacity is appended as usual.
	other := make([]byte, f.Size()+len(data))
	copy(other[off+1:], data)
	f.Data = other[off+1 : off+1+len(data)]
	if msg, err := f.AppendBinary(other[:0]); err != nil || !bytes.Equal(msg, want) {
		t.Errorf("data one byte off its place: % x, %v", msg, err)
	}
}
