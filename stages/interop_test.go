package stages_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/wire/probe"
)

// The seed design's protocol, written out by hand from its layout — not
// with package wire — so these tests check our stages against the format
// itself: a seed peer sends no trailer and ignores bytes after what it knows.

// seedImage builds a seed IMAGE_DATA message.
func seedImage(name string, w, h, c uint32, data []byte) []byte {
	b := []byte{1}                                     // type IMAGE_DATA
	b = binary.BigEndian.AppendUint64(b, 1700000000e9) // timestamp, ns
	b = binary.BigEndian.AppendUint32(b, w)
	b = binary.BigEndian.AppendUint32(b, h)
	b = binary.BigEndian.AppendUint32(b, c)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
	b = append(b, name...)
	return append(b, data...)
}

// seedProcessed builds a seed PROCESSED_DATA message with k keypoints whose
// fields are i+0.5, i+1.5, ... and k×128 descriptor values v/1000.
func seedProcessed(name string, w, h uint32, data []byte, k int) []byte {
	b := seedImage(name, w, h, 1, data)
	b[0] = 2 // type PROCESSED_DATA
	b = binary.BigEndian.AppendUint32(b, uint32(k))
	for i := range k {
		for f := range 5 {
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(float32(i)+float32(f)+0.5))
		}
		b = binary.BigEndian.AppendUint32(b, 0xFFFFFFFF) // octave -1
	}
	b = binary.BigEndian.AppendUint32(b, uint32(k*128))
	for v := range k * 128 {
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(float32(v)/1000))
	}
	return b
}

// seedFrame is what a seed reader takes from a message.
type seedFrame struct {
	typ                  byte
	width, height, chans uint32
	name                 string
	data                 []byte
	keypoints            int
	descriptors          int
	rest                 int // bytes after the seed content, which a seed reader ignores
}

// seedRead parses a message as the seed's reader does, field by field.
func seedRead(t *testing.T, b []byte) seedFrame {
	t.Helper()
	var f seedFrame
	off := 0
	u32 := func() uint32 {
		if off+4 > len(b) {
			t.Fatalf("message ends at byte %d, inside a field", len(b))
		}
		v := binary.BigEndian.Uint32(b[off:])
		off += 4
		return v
	}
	f.typ = b[0]
	off = 1 + 8
	f.width, f.height, f.chans = u32(), u32(), u32()
	size, nameLen := u32(), u32()
	f.name = string(b[off : off+int(nameLen)])
	off += int(nameLen)
	f.data = b[off : off+int(size)]
	off += int(size)
	if f.typ == 2 {
		f.keypoints = int(u32())
		off += 24 * f.keypoints
		f.descriptors = int(u32())
		off += 4 * f.descriptors
	}
	if off > len(b) {
		t.Fatalf("declared content runs %d bytes past the message", off-len(b))
	}
	f.rest = len(b) - off
	return f
}

// TestSeedPeerFeedsExtractor: a seed generator (no trailer) feeds our
// extractor, and a seed reader understands what it publishes.
func TestSeedPeerFeedsExtractor(t *testing.T) {
	p := newPipeline(t, "crop_urchins_gray.png")
	img, err := os.ReadFile(filepath.Join(p.images, "crop_urchins_gray.png"))
	if err != nil {
		t.Fatal(err)
	}
	in, out := p.extractorPeers(t)
	p.extractorTo(t, ">"+p.proc)
	msg := seedImage("seed.png", 400, 300, 1, img)
	got := sendUntilReply(t, in, out, msg)
	f := seedRead(t, got)
	if f.typ != 2 || f.name != "seed.png" || f.width != 400 || f.height != 300 || f.chans != 1 || !bytes.Equal(f.data, img) {
		t.Fatalf("seed reader got type %d %q %dx%dx%d; want PROCESSED_DATA of the image sent", f.typ, f.name, f.width, f.height, f.chans)
	}
	if f.keypoints == 0 || f.descriptors != 128*f.keypoints {
		t.Errorf("%d keypoints, %d descriptor values; want some, and 128 each", f.keypoints, f.descriptors)
	}
	if f.rest != 0 {
		t.Errorf("%d bytes after the seed content for a frame that came without a trailer", f.rest)
	}
}

