package stages

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/sift"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// lyingImage is the IMAGE_DATA message of testdata/images/name declaring
// the size w×h, whatever the image's own.
func lyingImage(t *testing.T, name string, seq uint64, w, h uint32) []byte {
	t.Helper()
	msg, _ := imageMessage(t, name, seq)
	f, err := wire.DecodeImage(msg)
	if err != nil {
		t.Fatal(err)
	}
	f.Width, f.Height = w, h
	out, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCheckImage(t *testing.T) {
	msg, _ := imageMessage(t, "crop_urchins_gray.png", 1)
	good, err := wire.DecodeImage(msg)
	if err != nil {
		t.Fatal(err)
	}
	w, h := good.Width, good.Height
	for _, tt := range []struct {
		name      string
		w, h      uint32
		data      []byte
		wantErr   bool
		wantSizes bool // the error names both sizes
	}{
		{"true size", w, h, good.Data, false, false},
		{"on its side (EXIF orientation)", h, w, good.Data, false, false},
		{"4294967295 square", math.MaxUint32, math.MaxUint32, good.Data, true, true},
		{"1×1", 1, 1, good.Data, true, true},
		{"one side wrong", w, h + 1, good.Data, true, true},
		{"not an image", w, h, []byte("random bytes that are no image at all"), true, false},
	} {
		f := *good
		f.Width, f.Height, f.Data = tt.w, tt.h, tt.data
		_, err := checkImage(&f)
		if (err != nil) != tt.wantErr || tt.wantSizes && !errors.Is(err, errSizeLie) {
			t.Errorf("%s: checkImage = %v; want error %v (size lie %v)", tt.name, err, tt.wantErr, tt.wantSizes)
		}
		if tt.wantSizes && err != nil {
			for _, s := range []string{strconv.Itoa(int(tt.w)), strconv.Itoa(int(w)) + "×" + strconv.Itoa(int(h))} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%s: error %q does not name %s", tt.name, err, s)
				}
			}
		}
	}
}

func TestCheckProcessed(t *testing.T) {
	msg, _ := imageMessage(t, "crop_urchins_gray.png", 1)
	img, err := wire.DecodeImage(msg)
	if err != nil {
		t.Fatal(err)
	}
	w, h := float32(img.Width), float32(img.Height)
	for _, tt := range []struct {
		name string
		kp   wire.Keypoint
		ok   bool
	}{
		{"inside", wire.Keypoint{X: w / 2, Y: h / 2, Size: 2}, true},
		{"on the edge", wire.Keypoint{X: w, Y: 0}, true},
		{"right of it", wire.Keypoint{X: max(w, h) + 1, Y: 1}, false},
		{"above it", wire.Keypoint{X: 1, Y: -0.5}, false},
		{"NaN", wire.Keypoint{X: float32(math.NaN()), Y: 1}, false},
		{"infinite response", wire.Keypoint{X: 1, Y: 1, Response: float32(math.Inf(1))}, false},
	} {
		f := *img
		f.Type = wire.TypeProcessed
		f.Keypoints = []wire.Keypoint{{X: 1, Y: 1}, tt.kp}
		if err := checkProcessed(&f); (err == nil) != tt.ok {
			t.Errorf("%s: checkProcessed = %v; want ok %v", tt.name, err, tt.ok)
		}
	}
}

