package wire_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/imaging-tui/imaging-tui/wire"
)

func TestAckGolden(t *testing.T) {
	a, err := wire.DecodeAck(goldenAck)
	if err != nil {
		t.Fatalf("DecodeAck(% x) = %v; want nil error", goldenAck, err)
	}
	want := []uint64{1, 42, math.MaxUint64}
	if a.StreamID != 0xa1a2a3a4a5a6a7a8 || len(a.Seqs) != len(want) {
		t.Fatalf("DecodeAck() = %+v; want stream 0xa1a2a3a4a5a6a7a8, seqs %v", a, want)
	}
	for i, s := range a.Seqs {
		if s != want[i] {
			t.Errorf("Seqs[%d] = %d; want %d", i, s, want[i])
		}
	}
	enc, err := (&wire.Ack{StreamID: 0xa1a2a3a4a5a6a7a8, Seqs: want}).MarshalBinary()
	if err != nil || !bytes.Equal(enc, goldenAck) {
		t.Errorf("MarshalBinary() = % x, %v; want % x", enc, err, goldenAck)
	}
}

func TestAckRoundTrip(t *testing.T) {
	many := make([]uint64, wire.MaxAckSeqs)
	for i := range many {
		many[i] = uint64(i) * 7
	}
	tests := []struct {
		name string
		a    *wire.Ack
	}{
		{"empty", &wire.Ack{}},
		{"empty with stream", &wire.Ack{StreamID: 9, Seqs: []uint64{}}},
		{"one", &wire.Ack{StreamID: 1, Seqs: []uint64{1}}},
		{"max seqs", &wire.Ack{StreamID: math.MaxUint64, Seqs: many}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := tt.a.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary() = %v", err)
			}
			if want := 1 + 8 + 4 + 8*len(tt.a.Seqs); len(enc) != want {
				t.Errorf("len(MarshalBinary()) = %d; want %d", len(enc), want)
			}
			got, err := wire.DecodeAck(enc)
			if err != nil {
				t.Fatalf("DecodeAck(% x) = %v", head(enc), err)
			}
			if got.StreamID != tt.a.StreamID || len(got.Seqs) != len(tt.a.Seqs) {
				t.Fatalf("DecodeAck() = stream %d, %d seqs; want %d, %d", got.StreamID, len(got.Seqs), tt.a.StreamID, len(tt.a.Seqs))
			}
			for i := range got.Seqs {
				if got.Seqs[i] != tt.a.Seqs[i] {
					t.Fatalf("Seqs[%d] = %d; want %d", i, got.Seqs[i], tt.a.Seqs[i])
				}
			}
		})
	}
}

func TestAckTruncated(t *testing.T) {
	for i := range len(goldenAck) {
		a, err := wire.DecodeAck(exact(goldenAck, i))
		if !errors.Is(err, wire.ErrTruncated) {
			t.Errorf("DecodeAck(ack[:%d]) = %+v, %v; want ErrTruncated", i, a, err)
		}
	}
}

func TestAckBad(t *testing.T) {
	ack100 := func(n uint32) []byte { return pad100(cat(hx("10 a1a2a3a4a5a6a7a8"), be32(n))) }
	tests := []struct {
		name   string
		msg    []byte
		want   error
		offset int
	}{
		{"count 4 G", ack100(0xffffffff), wire.ErrTooLarge, 9},
		{"count over limit", ack100(wire.MaxAckSeqs + 1), wire.ErrTooLarge, 9},
		{"count at limit", ack100(wire.MaxAckSeqs), wire.ErrTruncated, 13},
		{"count one more", patch(goldenAck, 9, 4), wire.ErrTruncated, 13},
		{"count one less", patch(goldenAck, 9, 2), wire.ErrTrailer, 13 + 16},
		{"trailing byte", cat(goldenAck, []byte{0}), wire.ErrTrailer, len(goldenAck)},
		{"frame trailer", cat(goldenAck, goldenImageTrailer), wire.ErrTrailer, len(goldenAck)},
		{"wrong type", cat(hx("01"), goldenAck[1:]), wire.ErrType, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := wire.DecodeAck(tt.msg)
			var de *wire.DecodeError
			if !errors.Is(err, tt.want) || !errors.As(err, &de) || de.Offset != tt.offset {
				t.Fatalf("DecodeAck(% x) = %+v, %#v; want %v at byte %d", head(tt.msg), a, err, tt.want, tt.offset)
			}
			if len(tt.msg) == 100 {
				if n := allocBytes(200, func() { wire.DecodeAck(tt.msg) }); n >= 1024 {
					t.Errorf("DecodeAck of a 100-byte message allocates %d bytes; want < 1 KB", n)
				}
			}
		})
	}

	if b, err := (&wire.Ack{Seqs: make([]uint64, wire.MaxAckSeqs+1)}).MarshalBinary(); !errors.Is(err, wire.ErrTooLarge) {
		t.Errorf("MarshalBinary(%d seqs) = % x, %v; want ErrTooLarge", wire.MaxAckSeqs+1, head(b), err)
	}
}

func TestHelloRoundTrip(t *testing.T) {
	b, err := wire.Hello(42, 1_700_000_000_000_000_000).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	a, err := wire.DecodeAck(b)
	if err != nil {
		t.Fatal(err)
	}
	inc, started, ok := a.Hello()
	if !ok || inc != 42 || started != 1_700_000_000_000_000_000 {
		t.Fatalf("Hello() = %d, %d, %v; want 42, 1.7e18, true", inc, started, ok)
	}
	if _, _, ok := (&wire.Ack{StreamID: 5, Seqs: []uint64{1, 2}}).Hello(); ok {
		t.Error("an ack of stream 5 reads as a hello")
	}
}
