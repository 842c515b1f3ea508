package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/imaging-tui/imaging-tui/wire"
)

var update = flag.Bool("update", false, "rewrite the named seed files in testdata/fuzz from the hand-built vectors")

// seedCorpus is the named part of testdata/fuzz: valid-* files decode,
// bad-* files do not. Files the fuzzer adds (hash names, crashers kept as
// regressions) are not listed here and only have to not panic.
func seedCorpus() map[string]map[string][]byte {
	futureTrailer := cat(goldenImage, hx("49545549 02 28"), goldenImageTrailer[6:], hx("0102030405060708"))
	emptyProcessed := hx("02 0000000000000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000")
	return map[string]map[string][]byte{
		"FuzzDecodeImage": {
			"valid-image":                 goldenImage,
			"valid-image-trailer":         goldenImageWithTrailer,
			"valid-image-future-trailer":  futureTrailer,
			"bad-image-truncated-data":    goldenImage[:offData+2],
			"bad-image-truncated-trailer": goldenImageWithTrailer[:len(goldenImage)+20],
			"bad-image-lying-data-size":   lieImage(0xffffffff, 5),
			"bad-image-lying-name-length": lieImage(4, 255),
			"bad-image-garbage-after":     cat(goldenImage, []byte("JUNK")),
		},
		"FuzzDecodeProcessed": {
			"valid-processed":                    goldenProcessed,
			"valid-processed-trailer":            goldenProcessedWithTrail,
			"valid-processed-empty":              emptyProcessed,
			"bad-processed-truncated-keypoints":  goldenProcessed[:offKeyCount+30],
			"bad-processed-truncated-descriptor": goldenProcessed[:offDescValues+401],
			"bad-processed-lying-keypoints":      lieKeypoints(0xffffffff),
			"bad-processed-lying-descriptors":    lieDescriptors(wire.MaxKeypoints * wire.DescriptorSize),
		},
		"FuzzDecodeAck": {
			"valid-ack":           goldenAck,
			"valid-ack-empty":     hx("10 0000000000000001 00000000"),
			"bad-ack-truncated":   goldenAck[:20],
			"bad-ack-lying-count": pad100(cat(hx("10 a1a2a3a4a5a6a7a8"), be32(0xffffffff))),
			"valid-ack-seed":      goldenSeedAck,
		},
	}
}

// TestFuzzSeedCorpus checks that every file in testdata/fuzz is in the
// "go test fuzz v1" format and that the named seeds decode as their names say.
// With -update it first rewrites the named seeds.
func TestFuzzSeedCorpus(t *testing.T) {
	decoders := map[string]func([]byte) error{
		"FuzzDecodeImage":     func(b []byte) error { _, err := wire.DecodeImage(b); return err },
		"FuzzDecodeProcessed": func(b []byte) error { _, err := wire.DecodeProcessed(b); return err },
		"FuzzDecodeAck":       func(b []byte) error { _, err := wire.DecodeAck(b); return err },
	}
	for target, seeds := range seedCorpus() {
		dir := filepath.Join("testdata", "fuzz", target)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, b := range seeds {
				data := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b)
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]bool{}
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			b, err := readCorpusFile(path)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			found[e.Name()] = true
			err = decoders[target](b)
			switch {
			case strings.HasPrefix(e.Name(), "valid-") && err != nil:
				t.Errorf("%s: decode = %v; want nil error", path, err)
			case strings.HasPrefix(e.Name(), "bad-") && err == nil:
				t.Errorf("%s: decode = nil error; want an error", path)
			}
			if want, ok := seeds[e.Name()]; ok && !bytes.Equal(b, want) {
				t.Errorf("%s differs from the hand-built vector; run go test -run TestFuzzSeedCorpus -update", path)
			}
		}
		for name := range seeds {
			if !found[name] {
				t.Errorf("%s: missing seed; run go test -run TestFuzzSeedCorpus -update", filepath.Join(dir, name))
			}
		}
	}
}

// readCorpusFile reads a one-[]byte file in the "go test fuzz v1" format.
func readCorpusFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	header, rest, _ := strings.Cut(string(data), "\n")
	if header != "go test fuzz v1" {
		return nil, fmt.Errorf("header %q; want %q", header, "go test fuzz v1")
	}
	lit := strings.TrimSpace(rest)
	if !strings.HasPrefix(lit, "[]byte(") || !strings.HasSuffix(lit, ")") {
		return nil, fmt.Errorf("value %.40q; want one []byte(...)", lit)
	}
	s, err := strconv.Unquote(lit[len("[]byte(") : len(lit)-1])
	if err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	return []byte(s), nil
}

