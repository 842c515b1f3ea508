package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// handStarted is a stage process started by hand, as an operator would on
// another host: not by the supervisor.
type handStarted struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

// syncBuffer is a bytes.Buffer safe for a process's output and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// startByHand starts exe with args (plus env) in its own process group and
// stops it (SIGTERM, then SIGKILL to the group) when the test ends.
func startByHand(t *testing.T, exe string, env []string, args ...string) *handStarted {
	t.Helper()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s %q: %v", exe, args, err)
	}
	h := &handStarted{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { h.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if err := h.stop(10 * time.Second); err != nil {
			t.Errorf("hand-started %q: %v\n%s", args, err, out.String())
		}
	})
	return h
}

// stop sends SIGTERM and waits up to grace for a clean exit; then SIGKILLs
// the group. It returns an error for anything but exit 0 after SIGTERM.
func (h *handStarted) stop(grace time.Duration) error {
	if h.cmd.ProcessState != nil {
		return nil
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-h.done:
		h.done <- err // for a later stop
		_ = syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
		return err
	case <-time.After(grace):
		_ = syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
		<-h.done
		return fmt.Errorf("still running %v after SIGTERM: killed", grace)
	}
}

// statusEndpoint returns the connect form of the status endpoint the
// supervisor bound (e.g. ">tcp://127.0.0.1:41234" for tcp://127.0.0.1:0),
// once its stages run.
func (r *running) statusEndpoint(t *testing.T) string {
	t.Helper()
	r.waitAllRunning(t, 15*time.Second) // Run set statusConn before it started them
	r.sup.mu.Lock()
	defer r.sup.mu.Unlock()
	return r.sup.statusConn
}

// TestRemoteStagesOverTCP: the supervisor binds its status channel on a
// loopback TCP port picked by the system; two stages started by hand (the
// real binary's extractor, and the test binary as a fake stage) report to
// it with --status tcp://HOST:PORT. Both appear in Snapshot as remote
// (observed, not controlled) and in the Prometheus metrics; commands on
// them fail with ErrRemote.
func TestRemoteStagesOverTCP(t *testing.T) {
	r := startFake(t, func(c *Config) { c.StatusBind = "@tcp://127.0.0.1:0" })
	conn := r.statusEndpoint(t)
	if !strings.HasPrefix(conn, ">tcp://127.0.0.1:") || strings.HasSuffix(conn, ":0") {
		t.Fatalf("status endpoint %q; want >tcp://127.0.0.1:PORT with the port picked", conn)
	}
	dir := r.sup.RunDir()
	hostPort := strings.TrimPrefix(conn, ">tcp://")

	// The operator's command line on the other host: --status tcp://SUPERVISOR:PORT.
	real := startByHand(t, realBinary(t), nil, "stage", "extractor", "--status", "tcp://"+hostPort,
		"--instance", "far-real", "--workers", "1", "--log-format", "text",
		"--sub", ">ipc://"+filepath.Join(dir, "far-in"), "--pub", "@ipc://"+filepath.Join(dir, "far-out"))
	fake := startByHand(t, os.Args[0], []string{"SV_HELPER=stage", "GORACE=atexit_sleep_ms=0"},
		"stage", "logger", "--status", ">tcp://"+hostPort, "--instance", "far-fake")

	var snap Snapshot
	waitUntil(t, 30*time.Second, "both hand-started stages reported as remote", func() bool {
		snap = r.sup.Snapshot()
		a, okA := stageOf(snap, "far-real")
		b, okB := stageOf(snap, "far-fake")
		return okA && okB && a.State == StateRemote && b.State == StateRemote && a.Status != nil && b.Status != nil
	})
	for _, want := range []struct {
		name string
		kind stage.Kind
		pid  int
	}{{"far-real", stage.Extractor, real.cmd.Process.Pid}, {"far-fake", stage.Logger, fake.cmd.Process.Pid}} {
		st, _ := stageOf(snap, want.name)
		if st.Kind != want.kind || st.Status.PID != want.pid || st.PID != 0 {
			t.Errorf("%s: kind %q status pid %d supervisor pid %d; want kind %q, status pid %d, no supervisor pid",
				want.name, st.Kind, st.Status.PID, st.PID, want.kind, want.pid)
		}
		if host, _ := os.Hostname(); want.name == "far-real" && st.Host != host {
			t.Errorf("%s: snapshot host %q; want the host it reported, %q", want.name, st.Host, host)
		}
		if err := r.sup.Kill(want.name); !errors.Is(err, ErrRemote) {
			t.Errorf("Kill(%s) = %v; want ErrRemote", want.name, err)
		}
		if err := r.sup.Restart(want.name); !errors.Is(err, ErrRemote) {
			t.Errorf("Restart(%s) = %v; want ErrRemote", want.name, err)
		}
	}
	// Local stages come first, remote ones after, in Snapshot.
	if n := len(snap.Stages); n != 5 || snap.Stages[3].State != StateRemote || snap.Stages[4].State != StateRemote {
		t.Errorf("stages %v; want the 3 local stages then the 2 remote ones", stageNames(snap))
	}
	if !hasEvent(snap, "far-real", "remote") {
		t.Errorf("no remote event for far-real")
	}

	// The metrics endpoint, scraped over HTTP, shows them as remote and up.
	url := ServeMetricsForTest(t, r.sup)
	fams := scrapeMetrics(t, url)
	for _, name := range []string{"far-real", "far-fake"} {
		if v, ok := promValue(fams, "imaging_stage_state", map[string]string{"instance": name, "state": "remote"}); !ok || v != 1 {
			t.Errorf("imaging_stage_state{instance=%q,state=remote} = %v (found %v); want 1", name, v, ok)
		}
		if v, ok := promValue(fams, "imaging_stage_up", map[string]string{"instance": name}); !ok || v != 1 {
			t.Errorf("imaging_stage_up{instance=%q} = %v (found %v); want 1", name, v, ok)
		}
	}
	if v, ok := promValue(fams, "imaging_stage_up", map[string]string{"stage": "extractor", "instance": "far-real"}); !ok || v != 1 {
		t.Errorf("far-real is not labelled stage=extractor")
	}

	// The real stage stops cleanly on SIGTERM, as it would by hand.
	if err := real.stop(10 * time.Second); err != nil {
		t.Errorf("stop the hand-started extractor: %v\n%s", err, real.out.String())
	}
}

