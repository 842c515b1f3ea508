package db

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"
)

func TestStoreRoundTrip(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)

	special := makeFrame(9, 7, 1, 10, 4)
	// Not -0: SQLite stores an integral REAL as an integer, so -0 reads back as +0.
	special.Keypoints[0] = Keypoint{X: 0, Y: math.SmallestNonzeroFloat32, Size: math.MaxFloat32,
		Angle: float32(math.Inf(1)), Response: float32(math.Inf(-1)), Octave: math.MinInt32}
	special.Keypoints[1].Octave = math.MaxInt32
	special.Descriptors[0] = float32(math.NaN()) // NaN is fine inside the BLOB
	special.Descriptors[1] = float32(math.Inf(-1))

	tests := []struct {
		name string
		f    *Frame
	}{
		{"no keypoints", makeFrame(1, 1, 1, 1000, 0)},
		{"one keypoint", makeFrame(2, 1, 2, 1, 1)},
		{"odd batch split", makeFrame(3, 1, 3, 5000, 2*kpBatch+kpBatch/2+7)},
		{"many keypoints", makeFrame(4, 1, 4, 300_000, 5000)},
		{"high stream id and seq", makeFrame(5, math.MaxUint64-1, 1<<63+5, 100, 3)},
		{"seed frame", func() *Frame {
			f := makeFrame(6, 0, 0, 100, 2)
			f.PublishedAt, f.ExtractedAt, f.ReceivedAt = time.Time{}, time.Time{}, time.Time{}
			f.Filename = ""
			return f
		}()},
		{"special floats", special},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			id, inserted, err := d.Store(ctx, tt.f)
			if err != nil || !inserted {
				t.Fatalf("Store = %d, %v, %v; want inserted", id, inserted, err)
			}
			got, err := d.Image(ctx, id)
			if err != nil {
				t.Fatalf("Image(%d): %v", id, err)
			}
			want := *tt.f
			if got.ID != id || got.StoredAt.Before(before.Truncate(time.Nanosecond)) || got.StoredAt.After(time.Now()) {
				t.Errorf("ID, StoredAt = %d, %v; want %d, between %v and now", got.ID, got.StoredAt, id, before)
			}
			if got.StreamID != want.StreamID || got.Seq != want.Seq || got.Timestamp != want.Timestamp ||
				got.Filename != want.Filename || got.Width != want.Width || got.Height != want.Height || got.Channels != want.Channels {
				t.Errorf("header = %d/%d %d %q %dx%dx%d; want %d/%d %d %q %dx%dx%d",
					got.StreamID, got.Seq, got.Timestamp, got.Filename, got.Width, got.Height, got.Channels,
					want.StreamID, want.Seq, want.Timestamp, want.Filename, want.Width, want.Height, want.Channels)
			}
			for _, p := range []struct {
				name      string
				got, want time.Time
			}{{"PublishedAt", got.PublishedAt, want.PublishedAt}, {"ExtractedAt", got.ExtractedAt, want.ExtractedAt}, {"ReceivedAt", got.ReceivedAt, want.ReceivedAt}} {
				if !p.got.Equal(p.want) || p.got.IsZero() != p.want.IsZero() {
					t.Errorf("%s = %v; want %v", p.name, p.got, p.want)
				}
			}
			if !bytes.Equal(got.Image, want.Image) {
				t.Errorf("image bytes differ (%d vs %d bytes)", len(got.Image), len(want.Image))
			}
			if len(got.Keypoints) != len(want.Keypoints) {
				t.Fatalf("%d keypoints; want %d", len(got.Keypoints), len(want.Keypoints))
			}
			for i, k := range want.Keypoints {
				g := got.Keypoints[i]
				if bitsOf(g) != bitsOf(k) {
					t.Fatalf("keypoint %d = %+v; want %+v (bit-exact)", i, g, k)
				}
			}
			if len(got.Descriptors) != len(want.Descriptors) {
				t.Fatalf("%d descriptor values; want %d", len(got.Descriptors), len(want.Descriptors))
			}
			for i, v := range want.Descriptors {
				if math.Float32bits(got.Descriptors[i]) != math.Float32bits(v) {
					t.Fatalf("descriptor value %d = %v; want %v (bit-exact)", i, got.Descriptors[i], v)
				}
			}
			// The BLOB itself: K×128 float32, little-endian, as the seed stores it.
			var blob []byte
			if err := d.sql.QueryRowContext(ctx, "SELECT descriptor_data FROM descriptors WHERE image_id = ?", id).Scan(&blob); err != nil {
				t.Fatal(err)
			}
			wantBlob := make([]byte, 0, 4*len(want.Descriptors))
			for _, v := range want.Descriptors {
				wantBlob = binary.LittleEndian.AppendUint32(wantBlob, math.Float32bits(v))
			}
			if !bytes.Equal(blob, wantBlob) {
				t.Errorf("descriptor BLOB differs from the little-endian float32 layout")
			}
			var dataSize, kpCount int
			if err := d.sql.QueryRowContext(ctx, "SELECT data_size, keypoint_count FROM images WHERE id = ?", id).Scan(&dataSize, &kpCount); err != nil {
				t.Fatal(err)
			}
			if dataSize != len(want.Image) || kpCount != len(want.Keypoints) {
				t.Errorf("data_size, keypoint_count = %d, %d; want %d, %d", dataSize, kpCount, len(want.Image), len(want.Keypoints))
			}
		})
	}
	checkConsistent(t, d.sql)
}

