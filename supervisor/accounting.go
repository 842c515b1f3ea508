package supervisor

import (
	"fmt"
	"strings"

	"github.com/imaging-tui/imaging-tui/db"
)

// streamTally is what the generator streams say about delivery, for the
// invariants.
type streamTally struct {
	lostKilled                    int64    // lost in streams of killed generators or earlier runs
	killed, mismatched, undrained []string // streams that were killed, or stopped but do not add up
	earlier                       []string // streams of earlier runs, found in the database
	overcounted                   []string // streams with more frames accounted for than published
	stopped                       int      // streams whose generator stopped on request
	gaps                          int64    // seqs missing between the first and last stored frame, summed
}

// summarizeStreams matches the streams the generators reported (published)
// against those in the database (stored, and deleted by retention), fills
// sum's per-stream figures and totals, and tallies the streams for the
// checks. Under reliable delivery the frames a generator still held
// unacknowledged at exit are in flight, not lost: its state file keeps them
// for its next run. Under best-effort nothing is resent, so every frame not
// stored (nor retained away) is lost.
func summarizeStreams(sum *Summary, published []StreamSnapshot, fin finalDB, reliable bool) streamTally {
	pubByID := map[uint64]StreamSnapshot{}
	byID := map[uint64]db.StreamStats{}
	retByID := map[uint64]db.RetainedStream{}
	var ids []uint64
	add := func(id uint64) {
		_, p := pubByID[id]
		_, d := byID[id]
		_, r := retByID[id]
		if !p && !d && !r {
			ids = append(ids, id)
		}
	}
	for _, s := range published {
		add(s.StreamID)
		pubByID[s.StreamID] = s
	}
	for _, s := range fin.stored {
		add(s.StreamID)
		byID[s.StreamID] = s
	}
	for _, s := range fin.retained {
		add(s.StreamID)
		retByID[s.StreamID] = s
	}
	var t streamTally
	for _, id := range ids {
		p, d, r := pubByID[id], byID[id], retByID[id]
		ss := accountStream(id, p, d, r, reliable)
		sum.Streams = append(sum.Streams, ss)
		sum.FramesPublished += ss.Published
		sum.StoredInStreams += ss.Stored
		sum.RetainedAway += ss.RetainedAway
		sum.Lost += ss.Lost
		sum.InFlight += ss.InFlight
		sum.Duplicates += ss.Duplicates
		t.gaps += ss.Missing
		t.tally(p, ss)
	}
	return t
}

// accountStream works out one stream's figures. A killed generator's last
// status may be up to one report old: a stored or retained frame proves its
// seq was published.
func accountStream(id uint64, p StreamSnapshot, d db.StreamStats, r db.RetainedStream, reliable bool) SummaryStream {
	pub := max(p.LastSeq, d.LastSeq, r.LastSeq)
	ss := SummaryStream{StreamID: id, Generator: p.Instance, Published: pub, Stored: d.Frames - d.Duplicates,
		RetainedAway: r.Frames, FirstSeq: d.FirstSeq, LastSeq: d.LastSeq, Missing: d.Missing, Duplicates: d.Duplicates,
		Drained: p.Clean, EarlierRun: p.Instance == ""}
	unaccounted := int64(pub) - ss.Stored - ss.RetainedAway
	if reliable && p.Unacked > 0 {
		// The window may hold frames stored whose acknowledgement did not
		// come back: at most the frames not stored are in flight.
		ss.InFlight = min(int64(p.Unacked), max(unaccounted, 0))
	}
	ss.Lost = unaccounted - ss.InFlight
	return ss
}

