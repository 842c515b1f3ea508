package stages_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/sift"
	"github.com/imaging-tui/imaging-tui/wire"
	"github.com/imaging-tui/imaging-tui/wire/probe"
)

// A seed peer is a stage of the original design, as these tests need one:
// it speaks the seed layout only, written out by hand here, not with
// package wire. It reads what it knows of a message and ignores the rest
// (our trailer), sends no trailer, no acknowledgement and no status. The
// test binary runs as one when seedPeerEnv names its role; the peer's
// settings come in the environment too:
//
//	IMAGING_SEED_IN      endpoint it receives from (extractor, logger)
//	IMAGING_SEED_OUT     endpoint it publishes on (generator, extractor)
//	IMAGING_SEED_DB      the logger's database
//	IMAGING_SEED_IMAGES  the generator's image folder
//	IMAGING_SEED_SIFT    "0": the extractor emits no keypoints instead of running SIFT
const seedPeerEnv = "IMAGING_SEED_PEER"

func init() {
	// Before TestMain: a seed peer must not build the binary or run tests.
	if role := os.Getenv(seedPeerEnv); role != "" {
		if err := runSeedPeer(role); err != nil {
			fmt.Fprintf(os.Stderr, "seed %s: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// runSeedPeer runs the seed stage role until SIGTERM or SIGINT.
func runSeedPeer(role string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	zctx, err := bus.NewContext()
	if err != nil {
		return err
	}
	defer zctx.Close()
	fmt.Fprintf(os.Stderr, "seed %s starting\n", role)
	switch role {
	case "generator":
		return seedGenerator(ctx, zctx)
	case "extractor":
		return seedExtractor(ctx, zctx)
	case "logger":
		return seedLogger(ctx, zctx)
	}
	return fmt.Errorf("no seed role %q", role)
}

// seedGenerator publishes the folder's images, ten a second, round and
// round: no trailer, no resend.
func seedGenerator(ctx context.Context, zctx *bus.Context) error {
	out, err := zctx.Pub(os.Getenv("IMAGING_SEED_OUT"), bus.Options{})
	if err != nil {
		return err
	}
	defer out.Close()
	dir := os.Getenv("IMAGING_SEED_IMAGES")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for i := 0; ctx.Err() == nil; i++ {
		name := entries[i%len(entries)].Name()
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		info, err := probe.Probe(data)
		if err != nil {
			return err
		}
		h := seedHeader{typ: 1, ts: uint64(time.Now().UnixNano()), w: uint32(info.Width), h: uint32(info.Height),
			c: uint32(info.Channels), name: name, data: data}
		if err := out.Send(h.appendTo(nil)); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// seedExtractor turns each IMAGE_DATA into PROCESSED_DATA with the same
// header fields, one at a time; what waits in its socket is lost when it is
// killed.
func seedExtractor(ctx context.Context, zctx *bus.Context) error {
	in, err := zctx.Sub(os.Getenv("IMAGING_SEED_IN"), bus.Options{})
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := zctx.Pub(os.Getenv("IMAGING_SEED_OUT"), bus.Options{})
	if err != nil {
		return err
	}
	defer out.Close()
	var det *sift.Detector
	if os.Getenv("IMAGING_SEED_SIFT") != "0" {
		sift.SetNumThreads(1)
		if det, err = sift.New(sift.Options{}); err != nil {
			return err
		}
		defer det.Close()
	}
	for ctx.Err() == nil {
		msg, err := in.Recv(200 * time.Millisecond)
		if errors.Is(err, bus.ErrTimeout) {
			continue
		}
		if err != nil {
			return err
		}
		h, err := seedParse(msg)
		if err != nil || h.typ != 1 {
			fmt.Fprintf(os.Stderr, "seed extractor: message skipped: %v\n", err)
			continue
		}
		var res sift.Result
		if det != nil {
			if res, err = det.Detect(h.data); err != nil {
				fmt.Fprintf(os.Stderr, "seed extractor: %s: %v\n", h.name, err)
				continue
			}
		}
		h.typ = 2
		b := appendSeedFeatures(h.appendTo(nil), res.Keypoints, res.Descriptors)
		if err := out.Send(b); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "seed extractor: %s ts %d: %d keypoints\n", h.name, h.ts, len(res.Keypoints))
	}
	return nil
}

// seedLogger stores every PROCESSED_DATA it receives, copies included, and
// acknowledges nothing.
func seedLogger(ctx context.Context, zctx *bus.Context) error {
	in, err := zctx.Sub(os.Getenv("IMAGING_SEED_IN"), bus.Options{})
	if err != nil {
		return err
	}
	defer in.Close()
	d, err := db.Open(ctx, os.Getenv("IMAGING_SEED_DB"))
	if err != nil {
		return err
	}
	defer d.Close()
	for ctx.Err() == nil {
		msg, err := in.Recv(200 * time.Millisecond)
		if errors.Is(err, bus.ErrTimeout) {
			continue
		}
		if err != nil {
			return err
		}
		f, err := seedParseProcessed(msg)
		if err != nil {
			fmt.Fprintf(os.Stderr, "seed logger: message skipped: %v\n", err)
			continue
		}
		if _, _, err := d.Store(context.WithoutCancel(ctx), f); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "seed logger: stored %s ts %d\n", f.Filename, f.Timestamp)
	}
	return nil
}

// seedHeader is the part of IMAGE_DATA that PROCESSED_DATA repeats.
type seedHeader struct {
	typ     byte
	ts      uint64
	w, h, c uint32
	name    string
	data    []byte
	rest    []byte // what follows the header and the image
}

func (h seedHeader) appendTo(b []byte) []byte {
	b = append(b, h.typ)
	b = binary.BigEndian.AppendUint64(b, h.ts)
	b = binary.BigEndian.AppendUint32(b, h.w)
	b = binary.BigEndian.AppendUint32(b, h.h)
	b = binary.BigEndian.AppendUint32(b, h.c)
	b = binary.BigEndian.AppendUint32(b, uint32(len(h.data)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(h.name)))
	b = append(b, h.name...)
	return append(b, h.data...)
}

// seedParse reads the header and the image of a message, as the seed's
// reader does; whatever follows is left in rest.
func seedParse(b []byte) (seedHeader, error) {
	const fixed = 1 + 8 + 5*4
	if len(b) < fixed {
		return seedHeader{}, fmt.Errorf("%d bytes: shorter than a header", len(b))
	}
	h := seedHeader{typ: b[0], ts: binary.BigEndian.Uint64(b[1:]),
		w: binary.BigEndian.Uint32(b[9:]), h: binary.BigEndian.Uint32(b[13:]), c: binary.BigEndian.Uint32(b[17:])}
	size, nameLen := int(binary.BigEndian.Uint32(b[21:])), int(binary.BigEndian.Uint32(b[25:]))
	if nameLen > len(b)-fixed || size > len(b)-fixed-nameLen {
		return seedHeader{}, fmt.Errorf("declared sizes run past the message")
	}
	h.name = string(b[fixed : fixed+nameLen])
	h.data = b[fixed+nameLen : fixed+nameLen+size]
	h.rest = b[fixed+nameLen+size:]
	return h, nil
}

// appendSeedFeatures appends PROCESSED_DATA's keypoints and descriptors.
func appendSeedFeatures(b []byte, kps []wire.Keypoint, desc []float32) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(kps)))
	for _, k := range kps {
		for _, v := range []float32{k.X, k.Y, k.Size, k.Angle, k.Response} {
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(v))
		}
		b = binary.BigEndian.AppendUint32(b, uint32(k.Octave))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(desc)))
	for _, v := range desc {
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// seedParseProcessed reads a PROCESSED_DATA message into what the seed
// logger stores.
func seedParseProcessed(b []byte) (*db.Frame, error) {
	h, err := seedParse(b)
	if err != nil {
		return nil, err
	}
	if h.typ != 2 || len(h.rest) < 4 {
		return nil, fmt.Errorf("type %d with %d bytes of features: not PROCESSED_DATA", h.typ, len(h.rest))
	}
	f := &db.Frame{Timestamp: int64(h.ts), Filename: h.name, Width: int(h.w), Height: int(h.h), Channels: int(h.c),
		Image: h.data, Descriptors: []float32{}}
	r := h.rest
	k := int(binary.BigEndian.Uint32(r))
	r = r[4:]
	if k > len(r)/24 {
		return nil, fmt.Errorf("%d keypoints in %d bytes", k, len(r))
	}
	for range k {
		v := func(i int) float32 { return math.Float32frombits(binary.BigEndian.Uint32(r[4*i:])) }
		f.Keypoints = append(f.Keypoints, db.Keypoint{X: v(0), Y: v(1), Size: v(2), Angle: v(3), Response: v(4),
			Octave: int32(binary.BigEndian.Uint32(r[20:]))})
		r = r[24:]
	}
	if len(r) < 4 || int(binary.BigEndian.Uint32(r)) != k*wire.DescriptorSize || len(r)-4 < 4*k*wire.DescriptorSize {
		return nil, fmt.Errorf("descriptors do not match %d keypoints", k)
	}
	for i := range k * wire.DescriptorSize {
		f.Descriptors = append(f.Descriptors, math.Float32frombits(binary.BigEndian.Uint32(r[4+4*i:])))
	}
	return f, nil
}

// startSeed runs a seed peer of the given role (the test binary itself) in
// its own process group; env adds its settings. The test's cleanup kills it.
func startSeed(t *testing.T, role string, env ...string) *proc {
	t.Helper()
	p := &proc{name: "seed " + role, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(append(os.Environ(), seedPeerEnv+"="+role), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start seed %s: %v", role, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("seed %s output:\n%s", role, tail(p.out.String(), 4000))
		}
	})
	return p
}

