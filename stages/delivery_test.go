package stages_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// chaosDuration is how long the chaos tests keep killing stages:
// IMAGING_CHAOS_SECONDS, or 20 s (CI). `just chaos` runs them longer.
func chaosDuration(t *testing.T) time.Duration {
	if s := os.Getenv("IMAGING_CHAOS_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("IMAGING_CHAOS_SECONDS=%q is not a number of seconds", s)
		}
		return time.Duration(n) * time.Second
	}
	return 20 * time.Second
}

// statusListener binds the status channel of a test pipeline.
func statusListener(t *testing.T, p *pipeline) (*bus.Socket, string) {
	t.Helper()
	zctx, err := bus.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zctx.Close() })
	sock, err := zctx.Sub("@ipc://"+p.dir+"/s", bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	return sock, ">ipc://" + p.dir + "/s"
}

// waitStageStatus waits for a status of one stage that ok accepts.
func waitStageStatus(t *testing.T, sock *bus.Socket, stage string, ok func(*wire.Status) bool) *wire.Status {
	t.Helper()
	return waitStatus(t, sock, func(s *wire.Status) bool { return s.Stage == stage && ok(s) })
}

// TestChaosReliable kills the extractor and the logger with SIGKILL several
// times and the generator once, stops and restarts each gracefully too, and
// then finds every frame published stored exactly once.
func TestChaosReliable(t *testing.T) {
	p := newPipeline(t, small...)
	state := p.dir + "/gen.state"
	gen := func() *proc { return p.generator(t, "--state", state) }
	procs := map[string]*proc{"logger": p.logger(t), "extractor": p.extractor(t), "generator": gen()}
	restart := map[string]func() *proc{
		"logger":    func() *proc { return p.logger(t) },
		"extractor": func() *proc { return p.extractor(t) },
		"generator": gen,
	}
	p.waitRows(t, 3, 60*time.Second)
	rng := rand.New(rand.NewPCG(7, 7))
	d := chaosDuration(t)
	end := time.Now().Add(d)
	kills := map[string]int{}
	plan := []string{"generator:term", "extractor:term", "logger:term", "generator:kill"}
	for i := 0; time.Now().Before(end) || len(plan) > 0; i++ {
		time.Sleep(time.Duration(300+rng.IntN(700)) * time.Millisecond)
		victim, how := []string{"extractor", "logger"}[i%2], "kill"
		if i%3 == 2 && len(plan) > 0 { // every third: a graceful restart, or the generator's one kill
			victim, how, _ = strings.Cut(plan[0], ":")
			plan = plan[1:]
		}
		if how == "kill" {
			procs[victim].crash(t)
			kills[victim]++
		} else {
			procs[victim].stop(t)
		}
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		procs[victim] = restart[victim]()
	}
	before := p.rows(t)
	p.waitRows(t, before+3, 60*time.Second) // still flowing after the last restart
	// Stop in data-flow order: the generator drains its window first.
	procs["generator"].stop(t)
	procs["extractor"].stop(t)
	procs["logger"].stop(t)

	st, err := loadGenState(state)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := db.OpenReadOnly(context.Background(), p.db)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	streams, err := d2.Streams(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v of chaos: kills %v; published %d; streams %+v", d, kills, st.NextSeq-1, streams)
	if kills["extractor"] < 2 || kills["logger"] < 2 || kills["generator"] != 1 {
		t.Errorf("kills = %v; want the extractor and the logger killed at least twice and the generator once", kills)
	}
	if len(streams) != 1 {
		t.Fatalf("%d streams; want 1 (the generator resumes its stream after a restart)", len(streams))
	}
	s := streams[0]
	if s.FirstSeq != 1 || s.LastSeq != st.NextSeq-1 || s.Missing != 0 || s.Duplicates != 0 || s.Frames != int64(s.LastSeq) {
		t.Errorf("stream = %+v; want seqs 1..%d each exactly once", s, st.NextSeq-1)
	}
	if ok, problems, err := d2.IntegrityCheck(context.Background()); err != nil || !ok {
		t.Errorf("integrity check: ok=%v %v %v", ok, problems, err)
	}
}

// TestChaosBestEffort kills stages under best-effort delivery: frames are
// lost, and the logger's dropped count equals the gaps in the database.
func TestChaosBestEffort(t *testing.T) {
	p := newPipeline(t, small...)
	status, st := statusListener(t, p)
	be := []string{"--delivery", "best-effort", "--status", st}
	lg := p.logger(t, be...)
	ex := p.extractor(t, be...)
	gen := p.generator(t, append(be, "--fps", "15")...)
	p.waitRows(t, 3, 60*time.Second)
	end := time.Now().Add(chaosDuration(t) / 2)
	for i := 0; time.Now().Before(end); i++ {
		time.Sleep(time.Second)
		if i%2 == 0 {
			ex.crash(t)
			time.Sleep(500 * time.Millisecond)
			ex = p.extractor(t, be...)
		} else {
			lg.crash(t)
			time.Sleep(500 * time.Millisecond)
			lg = p.logger(t, be...)
		}
	}
	p.waitRows(t, p.rows(t)+3, 60*time.Second)
	gen.stop(t)
	ex.stop(t) // nothing more reaches the logger: its figures can settle
	d, err := db.OpenReadOnly(context.Background(), p.db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	gaps := func() int64 {
		streams, err := d.Streams(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var missing int64
		for _, s := range streams {
			missing += s.Missing
		}
		return missing
	}
	// A gap counts as dropped once it has stayed open for the logger's
	// reorder grace (10 s): the last ones take that long.
	var rows, missing int64
	last := waitStageStatus(t, status, "logger", func(s *wire.Status) bool {
		rows, missing = p.rows(t), gaps()
		return s.DB != nil && s.DB.Images == rows && int64(s.Dropped) == missing
	})
	lg.stop(t)
	t.Logf("best effort: %d rows, logger reports %d dropped, database has %d gaps", rows, last.Dropped, missing)
	if missing == 0 {
		t.Errorf("no frame lost although the logger was killed under best-effort delivery; the test proves nothing")
	}
}

// TestDatabaseFull makes the database unable to grow (the dbfull fault),
// then lets it grow again: the logger pauses, says so, resumes by itself,
// and nothing is lost or corrupted.
func TestDatabaseFull(t *testing.T) {
	p := newPipeline(t, small...)
	status, st := statusListener(t, p)
	lg := p.logger(t, "--status", st)
	ex := p.extractor(t)
	gen := p.generator(t, "--state", p.dir+"/gen.state")
	p.waitRows(t, 3, 60*time.Second)
	lg.kill(syscall.SIGUSR2)
	blocked := waitStageStatus(t, status, "logger", func(s *wire.Status) bool { return s.State == wire.StateBlocked })
	if blocked.LastError == "" {
		t.Error("a blocked logger gives no reason in last_error")
	}
	held := p.rows(t)
	time.Sleep(2 * time.Second)
	if got := p.rows(t); got != held {
		t.Errorf("rows grew from %d to %d while the database was full", held, got)
	}
	lg.kill(syscall.SIGUSR2)
	waitStageStatus(t, status, "logger", func(s *wire.Status) bool { return s.State == wire.StateRunning })
	p.waitRows(t, held+3, 60*time.Second)
	gen.stop(t)
	ex.stop(t)
	lg.stop(t)
	gs, err := loadGenState(p.dir + "/gen.state")
	if err != nil {
		t.Fatal(err)
	}
	storedOnce(t, p, gs.NextSeq-1)
	d, err := db.OpenReadOnly(context.Background(), p.db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if ok, problems, err := d.IntegrityCheck(context.Background()); err != nil || !ok {
		t.Errorf("integrity check: ok=%v %v %v", ok, problems, err)
	}
	if !containsAll(lg.out.String(), "database full") {
		t.Error("the logger did not log the full database")
	}
}

// TestRetention keeps only the newest frames.
func TestRetention(t *testing.T) {
	p := newPipeline(t, small...)
	status, st := statusListener(t, p)
	p.logger(t, "--status", st, "--retain-frames", "5")
	p.extractor(t)
	p.generator(t)
	last := waitStageStatus(t, status, "logger", func(s *wire.Status) bool { return s.FramesOut >= 30 })
	rows := p.rows(t)
	t.Logf("after %d frames stored, %d kept", last.FramesOut, rows)
	if rows < 5 || rows > 5+8 {
		t.Errorf("%d frames kept with --retain-frames 5; want 5 (plus at most one retention batch)", rows)
	}
}

// loadGenState reads the generator's --state file, which must exist.
func loadGenState(path string) (*stage.StreamState, error) {
	st, err := stage.ReadStreamState(path)
	if st == nil && err == nil {
		return nil, fmt.Errorf("no state file %s", path)
	}
	return st, err
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