// tally adds one stream to the checks' figures.
func (t *streamTally) tally(p StreamSnapshot, ss SummaryStream) {
	id := ss.StreamID
	if ss.Lost < 0 {
		t.overcounted = append(t.overcounted, fmt.Sprintf("stream %d: published %d < stored %d + retained away %d + in flight %d",
			id, ss.Published, ss.Stored, ss.RetainedAway, ss.InFlight))
	}
	if ss.EarlierRun {
		t.lostKilled += ss.Lost
		t.earlier = append(t.earlier, fmt.Sprintf("%d", id))
		return
	}
	if !p.StopOK {
		t.lostKilled += ss.Lost
		t.killed = append(t.killed, fmt.Sprintf("%d", id))
		return
	}
	t.stopped++
	if p.Unacked != 0 {
		t.undrained = append(t.undrained, fmt.Sprintf("stream %d: %d frames unacknowledged at exit (in flight: the generator's state file keeps them for the next run)", id, p.Unacked))
	}
	// Every seq from 1 to the highest published was stored once (and is
	// still, or was retained away); frames published after the last stored
	// one are covered by generators_drained (none unacknowledged at exit).
	if ss.Stored+ss.RetainedAway != int64(ss.Published) {
		t.mismatched = append(t.mismatched, fmt.Sprintf("stream %d: published %d, stored %d (seq %d..%d), retained away %d",
			id, ss.Published, ss.Stored, ss.FirstSeq, ss.LastSeq, ss.RetainedAway))
	}
}

// checkAccounting adds the invariant every run keeps: no stream has more
// frames stored, retained away or in flight than it published, so lost is
// what is left, never negative.
func (t streamTally) checkAccounting(sum *Summary) {
	sum.check("accounting", len(t.overcounted) == 0, "published %d = stored %d + retained away %d + lost %d + in flight %d%s",
		sum.FramesPublished, sum.StoredInStreams, sum.RetainedAway, sum.Lost, sum.InFlight, prefixed("; ", t.overcounted))
}

// checkReliable adds reliable delivery's invariants: nothing lost or
// duplicated but in streams of killed generators, and every generator
// stopped on request drained and had all it published stored.
func (t streamTally) checkReliable(sum *Summary) {
	sum.check("no_loss", sum.Lost-t.lostKilled == 0, "%d frames lost (%d in streams of killed generators %v or of earlier runs %v, not counted)",
		sum.Lost, t.lostKilled, t.killed, t.earlier)
	sum.check("no_duplicates", sum.Duplicates == 0, "%d duplicate rows", sum.Duplicates)
	sum.check("generators_drained", len(t.undrained) == 0, "%d generator(s) stopped on request; %s", t.stopped, strings.Join(t.undrained, "; "))
	if t.stopped == 0 {
		sum.check("stored_equals_published", true, "no generator was stopped cleanly (all killed): nothing to compare")
	} else {
		sum.check("stored_equals_published", len(t.mismatched) == 0, "%d stream(s) of generators stopped cleanly; %s", t.stopped, strings.Join(t.mismatched, "; "))
	}
}

// checkBestEffort adds best-effort delivery's invariants. Frames are
// dropped by design, so the run is judged on its accounting: every gap the
// logger counted as dropped is lost in the database. The logger counts a
// gap only once it has been open for its reorder grace (10 s), so at exit
// the gaps younger than that are in the database but not in its count:
// they are reported as open, not as a mismatch.
func (t streamTally) checkBestEffort(sum *Summary) {
	sum.GapsOpenAtExit = max(t.gaps-int64(sum.LoggerDropped), 0)
	sum.check("dropped_within_lost", int64(sum.LoggerDropped) <= sum.Lost,
		"logger counted %d dropped; %d lost: %d between stored frames (%d of them open at exit, younger than the logger's grace), %d before the first or after the last stored frame",
		sum.LoggerDropped, sum.Lost, t.gaps, sum.GapsOpenAtExit, sum.Lost-t.gaps)
	sum.check("no_duplicates", sum.Duplicates == 0, "%d duplicate rows", sum.Duplicates)
}

// prefixed returns sep and parts joined by "; ", or "" when there are none.
func prefixed(sep string, parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return sep + strings.Join(parts, "; ")
}
