package stages

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// sinkPublisher is a chanSink that never tells of a subscriber.
type sinkPublisher struct{ chanSink }

func (sinkPublisher) Joins() int { return 0 }

// testGenerator is a reliable generator of stream 7 over the sample
// images, publishing into a channel.
func testGenerator() *generator {
	return &generator{cfg: GeneratorConfig{Common: Common{Delivery: stage.Reliable}, Images: os.DirFS("../testdata/images"),
		StreamID: 7}, log: slog.New(slog.DiscardHandler), c: &counters{state: wire.StateRunning},
		window: map[uint64]*inflight{}, pub: sinkPublisher{make(chanSink, 100)}}
}

func ackMsg(t *testing.T, a *wire.Ack) []byte {
	t.Helper()
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGeneratorSeedAck: each frame of a stream gets its own timestamp,
// even loaded in the same instant; an ack by seed key retires the frame
// it names and no other; an ack by seq retires the frame's seed key too.
func TestGeneratorSeedAck(t *testing.T) {
	g := testGenerator()
	keys := map[uint64]wire.SeedKey{}
	for seq := uint64(1); seq <= 3; seq++ {
		msg, key, err := g.loadAt("crop_turf_rgba.png", seq, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f, err := wire.DecodeImage(msg); err != nil || f.SeedKey() != key {
			t.Fatalf("frame %d: key %v; the message's is %v (%v)", seq, key, f.SeedKey(), err)
		}
		if seq > 1 && key.Timestamp <= keys[seq-1].Timestamp {
			t.Errorf("frame %d timestamp %d; want after frame %d's %d", seq, key.Timestamp, seq-1, keys[seq-1].Timestamp)
		}
		keys[seq] = key
		g.publish(msg, "crop_turf_rgba.png", key)
	}
	other := keys[2]
	other.Digest++ // the same timestamp, another file: not ours
	g.onAck(ackMsg(t, &wire.Ack{Seeds: []wire.SeedKey{keys[2], other}}))
	g.onAck(ackMsg(t, &wire.Ack{StreamID: 7, Seqs: []uint64{1}}))
	g.onAck(ackMsg(t, &wire.Ack{StreamID: 8, Seqs: []uint64{3}})) // another stream's
	if _, ok := g.window[3]; len(g.window) != 1 || !ok || len(g.bySeed) != 1 || g.bySeed[keys[3]] != 3 {
		t.Fatalf("window %v, by seed key %v; want frame 3 alone", g.window, g.bySeed)
	}
	if g.acks.count != 2 {
		t.Errorf("%d frames acknowledged; want 2", g.acks.count)
	}
}

// TestGeneratorUnacked: frames in flight for 9 s with no acknowledgement
// put the generator in the unacked state with the reason and the hint; a
// logger's hello changes the reason; an ack ends the state.
func TestGeneratorUnacked(t *testing.T) {
	g := testGenerator()
	msg, key, err := g.loadAt("crop_turf_rgba.png", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	g.publish(msg, "crop_turf_rgba.png", key)
	start := g.window[1].first
	state := func() wire.Status {
		var st wire.Status
		g.c.fill(&st, time.Now())
		return st
	}
	g.watchAcks(start.Add(8 * time.Second))
	if st := state(); st.State != wire.StateRunning || g.acks.deaf() {
		t.Fatalf("after 8 s: state %q; want running", st.State)
	}
	// The status tells when the oldest frame not yet stored went out.
	if o := g.oldest.Load(); o != start.UnixNano() {
		t.Errorf("oldest unacknowledged %v; want the frame's first publish %v", time.Unix(0, o), start)
	}
	g.watchAcks(start.Add(9 * time.Second))
	st := state()
	if st.State != wire.StateUnacked || !strings.Contains(st.StateReason, unackedHint) ||
		!strings.HasPrefix(st.StateReason, "1 frame in flight, none acknowledged for 9s") || !g.acks.deaf() {
		t.Fatalf("after 9 s: state %q, reason %q; want unacked with the hint", st.State, st.StateReason)
	}
	g.acks.hello = start.Add(11 * time.Second)
	g.watchAcks(start.Add(12 * time.Second))
	if st := state(); st.State != wire.StateUnacked || !strings.Contains(st.StateReason, "a logger says hello") {
		t.Errorf("with a logger's hello: state %q, reason %q; want unacked, naming the logger", st.State, st.StateReason)
	}
	g.onAck(ackMsg(t, &wire.Ack{Seeds: []wire.SeedKey{key}}))
	g.watchAcks(time.Now())
	if st := state(); st.State != wire.StateRunning || st.StateReason != "" || g.acks.deaf() {
		t.Errorf("after the ack: state %q, reason %q; want running", st.State, st.StateReason)
	}
	if o := g.oldest.Load(); o != 0 {
		t.Errorf("oldest unacknowledged %v with an empty window; want none", time.Unix(0, o))
	}
}

// TestLoggerSeedFrames: a frame without our trailer (through a seed
// stage) is stored once however often it comes, acknowledged by its seed
// key every time, and counted.
func TestLoggerSeedFrames(t *testing.T) {
	ll := startLoggerLoop(t)
	l, d, src, acks := ll.l, ll.d, ll.src, ll.acks

	_, data := imageMessage(t, "crop_urchins_gray.png", 1)
	processed := func(ts uint64) (*wire.Frame, []byte) {
		f := &wire.Frame{Type: wire.TypeProcessed, Timestamp: ts, Width: 400, Height: 300, Channels: 1,
			Filename: "x.png", Data: data, Keypoints: make([]wire.Keypoint, 2),
			Descriptors: make([]float32, 2*wire.DescriptorSize)}
		msg, err := f.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return f, msg
	}
	f1, m1 := processed(100)
	f2, m2 := processed(101)
	for _, m := range [][]byte{m1, m1, m2} { // frame 1 twice, as a resend through a seed extractor
		src <- m
	}
	acked := map[wire.SeedKey]int{}
	for deadline := time.After(30 * time.Second); acked[f1.SeedKey()]+acked[f2.SeedKey()] < 3; {
		select {
		case msg := <-acks:
			a, err := wire.DecodeAck(msg)
			if err != nil {
				t.Fatalf("DecodeAck(logger output) = %v", err)
			}
			for _, k := range a.Seeds {
				acked[k]++
			}
		case <-deadline:
			t.Fatalf("acknowledged %v after 30 s; want frame 1 twice and frame 2", acked)
		}
	}
	ll.stop()
	if acked[f1.SeedKey()] != 2 || acked[f2.SeedKey()] != 1 {
		t.Errorf("acknowledged %v; want frame 1 twice, frame 2 once", acked)
	}
	n, err := d.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n.Images != 2 || l.seed.Load() != 3 {
		t.Errorf("database holds %d images, %d frames counted without trailer; want 2, 3", n.Images, l.seed.Load())
	}
}

// TestGeneratorStateKeepsTimestamps: frames in flight resumed from the
// state file after a restart go out with the timestamps they first had, so
// a copy that reached the logger through a seed stage is recognised; new
// frames' timestamps come after every earlier one.
func TestGeneratorStateKeepsTimestamps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gen.state")
	g := testGenerator()
	g.cfg.State = path
	for seq := uint64(1); seq <= 2; seq++ {
		msg, key, err := g.loadAt("crop_turf_rgba.png", seq, 0)
		if err != nil {
			t.Fatal(err)
		}
		g.publish(msg, "crop_turf_rgba.png", key)
	}
	st, err := loadState(path)
	if err != nil || st == nil {
		t.Fatalf("loadState = %+v, %v", st, err)
	}
	if st.LastTS != g.lastTS {
		t.Errorf("state file last_ts %d; want %d", st.LastTS, g.lastTS)
	}
	st.LastTS += uint64(time.Hour) // as if the clock had gone back an hour since
	again := testGenerator()
	again.resume(st)
	for seq, f := range g.window {
		if r, ok := again.window[seq]; !ok || r.key != f.key {
			t.Errorf("frame %d resumed as %+v; want its seed key %v", seq, r, f.key)
		}
	}
	_, key, err := again.loadAt("crop_turf_rgba.png", 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if key.Timestamp <= st.LastTS {
		t.Errorf("new frame's timestamp %d; want after the last one before the restart, %d", key.Timestamp, st.LastTS)
	}
}
