package supervisor

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// checkAddsUp fails t unless every stream of sum, and the totals, add up:
// published = stored + retained_away + lost + in_flight_at_exit.
func checkAddsUp(t *testing.T, sum Summary) {
	t.Helper()
	var pub uint64
	var stored, retained, lost, inFlight int64
	for _, s := range sum.Streams {
		if s.Published != uint64(s.Stored+s.RetainedAway+s.Lost+s.InFlight) || s.Lost < 0 {
			t.Errorf("stream %d does not add up: %+v", s.StreamID, s)
		}
		pub += s.Published
		stored, retained, lost, inFlight = stored+s.Stored, retained+s.RetainedAway, lost+s.Lost, inFlight+s.InFlight
	}
	if sum.FramesPublished != pub || sum.StoredInStreams != stored || sum.RetainedAway != retained ||
		sum.Lost != lost || sum.InFlight != inFlight {
		t.Errorf("totals published %d stored %d retained %d lost %d in flight %d; streams sum to %d %d %d %d %d",
			sum.FramesPublished, sum.StoredInStreams, sum.RetainedAway, sum.Lost, sum.InFlight, pub, stored, retained, lost, inFlight)
	}
}

func invariant(sum Summary, name string) (Invariant, bool) {
	for _, inv := range sum.Invariants {
		if inv.Name == name {
			return inv, true
		}
	}
	return Invariant{}, false
}

// TestLostCountsFramesOutsideStoredRange: a stream whose first frames and
// last frames never reached the database (a real one) counts them lost, not
// only the gaps between stored frames; frames retention deleted, and frames
// still in the generator's window, are not lost.
func TestLostCountsFramesOutsideStoredRange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acct.db")
	ctx := context.Background()
	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	store := func(stream uint64, seqs ...uint64) {
		for _, seq := range seqs {
			f := &db.Frame{StreamID: stream, Seq: seq, Timestamp: int64(seq), Filename: "f.png", Width: 1, Height: 1, Channels: 1, Image: []byte{byte(seq)}}
			if _, _, err := d.Store(ctx, f); err != nil {
				t.Fatal(err)
			}
		}
	}
	store(5, 1, 2)          // stream 5: 1-2, then retained away
	store(7, 3, 4, 6, 7, 8) // stream 7: 1-2 never stored, 5 missing, 9-10 never stored
	store(5, 3, 4, 5)       // stream 5: 3-5 stored, 6-12 in its generator's window
	if n, err := d.Retain(ctx, 8, 0); err != nil || n != 2 {
		t.Fatalf("Retain = %d, %v; want the 2 oldest frames deleted", n, err)
	}
	d.Close()
	fin, integrity, err := readFinalDB(path)
	if err != nil || integrity != "ok" {
		t.Fatalf("readFinalDB: %v, %s", err, integrity)
	}
	published := []StreamSnapshot{
		{StreamID: 7, Instance: "generator", LastSeq: 10, Ended: true, StopOK: true, Clean: true},
		{StreamID: 5, Instance: "generator-1", LastSeq: 12, Unacked: 7, Ended: true, StopOK: true},
	}
	sum := Summary{}
	tally := summarizeStreams(&sum, published, fin, true)
	tally.checkAccounting(&sum)
	tally.checkReliable(&sum)
	checkAddsUp(t, sum)
	by := map[uint64]SummaryStream{}
	for _, s := range sum.Streams {
		by[s.StreamID] = s
	}
	if s := by[7]; s.Published != 10 || s.Stored != 5 || s.Lost != 5 || s.Missing != 1 || s.InFlight != 0 {
		t.Errorf("stream 7: %+v; want published 10, stored 5, lost 5 (1-2, 5, 9-10) of which 1 between stored frames", s)
	}
	if s := by[5]; s.Published != 12 || s.Stored != 3 || s.RetainedAway != 2 || s.InFlight != 7 || s.Lost != 0 {
		t.Errorf("stream 5: %+v; want published 12 = stored 3 + retained away 2 + in flight 7", s)
	}
	if inv, _ := invariant(sum, "no_loss"); inv.OK {
		t.Errorf("no_loss held with 5 frames lost: %+v", inv)
	}
	if inv, _ := invariant(sum, "accounting"); !inv.OK {
		t.Errorf("accounting failed: %+v", inv)
	}
}

