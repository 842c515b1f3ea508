package wire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/imaging-tui/imaging-tui/wire"
)

// goldenSeedAck acknowledges two frames by seed key.
var goldenSeedAck = hx(`
	10               # type ACK
	0000000000000000 # stream 0: the logger's own
	00000005         # count 5: the marker and two keys
	4954554953454544 # marker "ITUISEED"
	179c3b8e00000001 # timestamp
	0102030405060708 # digest
	179c3b8e00000002 # timestamp
	ffffffffffffffff # digest`)

func TestSeedAckGolden(t *testing.T) {
	a, err := wire.DecodeAck(goldenSeedAck)
	if err != nil {
		t.Fatalf("DecodeAck(% x) = %v; want nil error", goldenSeedAck, err)
	}
	want := []wire.SeedKey{{0x179c3b8e00000001, 0x0102030405060708}, {0x179c3b8e00000002, 0xffffffffffffffff}}
	if a.StreamID != 0 || len(a.Seqs) != 0 || len(a.Seeds) != 2 || a.Seeds[0] != want[0] || a.Seeds[1] != want[1] {
		t.Fatalf("DecodeAck() = %+v; want stream 0, no seqs, seeds %v", a, want)
	}
	if _, _, ok := a.Hello(); ok {
		t.Error("a seed ack reads as a hello")
	}
	enc, err := (&wire.Ack{Seeds: want}).MarshalBinary()
	if err != nil || !bytes.Equal(enc, goldenSeedAck) {
		t.Errorf("MarshalBinary() = % x, %v; want % x", enc, err, goldenSeedAck)
	}
}

// TestSeedAckOldReader: a generator of the previous version reads a seed ack
// with the same layout as any ack, as stream 0's, which is no generator's.
func TestSeedAckOldReader(t *testing.T) {
	b, err := (&wire.Ack{Seeds: []wire.SeedKey{{1, 2}}}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 1+8+4+3*8 || !bytes.Equal(b[:13], hx("10 0000000000000000 00000003")) {
		t.Errorf("seed ack of one key = % x; want the ack layout, stream 0, 3 values", b)
	}
}

func TestSeedAckRoundTrip(t *testing.T) {
	many := make([]wire.SeedKey, wire.MaxAckSeeds)
	for i := range many {
		many[i] = wire.SeedKey{Timestamp: uint64(i) + 1, Digest: uint64(i) * 7}
	}
	tests := []struct {
		name string
		a    *wire.Ack
	}{
		{"one", &wire.Ack{Seeds: []wire.SeedKey{{1, 0}}}},
		{"zero key", &wire.Ack{Seeds: []wire.SeedKey{{}}}},
		{"max keys", &wire.Ack{Seeds: many}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := tt.a.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary() = %v", err)
			}
			got, err := wire.DecodeAck(enc)
			if err != nil {
				t.Fatalf("DecodeAck(% x) = %v", head(enc), err)
			}
			if got.StreamID != 0 || len(got.Seqs) != 0 || len(got.Seeds) != len(tt.a.Seeds) {
				t.Fatalf("DecodeAck() = stream %d, %d seqs, %d seeds; want 0, 0, %d", got.StreamID, len(got.Seqs), len(got.Seeds), len(tt.a.Seeds))
			}
			for i := range got.Seeds {
				if got.Seeds[i] != tt.a.Seeds[i] {
					t.Fatalf("Seeds[%d] = %v; want %v", i, got.Seeds[i], tt.a.Seeds[i])
				}
			}
		})
	}
}

func TestSeedAckBad(t *testing.T) {
	tests := []struct {
		name string
		a    *wire.Ack
		want error
	}{
		{"with stream", &wire.Ack{StreamID: 3, Seeds: []wire.SeedKey{{1, 2}}}, wire.ErrMismatch},
		{"with seqs", &wire.Ack{Seqs: []uint64{1}, Seeds: []wire.SeedKey{{1, 2}}}, wire.ErrMismatch},
		{"too many", &wire.Ack{Seeds: make([]wire.SeedKey, wire.MaxAckSeeds+1)}, wire.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.a.MarshalBinary(); !errors.Is(err, tt.want) {
				t.Errorf("MarshalBinary() = % x, %v; want %v", head(b), err, tt.want)
			}
		})
	}
	// Not seed acks: the marker on another stream, or an even count.
	for _, msg := range [][]byte{
		cat(hx("10 0000000000000009 00000003"), goldenSeedAck[13:37]),
		cat(hx("10 0000000000000000 00000002"), goldenSeedAck[13:29]),
	} {
		a, err := wire.DecodeAck(msg)
		if err != nil || len(a.Seeds) != 0 || len(a.Seqs) == 0 {
			t.Errorf("DecodeAck(% x) = %+v, %v; want plain seqs", msg, a, err)
		}
	}
	for i := range len(goldenSeedAck) {
		if a, err := wire.DecodeAck(exact(goldenSeedAck, i)); !errors.Is(err, wire.ErrTruncated) {
			t.Errorf("DecodeAck(seedAck[:%d]) = %+v, %v; want ErrTruncated", i, a, err)
		}
	}
}

// TestSeedKey: the key is the timestamp and a digest of the seed fields a
// seed stage keeps; our trailer, the keypoints and the type do not enter it.
func TestSeedKey(t *testing.T) {
	img, err := wire.DecodeImage(goldenImageWithTrailer)
	if err != nil {
		t.Fatal(err)
	}
	proc, err := wire.DecodeProcessed(goldenProcessed)
	if err != nil {
		t.Fatal(err)
	}
	k := img.SeedKey()
	if k.Timestamp != img.Timestamp || k != proc.SeedKey() {
		t.Fatalf("SeedKey(image) = %v, SeedKey(processed, no trailer) = %v; want equal, with the timestamp", k, proc.SeedKey())
	}
	for name, mutate := range map[string]func(*wire.Frame){
		"timestamp": func(f *wire.Frame) { f.Timestamp++ },
		"filename":  func(f *wire.Frame) { f.Filename += "x" },
		"width":     func(f *wire.Frame) { f.Width++ },
		"height":    func(f *wire.Frame) { f.Height++ },
		"channels":  func(f *wire.Frame) { f.Channels++ },
		"data size": func(f *wire.Frame) { f.Data = f.Data[:len(f.Data)-1] },
	} {
		f := *img
		mutate(&f)
		if f.SeedKey() == k {
			t.Errorf("changing the %s leaves the seed key %v", name, k)
		}
	}
}