func FuzzDecodeImage(f *testing.F) {
	for _, m := range [][]byte{goldenImage, goldenImageWithTrailer, seedCorpus()["FuzzDecodeImage"]["valid-image-future-trailer"]} {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkFrameRoundTrip(t, b, wire.DecodeImage) })
}

func FuzzDecodeProcessed(f *testing.F) {
	for _, m := range [][]byte{goldenProcessed, goldenProcessedWithTrail, seedCorpus()["FuzzDecodeProcessed"]["valid-processed-empty"]} {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkFrameRoundTrip(t, b, wire.DecodeProcessed)
		checkInPlace(t, b)
	})
}

// checkInPlace decodes a copy of b with DecodeProcessedInPlace: it accepts
// what DecodeProcessed accepts, its DescriptorsLE hold the same values
// little-endian, and the frame encodes to the same message.
func checkInPlace(t *testing.T, b []byte) {
	want, wantErr := wire.DecodeProcessed(b)
	got, err := wire.DecodeProcessedInPlace(bytes.Clone(b))
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("DecodeProcessedInPlace error %v; DecodeProcessed %v", err, wantErr)
	}
	if err != nil {
		return
	}
	if got.Descriptors != nil || len(got.DescriptorsLE) != 4*len(want.Descriptors) {
		t.Fatalf("in place: %d descriptor values and %d bytes; want none and %d bytes",
			len(got.Descriptors), len(got.DescriptorsLE), 4*len(want.Descriptors))
	}
	for i, v := range want.Descriptors {
		if le := binary.LittleEndian.Uint32(got.DescriptorsLE[4*i:]); le != math.Float32bits(v) {
			t.Fatalf("descriptor %d: %#08x little-endian; want %#08x", i, le, math.Float32bits(v))
		}
	}
	out, err := got.MarshalBinary()
	if err != nil {
		t.Fatalf("encode frame decoded in place: %v", err)
	}
	if ref, _ := want.MarshalBinary(); !bytes.Equal(out, ref) {
		t.Fatalf("frame decoded in place encodes to\n% x\nwant\n% x", head(out), head(ref))
	}
}

// checkFrameRoundTrip decodes b; an accepted message re-encodes to the same
// bytes. Comparing bytes is exact even for NaN payloads, which compare
// unequal as floats. The one normalisation: a later trailer version's longer
// body re-encodes as v1, the same fields with the unknown tail dropped.
func checkFrameRoundTrip(t *testing.T, b []byte, decode func([]byte) (*wire.Frame, error)) {
	f, err := decode(b)
	if err != nil {
		var de *wire.DecodeError
		if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(b) {
			t.Fatalf("decode error %#v; want a *DecodeError with an offset in the message", err)
		}
		return
	}
	if cap(f.Data) != len(f.Data) {
		t.Fatalf("Data len %d cap %d; want the capacity clipped", len(f.Data), cap(f.Data))
	}
	out, err := f.MarshalBinary()
	if err != nil {
		t.Fatalf("encode decoded frame: %v", err)
	}
	if len(out) != f.Size() {
		t.Fatalf("len(MarshalBinary()) = %d; Size() = %d", len(out), f.Size())
	}
	want := b
	if f.Trailer != nil {
		seed := len(out) - trailerLen
		want = cat(b[:seed+4], []byte{1, 32}, b[seed+6:seed+trailerLen])
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("round trip:\n got % x\nwant % x", head(out), head(want))
	}
	if _, err := decode(out); err != nil {
		t.Fatalf("decode re-encoded frame: %v", err)
	}
}

func FuzzDecodeAck(f *testing.F) {
	f.Add(goldenAck)
	f.Add(hx("10 0000000000000001 00000000"))
	f.Add(goldenSeedAck)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := wire.DecodeAck(b)
		if err != nil {
			var de *wire.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("DecodeAck error %#v; want a *DecodeError", err)
			}
			return
		}
		out, err := a.MarshalBinary()
		if err != nil {
			t.Fatalf("encode decoded ack: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip:\n got % x\nwant % x", head(out), head(b))
		}
	})
}