// TestEarlierRunStreams: a stream in the database that no generator of this
// run published is an earlier run's: marked so, and named as such, not as a
// killed generator's, in no_loss.
func TestEarlierRunStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "earlier.db")
	ctx := context.Background()
	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*db.Frame{
		{StreamID: 3, Seq: 1, Timestamp: 1, Filename: "a.png", Width: 1, Height: 1, Channels: 1, Image: []byte{1}}, // earlier run
		{StreamID: 9, Seq: 1, Timestamp: 2, Filename: "b.png", Width: 1, Height: 1, Channels: 1, Image: []byte{2}}, // this run
	} {
		if _, _, err := d.Store(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	fin, _, err := readFinalDB(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := Summary{}
	tally := summarizeStreams(&sum, []StreamSnapshot{{StreamID: 9, Instance: "generator", LastSeq: 1, Ended: true, StopOK: true, Clean: true}}, fin, true)
	tally.checkReliable(&sum)
	for _, s := range sum.Streams {
		if s.EarlierRun != (s.StreamID == 3) {
			t.Errorf("stream %d: earlier_run %v", s.StreamID, s.EarlierRun)
		}
	}
	inv, _ := invariant(sum, "no_loss")
	if !inv.OK || !strings.Contains(inv.Detail, "killed generators [] or of earlier runs [3]") {
		t.Errorf("no_loss = %+v; want ok, naming stream 3 as an earlier run's", inv)
	}
}

// TestHeadlessRetentionIsNotLoss runs the real pipeline with a logger that
// keeps only the newest 20 frames: the run passes, and the frames retention
// deleted are counted as retained away, not lost.
func TestHeadlessRetentionIsNotLoss(t *testing.T) {
	dir := shortTempDir(t)
	cfg := realConfig(t, dir)
	cfg.Delivery = stage.Reliable
	cfg.RetainFrames = 20
	_, sum := mustRunHeadless(t, dir, cfg, HeadlessOptions{For: 12 * time.Second})
	checkAddsUp(t, sum)
	// The logger applies retention every 8 frames it stores.
	if sum.RetainedAway == 0 || sum.Lost != 0 || sum.StoredInStreams > 20+8 {
		t.Errorf("retained away %d, lost %d, stored %d; want frames retained away, none lost, at most 28 stored",
			sum.RetainedAway, sum.Lost, sum.StoredInStreams)
	}
	if inv, ok := invariant(sum, "stored_equals_published"); !ok || !inv.OK {
		t.Errorf("stored_equals_published: %+v", inv)
	}
	// The database says the same.
	d, err := db.OpenReadOnly(context.Background(), cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ret, err := d.Retained(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, r := range ret {
		n += r.Frames
	}
	if n != sum.RetainedAway {
		t.Errorf("database counts %d retained away; summary %d", n, sum.RetainedAway)
	}
}

// TestHeadlessBestEffortPasses kills the logger and an extractor of a
// best-effort run near its end: frames are dropped, and gaps opened in the
// logger's last 10 s are not yet in its dropped count; the run still passes,
// its accounting adding up, and the young gaps are reported as open.
func TestHeadlessBestEffortPasses(t *testing.T) {
	dir := shortTempDir(t)
	cfg := realConfig(t, dir)
	cfg.Delivery = stage.BestEffort
	// A best-effort run passes when its accounting adds up.
	_, sum := mustRunHeadless(t, dir, cfg, HeadlessOptions{For: 12 * time.Second, Chaos: "5s kill extractor; 7s kill logger"})
	checkAddsUp(t, sum)
	if sum.Lost == 0 {
		t.Errorf("nothing lost under best-effort with the logger killed: the test proves nothing")
	}
	if int64(sum.LoggerDropped) > sum.Lost {
		t.Errorf("logger dropped %d > lost %d", sum.LoggerDropped, sum.Lost)
	}
	if _, ok := invariant(sum, "dropped_within_lost"); !ok {
		t.Errorf("invariants %+v lack dropped_within_lost", sum.Invariants)
	}
}