// seedExtractor starts a seed extractor where the pipeline's extractor goes.
func (p *pipeline) seedExtractor(t *testing.T) *proc {
	return startSeed(t, "extractor", "IMAGING_SEED_IN=>"+p.img, "IMAGING_SEED_OUT=@"+p.proc)
}

// seedLogger starts a seed logger where the pipeline's logger goes.
func (p *pipeline) seedLogger(t *testing.T) *proc {
	return startSeed(t, "logger", "IMAGING_SEED_IN=>"+p.proc, "IMAGING_SEED_DB="+p.db)
}

// seedGenerator starts a seed generator where the pipeline's generator goes.
func (p *pipeline) seedGenerator(t *testing.T) *proc {
	return startSeed(t, "generator", "IMAGING_SEED_OUT=@"+p.img, "IMAGING_SEED_IMAGES="+p.images)
}

// sniff subscribes to the generator's frames, to learn each one's seq and
// timestamp. Call it before the generator starts: a subscriber that joins
// later makes the generator resend its window.
func (p *pipeline) sniff(t *testing.T) *bus.Socket {
	t.Helper()
	zctx, err := bus.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zctx.Close() })
	s, err := zctx.Sub(">"+p.img, bus.Options{HWM: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sniffed reads what s received: each seq's timestamp. A frame sent again
// must carry the timestamp it first had.
func sniffed(t *testing.T, s *bus.Socket) map[uint64]uint64 {
	t.Helper()
	ts := map[uint64]uint64{}
	for {
		msg, err := s.Recv(100 * time.Millisecond)
		if errors.Is(err, bus.ErrTimeout) {
			return ts
		}
		if err != nil {
			t.Fatal(err)
		}
		f, err := wire.DecodeImage(msg)
		if err != nil || f.Trailer == nil {
			t.Fatalf("generator sent %v, %v; want an image with our trailer", f, err)
		}
		if old, ok := ts[f.Trailer.Seq]; ok && old != f.Timestamp {
			t.Errorf("seq %d sent with timestamps %d and %d; want one", f.Trailer.Seq, old, f.Timestamp)
		}
		ts[f.Trailer.Seq] = f.Timestamp
	}
}

// storedTimestamps returns the timestamp of every row of the database.
func (p *pipeline) storedTimestamps(t *testing.T) []uint64 {
	t.Helper()
	ctx := context.Background()
	d, err := db.OpenReadOnly(ctx, p.db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := d.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for id := int64(1); int64(len(out)) < c.Images; id++ {
		f, err := d.Image(ctx, id)
		if errors.Is(err, db.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, uint64(f.Timestamp))
	}
	slices.Sort(out)
	return out
}

// waitExit waits for p to exit by itself and fails the test if it does not.
func waitExit(t *testing.T, p *proc, within time.Duration) {
	t.Helper()
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("%s exited with %v", p.name, p.err)
		}
	case <-time.After(within):
		t.Fatalf("%s did not exit within %v", p.name, within)
	}
}
