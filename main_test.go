package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/creack/pty"
)

// binary is the real imaging-tui, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "itbin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "imaging-tui")
	build := exec.Command("go", "build", "-o", binary, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build imaging-tui: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// screen collects everything a program writes to its terminal.
type screen struct {
	mu  sync.Mutex
	raw bytes.Buffer
}

// copyFrom reads r until it fails (EIO once the program has exited and
// the pty's other side is closed), then closes done.
func (s *screen) copyFrom(r io.Reader, done chan<- struct{}) {
	defer close(done)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		s.mu.Lock()
		s.raw.Write(buf[:n])
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// text is the output so far without escape sequences. Bubble Tea redraws
// a changed line whole, so a line's words stay together in it.
func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.Strip(s.raw.String())
}

// waitFor polls until re matches the output after offset from, and
// returns the offset of the match's end.
func (s *screen) waitFor(t *testing.T, from int, re *regexp.Regexp, within time.Duration, what string) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		txt := s.text()
		if from < len(txt) {
			if loc := re.FindStringIndex(txt[from:]); loc != nil {
				return from + loc[1]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q within %v; the screen ends with:\n%s", what, re, within, tail(txt, 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// proc is one process as /proc/PID/stat shows it.
type proc struct {
	pid, ppid, pgid int
	state           byte
	start           uint64 // start time in clock ticks since boot: tells a reused pid apart
	cmd             string
}

// readProc reads /proc/PID/stat; ok is false once the process is gone.
func readProc(pid int) (p proc, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return p, false
	}
	// "pid (comm) state ppid pgrp ..."; comm may hold spaces and parens.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return p, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return p, false
	}
	p.pid = pid
	p.state = f[0][0]
	p.ppid, _ = strconv.Atoi(f[1])
	p.pgid, _ = strconv.Atoi(f[2])
	p.start, _ = strconv.ParseUint(f[19], 10, 64)
	if c, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil {
		p.cmd = strings.TrimSpace(strings.ReplaceAll(string(c), "\x00", " "))
	}
	return p, true
}

// allProcs lists every process.
func allProcs() []proc {
	ents, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

// alive reports whether p still runs: same pid, same start time, not a
// zombie.
func alive(p proc) bool {
	now, ok := readProc(p.pid)
	return ok && now.start == p.start && now.state != 'Z' && now.state != 'X'
}

// children records every child the console's process ever had.
type children struct {
	mu   sync.Mutex
	seen map[int]proc
}

func (c *children) scan(parent int) {
	for _, p := range allProcs() {
		if p.ppid != parent {
			continue
		}
		c.mu.Lock()
		// A child first seen before or during its exec has its parent's
		// command line, or none; keep the one it runs under.
		if old, ok := c.seen[p.pid]; !ok || old.start != p.start || (p.cmd != "" && p.cmd != old.cmd) {
			c.seen[p.pid] = p
		}
		c.mu.Unlock()
	}
}

func (c *children) list() []proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]proc, 0, len(c.seen))
	for _, p := range c.seen {
		out = append(out, p)
	}
	return out
}

// extractorPID is the live extractor child's pid, or 0.
func (c *children) extractorPID() int {
	for _, p := range c.list() {
		if strings.Contains(p.cmd, " stage extractor ") && alive(p) {
			return p.pid
		}
	}
	return 0
}

