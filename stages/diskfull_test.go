package stages

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// mountTmpfs mounts a tmpfs of size bytes in a temporary folder for the
// test and unmounts it at its end. It skips the test, saying why, where it
// cannot (mounting needs root).
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("mounting a small tmpfs needs root (euid %d)", os.Geteuid())
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestDiskFullRecovers fills a real small file system (a tmpfs) with a
// running logger: it reports itself blocked with the reason, keeps its
// write-ahead log from eating the disk, and once a filler file is deleted
// stores every frame sent, each once. The feeder resends what was not
// acknowledged, as a reliable generator does.
func TestDiskFullRecovers(t *testing.T) {
	const (
		fsSize    = 56 << 20
		fillSize  = 20 << 20
		frameSize = 1 << 20
		frames    = 40 // 40 MiB of images: more than fits beside the filler, less than the disk
	)
	dir := mountTmpfs(t, fsSize)
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, fillSize), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := db.Open(ctx, filepath.Join(dir, "full.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := &counters{state: wire.StateRunning}
	cfg := LoggerConfig{Common: Common{Delivery: stage.Reliable, started: time.Now()}}
	var logs lockedBuffer
	l := newLogger(cfg, d, c, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	defer func() {
		if t.Failed() {
			t.Logf("logger's warnings:\n%s", logs.String())
		}
	}()
	src, acks := make(chanSource), make(chanSink, 1000)
	l.ack = acks
	done := make(chan struct{})
	go func() { defer close(done); l.run(ctx, src) }()
	stop := sync.OnceFunc(func() { cancel(); <-done; d.Close() })
	defer stop()

	msgs := make([][]byte, frames+1)
	for seq := uint64(1); seq <= frames; seq++ {
		msgs[seq] = paddedFrame(t, seq, frameSize)
	}
	// The feeder sends every frame not yet acknowledged, again and again,
	// until all are; acked is written by the ack reader only.
	var mu sync.Mutex
	acked := map[uint64]int{}
	ackedAll := make(chan struct{})
	go func() {
		for {
			select {
			case msg := <-acks:
				a, err := wire.DecodeAck(msg)
				if err != nil {
					continue
				}
				if _, _, hello := a.Hello(); hello {
					continue
				}
				mu.Lock()
				for _, s := range a.Seqs {
					acked[s]++
				}
				n := len(acked)
				mu.Unlock()
				if n == frames {
					close(ackedAll)
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		for ctx.Err() == nil {
			for seq := uint64(1); seq <= frames; seq++ {
				mu.Lock()
				n := acked[seq]
				mu.Unlock()
				if n > 0 {
					continue
				}
				select {
				case src <- msgs[seq]:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-ackedAll:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()

	st := waitState(t, c, wire.StateBlocked, 20*time.Second)
	if !strings.Contains(st.StateReason, "disk full") || !strings.Contains(st.StateReason, dir) {
		t.Errorf("blocked, reason %q; want it to say the disk is full, and where (%s)", st.StateReason, dir)
	}
	free, wal := d.Space()
	n, err := d.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("blocked after %d frames: %q; %d bytes free, log %d bytes, database %d bytes",
		n.Images, st.StateReason, free, wal, n.FileBytes)
	if n.Images >= frames {
		t.Fatalf("all %d frames stored before the disk filled; the test proves nothing", frames)
	}
	if wal > 4*frameSize {
		t.Errorf("the write-ahead log holds %d bytes of a full disk; want it checkpointed (at most a few frames)", wal)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ackedAll:
	case <-time.After(20 * time.Second):
		mu.Lock()
		t.Fatalf("%d of %d frames acknowledged 20 s after space returned", len(acked), frames)
	}
	waitState(t, c, wire.StateRunning, 5*time.Second)
	if n, err := d.Counts(ctx); err != nil || n.Images != frames {
		t.Errorf("database holds %d images (%v) once all are acknowledged; want %d", n.Images, err, frames)
	}
	stop()

	r, err := db.OpenReadOnly(context.Background(), filepath.Join(dir, "full.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	streams, err := r.Streams(context.Background())
	if err != nil || len(streams) != 1 {
		t.Fatalf("streams = %+v, %v; want one", streams, err)
	}
	if s := streams[0]; s.FirstSeq != 1 || s.LastSeq != frames || s.Frames != frames || s.Missing != 0 || s.Duplicates != 0 {
		t.Errorf("stream = %+v; want seqs 1..%d each once", s, frames)
	}
	if ok, problems, err := r.IntegrityCheck(context.Background()); err != nil || !ok {
		t.Errorf("integrity check: ok=%v %v %v", ok, problems, err)
	}
}

// paddedFrame is a processed frame of stream 7 whose image is a real PNG
// followed by random bytes up to size, so that it takes size on any disk.
func paddedFrame(t *testing.T, seq uint64, size int) []byte {
	t.Helper()
	_, png := imageMessage(t, "crop_urchins_gray.png", seq)
	data := make([]byte, size)
	copy(data, png)
	rand.Read(data[len(png):])
	f := wire.Frame{Type: wire.TypeProcessed, Timestamp: 1, Width: 400, Height: 300, Channels: 1,
		Filename: "x.png", Data: data, Keypoints: make([]wire.Keypoint, 2),
		Descriptors: make([]float32, 2*wire.DescriptorSize), Trailer: &wire.Trailer{StreamID: 7, Seq: seq}}
	msg, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// waitState waits for the counters to report state, and returns the status.
func waitState(t *testing.T, c *counters, state string, within time.Duration) wire.Status {
	t.Helper()
	var st wire.Status
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		st = wire.Status{}
		c.fill(&st, time.Now())
		if st.State == state {
			return st
		}
	}
	t.Fatalf("state %q (%q) after %v; want %q", st.State, st.StateReason, within, state)
	return st
}

// lockedBuffer is a bytes.Buffer safe for a logger and a test at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