func stageNames(snap Snapshot) []string {
	var out []string
	for _, st := range snap.Stages {
		out = append(out, st.Name+":"+string(st.State))
	}
	return out
}

func hasEvent(snap Snapshot, name string, kind stage.EventKind) bool {
	for _, e := range snap.Events {
		if e.Stage == name && e.Kind == kind {
			return true
		}
	}
	return false
}

// TestHeadlessSummaryListsRemoteStages: a stage started by hand appears in
// the headless status lines and in the summary's remote list, and does not
// count among the supervisor's own stages.
func TestHeadlessSummaryListsRemoteStages(t *testing.T) {
	cfg := fakeConfig(shortTempDir(t))
	sup, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Connecting before the supervisor binds is fine: ZeroMQ retries.
	startByHand(t, os.Args[0], []string{"SV_HELPER=stage", "GORACE=atexit_sleep_ms=0"},
		"stage", "extractor", "--status", ">"+strings.TrimPrefix(cfg.StatusBind, "@"), "--instance", "far-h")
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		sum Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := RunHeadless(ctx, sup, HeadlessOptions{Out: out})
		done <- result{sum, err}
	}()
	// Until a status line shows it (one a second), then stop as Ctrl-C would.
	waitUntil(t, 30*time.Second, "a status line with far-h remote", func() bool {
		return strings.Contains(out.String(), "far-h remote 10.0fps")
	})
	cancel()
	var res result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("RunHeadless did not return 30s after cancel")
	}
	t.Logf("output:\n%s", out.String())
	if !errors.Is(res.err, ErrInvariant) { // the fakes store nothing: progress fails
		t.Fatalf("RunHeadless = %v; want ErrInvariant", res.err)
	}
	sum := res.sum
	if sum.StopReason != "interrupted" {
		t.Errorf("stop reason %q; want interrupted", sum.StopReason)
	}
	if len(sum.Remote) != 1 || sum.Remote[0].Name != "far-h" || sum.Remote[0].Kind != stage.Extractor || sum.Remote[0].FPS <= 0 {
		t.Errorf("summary remote = %+v; want far-h, an extractor, fps > 0", sum.Remote)
	}
	if _, ok := sum.Restarts["far-h"]; ok {
		t.Errorf("summary restarts %v include the remote stage", sum.Restarts)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var printed Summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &printed); err != nil || len(printed.Remote) != 1 {
		t.Errorf("printed summary remote = %+v (%v); want far-h", printed.Remote, err)
	}
}