// TestConsoleKillRestartQuit runs the real binary in a pseudo-terminal
// against the real pipeline: it waits for the extractor to run, selects it,
// kills it with K, sees it restarted on screen, quits with q and checks
// that no child process (nor anything in their process groups) is left.
func TestConsoleKillRestartQuit(t *testing.T) {
	images := t.TempDir()
	matches, err := filepath.Glob("testdata/images/crop_*.png")
	if err != nil || len(matches) == 0 {
		t.Fatalf("no testdata/images/crop_*.png: %v", err)
	}
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(images, filepath.Base(m)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// ipc:// paths stop near 100 bytes: a short folder, not t.TempDir().
	run, err := os.MkdirTemp("", "p")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	tmp := t.TempDir() // the supervisor's log file lands in $TMPDIR

	cmd := exec.Command(binary,
		"--images", images,
		"--db", filepath.Join(t.TempDir(), "x.db"),
		"--run-dir", run,
		"--status-bind", "@ipc://"+filepath.Join(run, "st"),
	)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color", "TMPDIR="+tmp)
	start := time.Now()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatalf("start in a pty: %v", err)
	}
	pid := cmd.Process.Pid

	scr := &screen{}
	readDone := make(chan struct{})
	go scr.copyFrom(ptmx, readDone)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	kids := &children{seen: map[int]proc{}}
	stopScan := make(chan struct{})
	scanDone := make(chan struct{})
	go func() {
		defer close(scanDone)
		tk := time.NewTicker(50 * time.Millisecond)
		defer tk.Stop()
		for {
			kids.scan(pid)
			select {
			case <-stopScan:
				return
			case <-tk.C:
			}
		}
	}()

	var exitedOK bool
	t.Cleanup(func() {
		select {
		case <-stopScan:
		default:
			close(stopScan)
		}
		<-scanDone
		if !exitedOK {
			_ = cmd.Process.Kill()
			<-exited
		}
		for _, p := range kids.list() {
			if alive(p) {
				_ = syscall.Kill(-p.pid, syscall.SIGKILL) // its group, then itself
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
		}
		ptmx.Close()
		<-readDone
		if t.Failed() {
			for _, name := range []string{"generator", "extractor-0", "logger"} {
				if b, err := os.ReadFile(filepath.Join(run, "logs", name+".log")); err == nil {
					t.Logf("%s.log ends:\n%s", name, tail(string(b), 1500))
				}
			}
		}
	})

	send := func(keys string) {
		t.Helper()
		if _, err := ptmx.Write([]byte(keys)); err != nil {
			t.Fatalf("send %q: %v", keys, err)
		}
	}

	// The table at 120 columns has a STATE column: "extractor-0    running".
	extRunning := regexp.MustCompile(`extractor-0 +running`)
	off := scr.waitFor(t, 0, extRunning, 30*time.Second, "extractor running")
	old := 0
	for deadline := time.Now().Add(5 * time.Second); old == 0 && time.Now().Before(deadline); {
		old = kids.extractorPID()
		time.Sleep(20 * time.Millisecond)
	}
	if old == 0 {
		t.Fatalf("extractor running on screen but no extractor child; children: %+v", kids.list())
	}
	scr.waitFor(t, 0, regexp.MustCompile(`pid `+strconv.Itoa(old)+`\b`), 5*time.Second, "extractor pid on screen")
	t.Logf("extractor pid %d running after %v", old, time.Since(start).Round(time.Millisecond))

	// The first stage (generator) is selected at start: one down.
	send("j")
	off = scr.waitFor(t, off, regexp.MustCompile(`▸ extractor-0 · running`), 5*time.Second, "extractor selected")

	// K asks first; n cancels, y kills.
	send("K")
	off = scr.waitFor(t, off, regexp.MustCompile(`kill -9 extractor-0 \(.*\)\? y/n`), 5*time.Second, "kill confirmation")
	send("n")
	off = scr.waitFor(t, off, regexp.MustCompile(`cancelled: kill -9 extractor-0`), 5*time.Second, "kill cancelled")
	if p := kids.extractorPID(); p != old {
		t.Fatalf("extractor pid %d after a cancelled kill; want %d", p, old)
	}
	send("K")
	off = scr.waitFor(t, off, regexp.MustCompile(`\? y/n`), 5*time.Second, "kill confirmation")
	send("y")
	off = scr.waitFor(t, off, regexp.MustCompile(`extractor-0 kill`), 5*time.Second, "kill event")
	off = scr.waitFor(t, off, regexp.MustCompile(`extractor-0 +(backoff|starting)`), 5*time.Second, "extractor down")
	off = scr.waitFor(t, off, regexp.MustCompile(`restarts 1\b`), 15*time.Second, "restart count")
	scr.waitFor(t, off, extRunning, 15*time.Second, "extractor running again")
	if p, ok := readProc(old); ok && p.state != 'Z' {
		t.Errorf("killed extractor pid %d still there (state %c)", old, p.state)
	}
	var fresh int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if fresh = kids.extractorPID(); fresh != 0 && fresh != old {
			break
		}
	}
	if fresh == 0 || fresh == old {
		t.Fatalf("no new extractor process after the kill; children: %+v", kids.list())
	}
	off = scr.waitFor(t, off, regexp.MustCompile(`pid `+strconv.Itoa(fresh)+`\b`), 5*time.Second, "new extractor pid on screen")
	t.Logf("extractor restarted as pid %d after %v", fresh, time.Since(start).Round(time.Millisecond))

	// The detail view tells the killed process apart from a crash.
	send("\r")
	off = scr.waitFor(t, off, regexp.MustCompile(`1: 0 after a crash, 1 by the operator`), 5*time.Second, "detail view")
	off = scr.waitFor(t, off, regexp.MustCompile(`pid `+strconv.Itoa(old)+` .*signal: killed, by the operator`), 5*time.Second, "the killed process in the detail view")
	send("\x1b")
	off = scr.waitFor(t, off, regexp.MustCompile(`STAGE +STATE`), 5*time.Second, "back to the table")
	// The log filter.
	send("/extractor starting\r")
	off = scr.waitFor(t, off, regexp.MustCompile(`/extractor starting \(\d+ lines`), 5*time.Second, "filtered log")
	// A fault shows on the stage at once; F clears it.
	send("f4")
	off = scr.waitFor(t, off, regexp.MustCompile(`corrupt`), 5*time.Second, "corrupt on the extractor")
	off = scr.waitFor(t, off, regexp.MustCompile(`fault: corrupt on`), 5*time.Second, "fault event")
	send("F")
	scr.waitFor(t, off, regexp.MustCompile(`corrupt off`), 5*time.Second, "F cleared the fault")

	quitAt := time.Now()
	send("q")
	scr.waitFor(t, off, regexp.MustCompile(`quit: stop every stage`), 5*time.Second, "q asks first")
	send("y")
	select {
	case err := <-exited:
		exitedOK = true
		if err != nil {
			t.Errorf("imaging-tui exited with %v; want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("imaging-tui still running 30s after q; screen ends with:\n%s", tail(scr.text(), 3000))
	}
	close(stopScan)
	<-scanDone
	t.Logf("exited %v after q", time.Since(quitAt).Round(time.Millisecond))

	got := kids.list()
	kinds := map[string]bool{}
	for _, p := range got {
		for _, k := range []string{"generator", "extractor", "logger"} {
			if strings.Contains(p.cmd, " stage "+k+" ") {
				kinds[k] = true
			}
		}
	}
	if len(kinds) != 3 || len(got) < 4 {
		t.Errorf("saw children %+v; want a generator, a logger and two extractors", got)
	}
	groups := map[int]bool{}
	for _, p := range got {
		groups[p.pid] = true // each stage leads its own process group
		if alive(p) {
			t.Errorf("child pid %d left running after quit: %s", p.pid, p.cmd)
		}
	}
	for _, p := range allProcs() {
		if groups[p.pgid] && p.state != 'Z' {
			t.Errorf("pid %d of a stage's process group left running: %s", p.pid, p.cmd)
		}
	}
	if txt := scr.text(); !strings.Contains(txt, "stopped; stage logs in") {
		t.Errorf("no closing line after quit; output ends with:\n%s", tail(txt, 1000))
	}
	t.Logf("test took %v", time.Since(start).Round(time.Millisecond))
}

// TestHeadlessRunFolder: a headless run names its run folder on stderr
// first thing, removes it after a clean run when it was a temporary one, and
// keeps one the user named with --run-dir.
func TestHeadlessRunFolder(t *testing.T) {
	images := t.TempDir()
	b, err := os.ReadFile("testdata/images/crop_urchins_gray.png")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(images, "u.png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	kept, err := os.MkdirTemp("", "rf") // short: ipc:// paths stop near 100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(kept) })
	for _, tt := range []struct {
		name   string
		args   []string
		remain bool
	}{
		{"temporary", nil, false},
		{"given", []string{"--run-dir", kept}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--no-tui", "--images", images, "--db", filepath.Join(t.TempDir(), "r.db"),
				"--frames", "2", "--for", "60s"}, tt.args...)
			cmd := exec.Command(binary, args...)
			cmd.Env = append(os.Environ(), "TMPDIR="+os.TempDir())
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("imaging-tui %q: %v\n%s", args, err, stderr.String())
			}
			first, _, _ := strings.Cut(stderr.String(), "\n")
			dir, ok := strings.CutPrefix(first, "imaging-tui: run folder ")
			if !ok {
				t.Fatalf("first line on stderr %q; want the run folder", first)
			}
			_, err := os.Stat(dir)
			if exists := err == nil; exists != tt.remain {
				t.Errorf("run folder %s exists %v after a clean run; want %v\n%s", dir, exists, tt.remain, stderr.String())
			}
		})
	}
}