// TestExtractorRejectsLies: frames whose declared size is not their
// image's, frames over the pixel limit and bytes that are no image are
// rejected before any SIFT run, counted and logged; a good frame sent after
// a flood of them comes out within 2 s. IMAGING_FLOOD=N sends N hostile
// messages (default 2000; the figure is 1000000).
func TestExtractorRejectsLies(t *testing.T) {
	flood := 2000
	if v := os.Getenv("IMAGING_FLOOD"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			flood = n
		}
	}
	d, err := sift.New(sift.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	good, _ := imageMessage(t, "crop_urchins_gray.png", 1)
	gf, _ := wire.DecodeImage(good)
	cfg := ExtractorConfig{Common: Common{Delivery: stage.Reliable}, Workers: 1, SIFTMemory: 1 << 30}
	cfg.SIFT.MaxPixels = int64(gf.Width) * int64(gf.Height) // the good frame is the largest allowed
	c := &counters{state: wire.StateRunning}
	e := newExtractor(cfg, c, slog.New(slog.DiscardHandler))
	src, sink := make(chanSource), make(chanSink, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.run(ctx, src, []Transform{siftTransform{d}}, sink) }()
	defer func() { cancel(); <-done }()

	rng := rand.New(rand.NewPCG(1, 2))
	seed := *gf
	seed.Trailer = nil
	seedLen := seed.Size()
	big, _ := imageMessage(t, "bps_P1000367_kelp-canopy.jpg", 2) // 2000×1500: over the limit
	hostile := []func(seq uint64) []byte{
		func(seq uint64) []byte {
			return lyingImage(t, "crop_urchins_gray.png", seq, math.MaxUint32, math.MaxUint32)
		},
		func(seq uint64) []byte { return lyingImage(t, "crop_urchins_gray.png", seq, 1, 1) },
		func(uint64) []byte { return big },
		func(uint64) []byte { return randomBytes(rng, 1+rng.IntN(4096)) },
		func(uint64) []byte { return good[:rng.IntN(seedLen)] }, // cut inside the seed content: never a whole frame
	}
	lies := make([][]byte, 2) // the same bytes each time: encoding one costs more than the extractor's check
	for i := range flood {
		k := i % len(hostile)
		if k < len(lies) {
			if lies[k] == nil {
				lies[k] = hostile[k](uint64(i + 2))
			}
			src <- lies[k]
			continue
		}
		src <- hostile[k](uint64(i + 2))
	}
	sent := time.Now()
	src <- good
	select {
	case out := <-sink:
		f, err := wire.DecodeProcessed(out)
		if err != nil || f.Trailer == nil || f.Trailer.Seq != 1 {
			t.Fatalf("out: %v, trailer %+v; want the good frame, seq 1", err, f.Trailer)
		}
		if d := time.Since(sent); d > 2*time.Second {
			t.Errorf("the good frame took %v after the flood; want under 2s", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the good frame did not come out after the flood")
	}
	if got := c.errors.Load(); got < uint64(flood) {
		t.Errorf("%d errors counted for %d hostile messages", got, flood)
	}
	if len(sink) > 0 {
		t.Errorf("%d hostile frames came out", len(sink))
	}
}

// randomBytes returns n bytes of rng's.
func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// TestLoggerRejectsJunk: the logger stores nothing of PROCESSED messages
// whose image is not of the declared size or no image at all, or whose
// keypoints lie outside it; each is counted, none acknowledged, and a good
// frame sent after a flood of them is stored and acknowledged within 2 s.
// IMAGING_FLOOD=N sends N of them (default 2000).
func TestLoggerRejectsJunk(t *testing.T) {
	flood := 2000
	if v := os.Getenv("IMAGING_FLOOD"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			flood = n
		}
	}
	ll := startLoggerLoop(t)
	d, c, src, acks := ll.d, ll.l.c, ll.src, ll.acks

	_, data := imageMessage(t, "crop_urchins_gray.png", 1) // 400×300
	processed := func(seq uint64, w, h uint32, data []byte, kp wire.Keypoint) []byte {
		f := wire.Frame{Type: wire.TypeProcessed, Timestamp: 1, Width: w, Height: h, Channels: 1, Filename: "x.png",
			Data: data, Keypoints: []wire.Keypoint{kp}, Descriptors: make([]float32, wire.DescriptorSize),
			Trailer: &wire.Trailer{StreamID: 9, Seq: seq}}
		msg, err := f.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	inside := wire.Keypoint{X: 10, Y: 10}
	junk := [][]byte{
		processed(2, 2000, 1500, data, inside),                                  // a size the image is not
		processed(3, 400, 300, []byte("random bytes, no image header"), inside), // no image at all
		processed(4, 400, 300, data, wire.Keypoint{X: 4000, Y: 10}),             // a keypoint outside it
	}
	for i := range flood {
		src <- junk[i%len(junk)]
	}
	sent := time.Now()
	src <- processed(1, 400, 300, data, inside)
	for deadline := time.After(30 * time.Second); ; {
		select {
		case msg := <-acks:
			a, err := wire.DecodeAck(msg)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, hello := a.Hello(); hello {
				continue
			}
			if len(a.Seqs) != 1 || a.Seqs[0] != 1 {
				t.Fatalf("acknowledged %v; want only the good frame, seq 1", a.Seqs)
			}
			if took := time.Since(sent); took > 2*time.Second {
				t.Errorf("the good frame was stored %v after the flood; want under 2s", took)
			}
			if n, err := d.Counts(context.Background()); err != nil || n.Images != 1 {
				t.Errorf("database holds %d images (%v); want the good one only", n.Images, err)
			}
			if got := c.errors.Load(); got < uint64(flood) {
				t.Errorf("%d errors counted for %d junk messages", got, flood)
			}
			return
		case <-deadline:
			t.Fatal("the good frame was not acknowledged after the flood")
		}
	}
}
