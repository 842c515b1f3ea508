package wire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/imaging-tui/imaging-tui/wire"
)

var goldenReady = hx("11 a1a2a3a4a5a6a7a8 00000003 0000000000000102")

func TestReadyGolden(t *testing.T) {
	r, err := wire.DecodeReady(goldenReady)
	if err != nil {
		t.Fatalf("DecodeReady(% x) = %v; want nil error", goldenReady, err)
	}
	if want := (wire.Ready{Session: 0xa1a2a3a4a5a6a7a8, Want: 3, Got: 258}); *r != want {
		t.Fatalf("DecodeReady() = %+v; want %+v", *r, want)
	}
	enc, err := r.MarshalBinary()
	if err != nil || !bytes.Equal(enc, goldenReady) {
		t.Errorf("MarshalBinary() = % x, %v; want % x", enc, err, goldenReady)
	}
	if len(enc) != wire.ReadySize {
		t.Errorf("encoded %d bytes; want ReadySize %d", len(enc), wire.ReadySize)
	}
}

func TestReadyBounds(t *testing.T) {
	for _, c := range []struct {
		name string
		msg  []byte
		err  error
	}{
		{"empty", nil, wire.ErrTruncated},
		{"ack type", hx("10 a1a2a3a4a5a6a7a8 00000003 0000000000000102"), wire.ErrType},
		{"image type", hx("01 a1a2a3a4a5a6a7a8 00000003 0000000000000102"), wire.ErrType},
		{"short", goldenReady[:wire.ReadySize-1], wire.ErrTruncated},
		{"no got", goldenReady[:13], wire.ErrTruncated},
		{"extra byte", append(bytes.Clone(goldenReady), 0), wire.ErrTrailer},
		{"want over max", hx("11 a1a2a3a4a5a6a7a8 00000401 0000000000000102"), wire.ErrTooLarge},
		{"want max uint32", hx("11 a1a2a3a4a5a6a7a8 ffffffff 0000000000000102"), wire.ErrTooLarge},
	} {
		_, err := wire.DecodeReady(c.msg)
		var de *wire.DecodeError
		if !errors.Is(err, c.err) || !errors.As(err, &de) {
			t.Errorf("%s: DecodeReady(% x) = %v; want a *DecodeError matching %v", c.name, c.msg, err, c.err)
		}
	}
	if _, err := (&wire.Ready{Want: wire.MaxReadyWant + 1}).MarshalBinary(); !errors.Is(err, wire.ErrTooLarge) {
		t.Errorf("encode Want over max: %v; want ErrTooLarge", err)
	}
	if _, err := wire.DecodeReady(hx("11 0000000000000000 00000400 0000000000000000")); err != nil {
		t.Errorf("Want = MaxReadyWant: %v; want it accepted", err)
	}
}

func FuzzDecodeReady(f *testing.F) {
	f.Add(goldenReady)
	f.Add(hx("11 0000000000000000 00000000 0000000000000000"))
	f.Add(goldenAck)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := wire.DecodeReady(b)
		if err != nil {
			var de *wire.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("DecodeReady error %#v; want a *DecodeError", err)
			}
			return
		}
		if r.Want > wire.MaxReadyWant {
			t.Fatalf("decoded Want %d over MaxReadyWant", r.Want)
		}
		out, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("encode decoded ready: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip:\n got % x\nwant % x", out, b)
		}
	})
}