func bitsOf(k Keypoint) [6]uint32 {
	return [6]uint32{math.Float32bits(k.X), math.Float32bits(k.Y), math.Float32bits(k.Size),
		math.Float32bits(k.Angle), math.Float32bits(k.Response), uint32(k.Octave)}
}

// TestStoreDescriptorBlob stores descriptors handed over as a little-endian
// blob (a logger that decoded them in place) and reads the values back.
func TestStoreDescriptorBlob(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	f := makeFrame(8, 1, 1, 100, 300)
	want := f.Descriptors
	f.Descriptors = nil
	f.DescriptorBlob = make([]byte, 4*len(want))
	for i, v := range want {
		binary.LittleEndian.PutUint32(f.DescriptorBlob[4*i:], math.Float32bits(v))
	}
	id, inserted, err := d.Store(ctx, f)
	if err != nil || !inserted {
		t.Fatalf("Store = %d, %v, %v; want inserted", id, inserted, err)
	}
	got, err := d.Image(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Descriptors) != len(want) {
		t.Fatalf("read back %d descriptor values; want %d", len(got.Descriptors), len(want))
	}
	for i := range want {
		if math.Float32bits(got.Descriptors[i]) != math.Float32bits(want[i]) {
			t.Fatalf("descriptor value %d = %v; want %v", i, got.Descriptors[i], want[i])
		}
	}
	checkConsistent(t, d.sql)
}

func TestStoreRedelivery(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)

	f := makeFrame(1, 42, 7, 1000, 300)
	id1, ins1, err := d.Store(ctx, f)
	if err != nil || !ins1 {
		t.Fatalf("first Store = %d, %v, %v; want inserted", id1, ins1, err)
	}
	again := makeFrame(2, 42, 7, 500, 10) // same stream/seq, other content: still a re-delivery
	id2, ins2, err := d.Store(ctx, again)
	if err != nil || ins2 || id2 != id1 {
		t.Fatalf("second Store = %d, %v, %v; want %d, false, nil", id2, ins2, err, id1)
	}
	if c := mustCounts(t, d); c.Images != 1 || c.Keypoints != 300 || c.Descriptors != 1 {
		t.Errorf("counts = %+v; want 1 image, 300 keypoints, 1 descriptor row", c)
	}
	var kps int
	if err := d.sql.QueryRowContext(ctx, "SELECT count(*) FROM keypoints").Scan(&kps); err != nil || kps != 300 {
		t.Errorf("keypoint rows = %d, %v; want 300", kps, err)
	}

	// Same seq on another stream is another frame.
	if _, ins, err := d.Store(ctx, makeFrame(3, 43, 7, 10, 1)); err != nil || !ins {
		t.Errorf("Store(stream 43, seq 7) = %v, %v; want inserted", ins, err)
	}

	// Seed frames (no trailer) are never deduplicated.
	seed := makeFrame(4, 0, 0, 100, 2)
	ida, insa, erra := d.Store(ctx, seed)
	idb, insb, errb := d.Store(ctx, seed)
	if erra != nil || errb != nil || !insa || !insb || ida == idb {
		t.Errorf("seed frame twice = (%d %v %v), (%d %v %v); want two inserted rows", ida, insa, erra, idb, insb, errb)
	}
	if c := mustCounts(t, d); c.Images != 4 || c.Keypoints != 300+1+2+2 {
		t.Errorf("counts = %+v; want 4 images, 305 keypoints", c)
	}
	checkConsistent(t, d.sql)
}

