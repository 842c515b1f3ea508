package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// readGenState reads a generator's state file; false while there is none.
func readGenState(t *testing.T, path string) (stage.StreamState, bool) {
	t.Helper()
	st, err := stage.ReadStreamState(path)
	if err != nil {
		t.Fatal(err)
	}
	if st == nil {
		return stage.StreamState{}, false
	}
	return *st, true
}

// TestSupervisorKilledResumesStream SIGKILLs the real supervisor while its
// generator has frames in flight (its stages die with it: Pdeathsig), then
// starts a new run on the same database: that run continues the old stream,
// stores the frames the old one left unacknowledged, and says so in an
// event and in its summary.
func TestSupervisorKilledResumesStream(t *testing.T) {
	exe := realBinary(t)
	dir := shortTempDir(t)
	images := testImages(t, dir)
	dbPath := filepath.Join(dir, "k.db")
	statePath := dbPath + ".generator.state"
	sup := startRealSupervisor(t, exe, nil, "--no-tui", "--images", images, "--db", dbPath, "--workers", "1",
		"--run-dir", filepath.Join(dir, "run1"), "--status-bind", "@ipc://"+filepath.Join(dir, "st1"), "--for", "1h")
	waitUntil(t, 60*time.Second, "frames stored and frames in flight in the state file next to the database", func() bool {
		st, ok := readGenState(t, statePath)
		return ok && st.NextSeq > 6 && len(st.Window) > 0
	})
	sup.stages, _ = childStages(sup.cmd.Process.Pid)
	sup.kill(t, 10*time.Second)
	left, _ := readGenState(t, statePath) // final: its writer is dead
	if len(left.Window) == 0 {
		t.Fatalf("state file %s holds no frame in flight after the kill; the test proves nothing", statePath)
	}

	run2 := exec.Command(exe, "--no-tui", "--images", images, "--db", dbPath, "--workers", "1",
		"--run-dir", filepath.Join(dir, "run2"), "--status-bind", "@ipc://"+filepath.Join(dir, "st2"), "--for", "12s")
	var out2, err2 bytes.Buffer
	run2.Stdout, run2.Stderr = &out2, &err2
	runErr := run2.Run()
	text := out2.String()
	if runErr != nil {
		t.Fatalf("second run: %v\n%s\n%s", runErr, text, err2.String())
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	var sum Summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("summary: %v\n%s", err, text)
	}
	want := fmt.Sprintf("resumed %d frames of stream %d", len(left.Window), left.StreamID)
	if len(sum.Resumed) != 1 || !strings.HasPrefix(sum.Resumed[0], want) {
		t.Errorf("summary resumed %q; want %q", sum.Resumed, want)
	}
	if ev := fmt.Sprintf("resuming %d frames of stream %d", len(left.Window), left.StreamID); !strings.Contains(text, ev) {
		t.Errorf("no event %q in the second run's output:\n%s", ev, text)
	}

	// Every frame the killed run left in flight is in the database now:
	// the stream has no gap from its first seq to past the last of them.
	d, err := db.OpenReadOnly(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	streams, err := d.Streams(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, s := range streams {
		if s.StreamID != left.StreamID {
			continue
		}
		found = true
		last := left.Window[len(left.Window)-1].Seq
		if s.FirstSeq != 1 || s.LastSeq < last || s.Missing != 0 || s.Duplicates != 0 {
			t.Errorf("stream %d in the database: seqs %d..%d, %d missing, %d duplicates; want 1..≥%d, none missing",
				s.StreamID, s.FirstSeq, s.LastSeq, s.Missing, s.Duplicates, last)
		}
	}
	if !found {
		t.Errorf("stream %d of the killed run not in the database", left.StreamID)
	}
	if !sum.OK {
		t.Errorf("second run not ok: %+v", sum.Invariants)
	}
}

// TestStreamStateLock: the first supervisor on a database keeps its
// generator's state next to it; a second one on the same database while
// the first runs keeps its own in its run folder (a fresh stream) and says
// so; a state file with nothing in flight is removed (a fresh stream), an
// unreadable one moved aside.
func TestStreamStateLock(t *testing.T) {
	dir := shortTempDir(t)
	newSup := func(run string) *Supervisor {
		cfg := DefaultConfig()
		cfg.Exe = "/bin/true"
		cfg.RunDir = filepath.Join(dir, run)
		cfg.DB = filepath.Join(dir, "l.db")
		cfg.Transport = bus.NewTransport()
		s, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	next := filepath.Join(dir, "l.db.generator.state")
	if err := os.WriteFile(next, []byte(`{"stream_id":7,"next_seq":9,"window":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	a := newSup("a")
	a.claimStreamState()
	defer a.releaseStreamState()
	if got := a.statePath("generator"); got != next {
		t.Errorf("first supervisor's state at %s; want %s", got, next)
	}
	if _, err := os.Stat(next); err == nil {
		t.Errorf("a state file with nothing in flight was kept: the run would not start a fresh stream")
	}
	b := newSup("b")
	b.claimStreamState()
	defer b.releaseStreamState()
	if got, want := b.statePath("generator"), filepath.Join(dir, "b", "generator.state"); got != want {
		t.Errorf("second supervisor's state at %s; want %s (its run folder)", got, want)
	}
	if ev := b.Snapshot().Events; len(ev) != 1 || ev[0].Kind != stage.EventResume || !strings.Contains(ev[0].Text, "another pipeline") {
		t.Errorf("second supervisor's events %+v; want one resume event naming another pipeline", ev)
	}
	a.releaseStreamState()
	if err := os.WriteFile(next, []byte(`{"stream_id":`), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newSup("c")
	c.claimStreamState()
	defer c.releaseStreamState()
	if _, err := os.Stat(next + ".unreadable"); err != nil {
		t.Errorf("unreadable state file not moved aside: %v", err)
	}
	if len(c.Resumed()) != 0 {
		t.Errorf("resumed %v from an unreadable state file", c.Resumed())
	}
}
