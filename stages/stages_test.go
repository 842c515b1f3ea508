package stages_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
)

// exe is the imaging-tui binary built once for these tests.
var exe string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stages-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	exe = filepath.Join(dir, "imaging-tui")
	build := exec.Command("go", "build", "-o", exe, "github.com/imaging-tui/imaging-tui")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build imaging-tui:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one stage process started by a test.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs `imaging-tui stage NAME ARGS...` in its own process group; the
// test's cleanup kills it (and its group) if it is still running.
func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(exe, append([]string{"stage", name, "--status", ""}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, tail(p.out.String(), 4000))
		}
	})
	return p
}

func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// stop sends SIGTERM and waits for a clean exit. It first waits for the
// stage to have started: a process signalled before its Go runtime has
// installed the handler just dies, which would test nothing.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	waitLog(t, p, " starting", 30*time.Second)
	p.kill(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("%s exited with %v after SIGTERM", p.name, p.err)
		}
	case <-time.After(60 * time.Second):
		// A generator's drain may legitimately wait 40 s for a resend.
		t.Errorf("%s did not stop within 60s of SIGTERM", p.name)
		p.crash(t) // never two of a stage at once
	}
}

func (p *proc) crash(t *testing.T) {
	t.Helper()
	p.kill(syscall.SIGKILL)
	<-p.done
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// pipeline names the ipc endpoints of one test pipeline.
type pipeline struct {
	dir, images, db string
	img, proc, ack  string
}

func newPipeline(t *testing.T, images ...string) *pipeline {
	t.Helper()
	dir, err := os.MkdirTemp("", "p") // short: ipc paths stop near 100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &pipeline{dir: dir, images: filepath.Join(dir, "img"), db: filepath.Join(dir, "test.db"),
		img: "ipc://" + dir + "/i", proc: "ipc://" + dir + "/p", ack: "ipc://" + dir + "/a"}
	if err := os.Mkdir(p.images, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range images {
		copyFile(t, filepath.Join("..", "testdata", "images", name), filepath.Join(p.images, name))
	}
	return p
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (p *pipeline) generator(t *testing.T, extra ...string) *proc {
	return start(t, "generator", append([]string{"--images", p.images, "--pub", "@" + p.img, "--ack", ">" + p.ack}, extra...)...)
}

func (p *pipeline) extractor(t *testing.T, extra ...string) *proc {
	return start(t, "extractor", append([]string{"--sub", ">" + p.img, "--pub", "@" + p.proc, "--workers", "2"}, extra...)...)
}

func (p *pipeline) logger(t *testing.T, extra ...string) *proc {
	return start(t, "logger", append([]string{"--sub", ">" + p.proc, "--ack", "@" + p.ack, "--db", p.db}, extra...)...)
}

// rows returns the number of images stored, 0 while the database is absent.
func (p *pipeline) rows(t *testing.T) int64 {
	t.Helper()
	if _, err := os.Stat(p.db); err != nil {
		return 0
	}
	d, err := db.OpenReadOnly(context.Background(), p.db)
	if err != nil {
		return 0
	}
	defer d.Close()
	c, err := d.Counts(context.Background())
	if err != nil {
		return 0
	}
	return c.Images
}

// waitRows polls until at least n images are stored, or fails the test.
func (p *pipeline) waitRows(t *testing.T, n int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := p.rows(t)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("database holds %d images after %v; want at least %d", got, within, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// storedOnce checks that the database holds frames 1..n of one stream, each
// once.
func storedOnce(t *testing.T, p *pipeline, n uint64) {
	t.Helper()
	d, err := db.OpenReadOnly(context.Background(), p.db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	streams, err := d.Streams(context.Background())
	if err != nil || len(streams) != 1 {
		t.Fatalf("streams = %+v, %v; want one", streams, err)
	}
	if s := streams[0]; s.FirstSeq != 1 || s.LastSeq != n || s.Missing != 0 || s.Duplicates != 0 {
		t.Errorf("stream = %+v; want seqs 1..%d once each", s, n)
	}
}

// waitLog polls until a process's output contains s.
func waitLog(t *testing.T, p *proc, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never logged %q", p.name, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// onePixelPNG encodes a valid 1×1 PNG: an image too small to hold features.
func onePixelPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// extractorTo starts an extractor that publishes to pub instead of binding.
func (p *pipeline) extractorTo(t *testing.T, pub string) *proc {
	return start(t, "extractor", "--sub", ">"+p.img, "--pub", pub, "--workers", "2")
}
