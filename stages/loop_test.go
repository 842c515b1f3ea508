package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/sift"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
	"github.com/imaging-tui/imaging-tui/wire/probe"
)

// chanSource is a FrameSource fed by a test through a channel.
type chanSource chan []byte

func (c chanSource) RecvInto(buf []byte, timeout time.Duration) ([]byte, error) {
	select {
	case m := <-c:
		return append(buf[:0], m...), nil
	case <-time.After(timeout):
		return nil, bus.ErrTimeout
	}
}

// chanSink is a FrameSink that hands each message, copied, to a test.
type chanSink chan []byte

func (c chanSink) Send(msg []byte) error {
	c <- slices.Clone(msg)
	return nil
}

// imageMessage encodes testdata/images/name as frame seq of stream 7.
func imageMessage(t *testing.T, name string, seq uint64) (msg, data []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../testdata/images", name))
	if err != nil {
		t.Fatal(err)
	}
	info, err := probe.Probe(data)
	if err != nil {
		t.Fatal(err)
	}
	f := wire.Frame{Type: wire.TypeImage, Timestamp: 1, Filename: name, Data: data,
		Width: uint32(info.Width), Height: uint32(info.Height), Channels: uint32(info.Channels),
		Trailer: &wire.Trailer{StreamID: 7, Seq: seq, PublishedNS: 1}}
	msg, err = f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return msg, data
}

// siftTransforms returns n SIFT transforms, one a worker, closed when the
// test ends.
func siftTransforms(t *testing.T, n int) []Transform {
	t.Helper()
	transforms := make([]Transform, n)
	for i := range transforms {
		d, err := sift.New(sift.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		transforms[i] = siftTransform{d}
	}
	return transforms
}

// TestExtractorLoop runs the extractor's loop, with two real SIFT workers,
// between a channel source and a channel sink: each image of its shard
// comes out once, with the features SIFT finds in it and its trailer kept;
// the other shard's frames and a message that is no image do not.
func TestExtractorLoop(t *testing.T) {
	names := []string{"crop_urchins_gray.png", "crop_turf_rgba.png", "crop_turf_gray16.png", "crop_urchins_gray.png"}
	cfg := ExtractorConfig{Common: Common{Delivery: stage.Reliable}, Workers: 2, SIFTMemory: 1 << 30,
		Shard: Shard{Index: 1, Count: 2}} // odd sequence numbers
	transforms := siftTransforms(t, cfg.Workers)
	ref, err := sift.New(sift.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()

	c := &counters{state: wire.StateRunning}
	e := newExtractor(cfg, c, slog.New(slog.DiscardHandler))
	src, sink := make(chanSource), make(chanSink, len(names))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); e.run(ctx, src, transforms, sink) }()

	want := map[uint64][]byte{} // seq → image data, for the frames of this shard
	src <- []byte("no image at all")
	for i, name := range names {
		seq := uint64(i + 1)
		msg, data := imageMessage(t, name, seq)
		src <- msg
		if cfg.Shard.takes(&wire.Frame{Trailer: &wire.Trailer{Seq: seq}}) {
			want[seq] = data
		}
	}
	got := map[uint64]*wire.Frame{}
	for len(got) < len(want) {
		select {
		case msg := <-sink:
			f, err := wire.DecodeProcessed(msg)
			if err != nil {
				t.Fatalf("DecodeProcessed(extractor output) = %v", err)
			}
			if got[f.Trailer.Seq] != nil {
				t.Errorf("seq %d came out twice", f.Trailer.Seq)
			}
			got[f.Trailer.Seq] = f
		case <-time.After(time.Minute):
			t.Fatalf("%d of %d frames out after a minute", len(got), len(want))
		}
	}
	cancel()
	<-done // run returns once everything in hand is sent
	if len(sink) > 0 {
		t.Errorf("%d more frames out than the shard's %d", len(sink), len(want))
	}

	for seq, data := range want {
		f := got[seq]
		if f == nil {
			t.Errorf("seq %d: no output", seq)
			continue
		}
		res, err := ref.Detect(data)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type != wire.TypeProcessed || f.Filename != names[seq-1] || f.Trailer.StreamID != 7 || f.Trailer.ExtractedNS == 0 {
			t.Errorf("seq %d: type %v, file %q, stream %d, extracted at %d; want processed, %q, 7, set",
				seq, f.Type, f.Filename, f.Trailer.StreamID, f.Trailer.ExtractedNS, names[seq-1])
		}
		if !slices.Equal(f.Keypoints, res.Keypoints) || !slices.Equal(f.Descriptors, res.Descriptors) {
			t.Errorf("seq %d: %d keypoints out; SIFT finds %d", seq, len(f.Keypoints), len(res.Keypoints))
		}
	}
	if in, out, bad := c.framesIn.Load(), c.framesOut.Load(), c.errors.Load(); in != 2 || out != 2 || bad != 1 {
		t.Errorf("frames in %d, out %d, errors %d; want 2, 2, 1", in, out, bad)
	}
}