// TestSeedPeerFeedsLogger: a seed extractor (no trailer) feeds our logger,
// which stores the frame with no stream or sequence number.
func TestSeedPeerFeedsLogger(t *testing.T) {
	p := newPipeline(t)
	zctx, err := bus.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Close()
	in, err := zctx.Pub("@"+p.proc, bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	p.logger(t)
	// An image whose header states the size the seed frame declares: the
	// logger checks that much of it, without decoding.
	data, err := os.ReadFile("../testdata/images/crop_urchins_gray.png")
	if err != nil {
		t.Fatal(err)
	}
	info, err := probe.Probe(data)
	if err != nil {
		t.Fatal(err)
	}
	msg := seedProcessed("seed.jpg", uint32(info.Width), uint32(info.Height), data, 3)
	deadline := time.Now().Add(30 * time.Second)
	for p.rows(t) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the logger stored nothing a seed peer sent")
		}
		if err := in.Send(msg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	d, err := db.OpenReadOnly(context.Background(), p.db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f, err := d.Image(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if f.Filename != "seed.jpg" || f.Width != info.Width || f.Height != info.Height || !bytes.Equal(f.Image, data) || f.StreamID != 0 || f.Seq != 0 {
		t.Errorf("stored %q %dx%d stream %d seq %d; want the seed frame, without stream or seq", f.Filename, f.Width, f.Height, f.StreamID, f.Seq)
	}
	if len(f.Keypoints) != 3 || f.Keypoints[2].X != 2.5 || f.Keypoints[2].Response != 6.5 || f.Keypoints[2].Octave != -1 {
		t.Errorf("keypoints = %+v; want the 3 sent", f.Keypoints)
	}
	if len(f.Descriptors) != 384 || f.Descriptors[383] != float32(383)/1000 {
		t.Errorf("%d descriptor values; want the 384 sent", len(f.Descriptors))
	}
}

// TestGeneratorFeedsSeedReader: what our generator publishes (with its
// trailer) reads as a seed IMAGE_DATA message of the file's own bytes.
func TestGeneratorFeedsSeedReader(t *testing.T) {
	p := newPipeline(t, "crop_turf_rgba.png")
	want, err := os.ReadFile(filepath.Join(p.images, "crop_turf_rgba.png"))
	if err != nil {
		t.Fatal(err)
	}
	zctx, err := bus.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Close()
	sub, err := zctx.Sub(">"+p.img, bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	p.generator(t)
	msg, err := sub.Recv(30 * time.Second)
	if err != nil {
		t.Fatalf("no frame from the generator: %v", err)
	}
	f := seedRead(t, msg)
	if f.typ != 1 || f.name != "crop_turf_rgba.png" || f.width != 400 || f.height != 300 || f.chans != 4 || !bytes.Equal(f.data, want) {
		t.Fatalf("seed reader got type %d %q %dx%dx%d; want IMAGE_DATA of the file, 400x300x4", f.typ, f.name, f.width, f.height, f.chans)
	}
	if f.rest == 0 {
		t.Error("no trailer after the seed content; want our extension, which a seed reader skips")
	}
}

// sendUntilReply sends msg every 200 ms (a PUB drops what it sends before
// the subscription arrives) until out receives a reply.
func sendUntilReply(t *testing.T, in, out *bus.Socket, msg []byte) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := in.Send(msg); err != nil {
			t.Fatal(err)
		}
		if got, err := out.Recv(200 * time.Millisecond); err == nil {
			return got
		}
	}
	t.Fatal("no reply within 30s")
	return nil
}
