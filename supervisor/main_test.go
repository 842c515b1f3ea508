package supervisor

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// The test binary doubles as a fake stage and as a supervisor process
// (os/exec's helper-process pattern), selected by SV_HELPER.
func TestMain(m *testing.M) {
	switch os.Getenv("SV_HELPER") {
	case "stage":
		os.Exit(fakeStage(os.Args[1:]))
	case "supervisor":
		os.Exit(helperSupervisor())
	}
	var err error
	if binDir, err = os.MkdirTemp("", "svbin"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// fakeStage behaves like `imaging-tui stage KIND` as far as the supervisor
// can tell: it reports wire.Status on --status every 100 ms, stops cleanly
// on SIGTERM, toggles silence on SIGUSR1 (and "blocked" on SIGUSR2), crashes
// with 3 under IMAGING_TUI_FAULT_CRASH=1, and counts the messages arriving on
// its input sockets (--sub, or --ack for a generator): ones that decode as
// valid messages in frames_in, the others in errors.
func fakeStage(args []string) int {
	if len(args) < 2 || args[0] != "stage" {
		fmt.Fprintln(os.Stderr, "fake stage: want stage KIND ...")
		return 2
	}
	kind := stage.Kind(args[1])
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	status := fs.String("status", "", "")
	instance := fs.String("instance", string(kind), "")
	delivery := fs.String("delivery", "reliable", "")
	fs.String("log-format", "", "")
	sub := fs.String("sub", "", "")
	ack := fs.String("ack", "", "")
	fs.String("pub", "", "")
	fs.String("work", "", "")
	shard := fs.String("shard", "0/1", "")
	fs.String("db", "", "")
	fs.String("images", "", "")
	fs.String("fps", "", "")
	fs.String("workers", "", "")
	fs.String("threads", "", "")
	fs.String("state", "", "")
	fs.String("retain-frames", "", "")
	fs.String("retain-bytes", "", "")
	exitAfter := fs.Duration("fake-exit-after", 0, "exit with --fake-exit-code after this long")
	exitCode := fs.Int("fake-exit-code", 1, "")
	ignoreTerm := fs.Bool("fake-ignore-term", false, "ignore SIGTERM")
	chatty := fs.Int("fake-chatty", 0, "lines of output per tick")
	if err := fs.Parse(args[2:]); err != nil {
		return 2
	}
	if os.Getenv("IMAGING_TUI_FAULT_CRASH") == "1" {
		fmt.Fprintln(os.Stderr, "fake: injected crash")
		return 3
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGUSR2)
	zctx, err := bus.NewContext()
	if err != nil {
		return 1
	}
	pub, err := zctx.Pub(*status, bus.Options{Linger: 100 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake: status:", err)
		return 1
	}
	var valid, invalid atomic.Uint64
	in := *sub
	if kind == stage.Generator {
		in = *ack
	}
	stopIn := make(chan struct{})
	inDone := make(chan struct{})
	go func() { // owns the input socket
		defer close(inDone)
		if in == "" {
			return
		}
		s, err := zctx.Sub(in, bus.Options{Linger: time.Millisecond})
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake: input:", err)
			return
		}
		defer s.Close()
		for {
			select {
			case <-stopIn:
				return
			default:
			}
			msg, err := s.Recv(50 * time.Millisecond)
			if err != nil {
				continue
			}
			if validFor(kind, msg) {
				valid.Add(1)
			} else {
				invalid.Add(1)
			}
		}
	}()
	fmt.Fprintf(os.Stderr, "fake %s %s pid %d shard %s\n", kind, *instance, os.Getpid(), *shard)
	st := wire.Status{Stage: string(kind), Instance: *instance, PID: os.Getpid(), StartedAt: time.Now(), Delivery: *delivery, State: wire.StateRunning}
	if kind == stage.Generator {
		st.StreamID = rand.Uint64() | 1
	}
	silent := false
	send := func() {
		st.TS = time.Now()
		st.FramesIn, st.Errors = valid.Load(), invalid.Load()
		if !silent {
			b, _ := json.Marshal(&st)
			_ = pub.Send(b)
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	var exitC <-chan time.Time
	if *exitAfter > 0 {
		exitC = time.After(*exitAfter)
	}
	code := 0
loop:
	for n := 0; ; n++ {
		select {
		case <-tick.C:
			st.FramesOut++
			st.LastSeq = st.FramesOut
			st.FPS = 10
			send()
			fmt.Fprintf(os.Stderr, "fake %s tick %d\n", *instance, n)
			for i := 0; i < *chatty; i++ {
				fmt.Printf("chatty line %d %s\n", i, strings.Repeat("x", 200))
			}
		case <-exitC:
			fmt.Fprintln(os.Stderr, "fake: exiting as told")
			code = *exitCode
			break loop
		case sig := <-sigs:
			switch sig {
			case syscall.SIGUSR1:
				silent = !silent
			case syscall.SIGUSR2:
				if st.State == wire.StateBlocked {
					st.State = wire.StateRunning
				} else {
					st.State = wire.StateBlocked
				}
				send()
			default:
				if *ignoreTerm {
					fmt.Fprintln(os.Stderr, "fake: ignoring", sig)
					continue
				}
				st.State = wire.StateStopping
				send()
				break loop
			}
		}
	}
	close(stopIn)
	<-inDone
	closed := make(chan struct{})
	go func() {
		_ = pub.Close()
		_ = zctx.Close()
		close(closed)
	}()
	select { // the exit need not wait for a slow close
	case <-closed:
	case <-time.After(300 * time.Millisecond):
	}
	return code
}

// helperSupervisor runs a supervisor of fake stages in its own process and
// prints "PIDS p1 p2 ..." once they all run, then waits to be killed.
func helperSupervisor() int {
	dir := os.Getenv("SV_RUNDIR")
	cfg := fakeConfig(dir)
	sup, err := New(cfg, nil)
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	go func() {
		for {
			snap := sup.Snapshot()
			var pids []string
			for _, st := range snap.Stages {
				if st.State == StateRunning {
					pids = append(pids, strconv.Itoa(st.PID))
				}
			}
			if len(pids) == 3 {
				fmt.Println("PIDS " + strings.Join(pids, " "))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	_ = sup.Run(context.Background())
	return 0
}

// fakeConfig is a supervisor config of fake stages in dir.
func fakeConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.Exe = os.Args[0]
	// Under -race a child would sleep 1 s at exit (atexit_sleep_ms).
	cfg.Env = []string{"SV_HELPER=stage", "GORACE=atexit_sleep_ms=0"}
	cfg.RunDir = dir
	cfg.DB = filepath.Join(dir, "test.db")
	cfg.StatusBind = "@ipc://" + filepath.Join(dir, "st")
	cfg.RestartBase = 50 * time.Millisecond
	cfg.RestartCap = 400 * time.Millisecond
	cfg.StopGrace = 3 * time.Second
	cfg.DrainGrace = 3 * time.Second
	cfg.Transport = bus.NewTransport()
	return cfg
}

// shortTempDir is a temporary directory with a short path (unix socket paths
// stop near 100 bytes), removed at the end of the test.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keeping %s (logs/ has the stages' output)", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

type running struct {
	sup    *Supervisor
	cancel context.CancelFunc
	done   chan error
}

// startFake runs a supervisor of fake stages until the test ends, then
// checks that it shut down and left no process behind.
func startFake(t *testing.T, mutate func(*Config)) *running {
	t.Helper()
	cfg := fakeConfig(shortTempDir(t))
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	sup, err := New(cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{sup: sup, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- sup.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop shuts the supervisor down and checks no child is left.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run = %v; want nil", err)
		}
		r.done <- err // for a later stop
	case <-time.After(30 * time.Second):
		t.Fatalf("Run did not return 30s after cancel")
	}
	if left := r.sup.Leftovers(); len(left) > 0 {
		t.Errorf("Leftovers() = %v after Run; want none", left)
	}
}

// waitUntil polls cond every 20 ms until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stageOf(snap Snapshot, name string) (StageSnapshot, bool) {
	for _, st := range snap.Stages {
		if st.Name == name {
			return st, true
		}
	}
	return StageSnapshot{}, false
}

// waitState waits until stage name is in state want, returning its snapshot.
func (r *running) waitState(t *testing.T, name string, want State, timeout time.Duration) StageSnapshot {
	t.Helper()
	var st StageSnapshot
	waitUntil(t, timeout, fmt.Sprintf("%s to be %s", name, want), func() bool {
		var ok bool
		st, ok = stageOf(r.sup.Snapshot(), name)
		return ok && st.State == want
	})
	return st
}

func (r *running) waitAllRunning(t *testing.T, timeout time.Duration) Snapshot {
	t.Helper()
	var snap Snapshot
	waitUntil(t, timeout, "every stage running", func() bool {
		snap = r.sup.Snapshot()
		for _, st := range snap.Stages {
			if st.State != StateRunning {
				return false
			}
		}
		return len(snap.Stages) > 0
	})
	return snap
}

// procAlive reports whether pid exists and is not a zombie.
func procAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// procState returns the state letter of pid from /proc (R, S, T, Z, ...).
func procState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0
	}
	return s[i+2]
}