func TestStoreInvalid(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	base := func() *Frame { return makeFrame(1, 1, 1, 100, 3) }
	tests := []struct {
		name   string
		mutate func(*Frame) *Frame
	}{
		{"nil", func(*Frame) *Frame { return nil }},
		{"empty image", func(f *Frame) *Frame { f.Image = nil; return f }},
		{"descriptors short", func(f *Frame) *Frame { f.Descriptors = f.Descriptors[:len(f.Descriptors)-1]; return f }},
		{"descriptors without keypoints", func(f *Frame) *Frame { f.Keypoints = nil; return f }},
		{"keypoints without descriptors", func(f *Frame) *Frame { f.Descriptors = nil; return f }},
		{"negative width", func(f *Frame) *Frame { f.Width = -1; return f }},
		{"huge height", func(f *Frame) *Frame { f.Height = MaxDimension + 1; return f }},
		{"negative channels", func(f *Frame) *Frame { f.Channels = -3; return f }},
		{"long filename", func(f *Frame) *Frame { f.Filename = string(bytes.Repeat([]byte("a"), MaxFilename+1)); return f }},
		{"filename not UTF-8", func(f *Frame) *Frame { f.Filename = "\xff.jpg"; return f }},
		{"NaN keypoint", func(f *Frame) *Frame { f.Keypoints[2].Response = float32(math.NaN()); return f }},
		{"descriptor blob short", func(f *Frame) *Frame { f.DescriptorBlob = make([]byte, 3*512-1); return f }},
		{"descriptor blob empty", func(f *Frame) *Frame { f.DescriptorBlob = []byte{}; return f }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ins, err := d.Store(ctx, tt.mutate(base()))
			if !errors.Is(err, ErrInvalid) || ins || id != 0 {
				t.Fatalf("Store = %d, %v, %v; want 0, false, ErrInvalid", id, ins, err)
			}
		})
	}
	c := mustCounts(t, d)
	if c.Images != 0 || c.Keypoints != 0 || c.Descriptors != 0 {
		t.Errorf("counts after invalid frames = %+v; want nothing written", c)
	}
	var kps int
	if err := d.sql.QueryRowContext(ctx, "SELECT count(*) FROM keypoints").Scan(&kps); err != nil || kps != 0 {
		t.Errorf("keypoint rows = %d, %v; want 0", kps, err)
	}
	if _, err := d.LatestImageID(ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("LatestImageID = %v; want ErrNotFound", err)
	}
	// The writer is still usable.
	if _, ins, err := d.Store(ctx, base()); err != nil || !ins {
		t.Errorf("Store(valid) after invalid ones = %v, %v", ins, err)
	}
}

func TestStreams(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	const a, b = 0xA000_0000_0000_0001, 5 // a has the high bit set
	for _, s := range []struct{ stream, seq uint64 }{{a, 10}, {a, 11}, {a, 13}, {a, 16}, {b, 5}, {0, 0}, {0, 0}} {
		if _, _, err := d.Store(ctx, makeFrame(1, s.stream, s.seq, 10, 1)); err != nil {
			t.Fatalf("Store(%d/%d): %v", s.stream, s.seq, err)
		}
	}
	got, err := d.Streams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	base := makeFrame(1, 0, 0, 1, 0).ReceivedAt
	want := []StreamStats{
		{StreamID: b, Frames: 1, FirstSeq: 5, LastSeq: 5, Missing: 0, FirstAt: base.Add(5), LastAt: base.Add(5)},
		{StreamID: a, Frames: 4, FirstSeq: 10, LastSeq: 16, Missing: 3, FirstAt: base.Add(10), LastAt: base.Add(16)},
	}
	if len(got) != len(want) {
		t.Fatalf("Streams = %+v; want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.StreamID != w.StreamID || g.Frames != w.Frames || g.FirstSeq != w.FirstSeq || g.LastSeq != w.LastSeq ||
			g.Missing != w.Missing || g.Duplicates != 0 || !g.FirstAt.Equal(w.FirstAt) || !g.LastAt.Equal(w.LastAt) {
			t.Errorf("Streams[%d] = %+v; want %+v", i, g, w)
		}
	}
	if c := mustCounts(t, d); c.Images != 7 {
		t.Errorf("Images = %d; want 7 (seed frames counted)", c.Images)
	}
}

func TestImageNotFound(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	if _, err := d.Image(ctx, 12345); !errors.Is(err, ErrNotFound) {
		t.Errorf("Image(12345) = %v; want ErrNotFound", err)
	}
	if err := d.EachKeypoint(ctx, 12345, func(int, Keypoint) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("EachKeypoint(12345) = %v; want ErrNotFound", err)
	}
}

func TestClosed(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, _, err := d.Store(ctx, makeFrame(1, 1, 1, 1, 0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Store after Close = %v; want ErrClosed", err)
	}
	if _, err := d.Counts(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Counts after Close = %v; want ErrClosed", err)
	}
	if err := d.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v; want ErrClosed", err)
	}
}