// loggerLoop is a logger's loop on a real database in a test's temporary
// folder, between a channel source and a channel sink for its
// acknowledgements.
type loggerLoop struct {
	l    *logger
	d    *db.DB
	src  chanSource
	acks chanSink
	stop func() // ends the loop and waits for it; idempotent
}

// startLoggerLoop runs a loggerLoop until stop or the end of the test.
func startLoggerLoop(t *testing.T) *loggerLoop {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := db.Open(ctx, filepath.Join(t.TempDir(), "loop.db"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cfg := LoggerConfig{Common: Common{Delivery: stage.Reliable, started: time.Now()}}
	ll := &loggerLoop{l: newLogger(cfg, d, &counters{state: wire.StateRunning}, slog.New(slog.DiscardHandler)),
		d: d, src: make(chanSource), acks: make(chanSink, 1000)}
	ll.l.ack = ll.acks
	done := make(chan struct{})
	go func() { defer close(done); ll.l.run(ctx, ll.src) }()
	ll.stop = sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(func() { ll.stop(); d.Close() })
	return ll
}

// TestLoggerLoop runs the logger's loop on a real database between a
// channel source and a channel sink for acknowledgements: each frame is
// stored once and acknowledged every time it comes, and the logger says
// hello.
func TestLoggerLoop(t *testing.T) {
	ll := startLoggerLoop(t)
	d, src, acks := ll.d, ll.src, ll.acks

	processed := func(seq uint64) []byte {
		_, data := imageMessage(t, "crop_urchins_gray.png", seq)
		f := wire.Frame{Type: wire.TypeProcessed, Timestamp: 1, Width: 400, Height: 300, Channels: 1,
			Filename: "x.png", Data: data, Keypoints: make([]wire.Keypoint, 2),
			Descriptors: make([]float32, 2*wire.DescriptorSize), Trailer: &wire.Trailer{StreamID: 9, Seq: seq}}
		msg, err := f.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	for _, seq := range []uint64{1, 2, 2, 3} { // 2 comes twice, as a resend would
		src <- processed(seq)
	}
	acked := map[uint64]int{}
	hellos := 0
	for deadline := time.After(30 * time.Second); acked[1]+acked[2]+acked[3] < 4; {
		select {
		case msg := <-acks:
			a, err := wire.DecodeAck(msg)
			if err != nil {
				t.Fatalf("DecodeAck(logger output) = %v", err)
			}
			if _, _, ok := a.Hello(); ok {
				hellos++
				continue
			}
			for _, s := range a.Seqs {
				acked[s]++
			}
		case <-deadline:
			t.Fatalf("acknowledged %v after 30 s; want 1, 2 twice, 3", acked)
		}
	}
	ll.stop()
	if acked[1] != 1 || acked[2] != 2 || acked[3] != 1 || hellos == 0 {
		t.Errorf("acknowledged %v and %d hellos; want 1 once, 2 twice, 3 once, and a hello", acked, hellos)
	}
	n, err := d.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n.Images != 3 || n.Keypoints != 6 {
		t.Errorf("database holds %d images, %d keypoints; want 3, 6", n.Images, n.Keypoints)
	}
}

// TestCommandsMatchTable: every kind of stage.Table has exactly one
// command and every command a kind, and its flags sit beside the common
// and port flags Main registers without clashing (flag panics on a
// duplicate).
func TestCommandsMatchTable(t *testing.T) {
	var kinds []stage.Kind
	for _, c := range commands {
		if slices.Contains(kinds, c.kind) {
			t.Errorf("two commands for %s", c.kind)
		}
		kinds = append(kinds, c.kind)
		if _, _, ok := lookupCommand(c.kind); !ok {
			t.Errorf("command %s: no such kind in stage.Table", c.kind)
		}
	}
	for _, s := range stage.Table {
		if !slices.Contains(kinds, s.Kind) {
			t.Errorf("stage.Table's %s has no command", s.Kind)
		}
		if err := Main(context.Background(), []string{string(s.Kind), "--help"}, nil, io.Discard); err != nil {
			t.Errorf("stage %s --help = %v", s.Kind, err)
		}
	}
}

func TestMainUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"painter"}, {"logger", "--delivery", "sometimes"}, {"logger", "extra"}} {
		if err := Main(context.Background(), args, nil, io.Discard); !errors.Is(err, stage.ErrUsage) {
			t.Errorf("Main(%q) = %v; want stage.ErrUsage", args, err)
		}
	}
	u := stageUsage()
	for _, s := range stage.Table {
		if !strings.Contains(u, fmt.Sprintf("  %-11s %s\n", s.Kind, s.Summary)) {
			t.Errorf("stage usage lacks %s: %q", s.Kind, u)
		}
	}
}
