package db

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestSetFull(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	if _, _, err := d.Store(ctx, makeFrame(1, 1, 1, 10<<10, 100)); err != nil {
		t.Fatal(err)
	}
	before := mustCounts(t, d)
	if err := d.SetFull(ctx, true); err != nil {
		t.Fatalf("SetFull(true): %v", err)
	}
	if !d.Full() {
		t.Errorf("Full() = false after SetFull(true)")
	}
	big := makeFrame(2, 1, 2, 2<<20, 3000)
	// A small image fits the pages there are; its keypoint rows do not, so
	// this one fails midway through its multi-row INSERTs (OR FAIL).
	manyKeypoints := makeFrame(3, 1, 3, 100, 20000)
	for _, f := range []*Frame{big, big, manyKeypoints} { // twice: the connection stays usable after a failed transaction
		id, ins, err := d.Store(ctx, f)
		if !errors.Is(err, ErrFull) || ins || id != 0 {
			t.Fatalf("Store(seq %d) while full = %d, %v, %v; want ErrFull", f.Seq, id, ins, err)
		}
	}
	checkConsistent(t, d.sql)
	if after := mustCounts(t, d); after.Images != before.Images || after.Keypoints != before.Keypoints ||
		after.Descriptors != before.Descriptors || after.PageCount != before.PageCount {
		t.Errorf("counts after failed Store = %+v; want unchanged %+v", after, before)
	}
	var kps int
	if err := d.sql.QueryRowContext(ctx, "SELECT count(*) FROM keypoints").Scan(&kps); err != nil || kps != 100 {
		t.Errorf("keypoint rows = %d, %v; want 100 (nothing partial)", kps, err)
	}

	if err := d.SetFull(ctx, false); err != nil {
		t.Fatalf("SetFull(false): %v", err)
	}
	if id, ins, err := d.Store(ctx, big); err != nil || !ins {
		t.Fatalf("Store(big) after SetFull(false) = %d, %v, %v; want inserted", id, ins, err)
	}
	checkConsistent(t, d.sql)
}

func TestRetainFrames(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	var ids []int64
	for i := range 40 {
		id, _, err := d.Store(ctx, makeFrame(uint64(i), 1, uint64(i+1), 1000, 50+i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if n, err := d.Retain(ctx, 0, 0); err != nil || n != 0 {
		t.Errorf("Retain(no limits) = %d, %v; want 0", n, err)
	}
	n, err := d.Retain(ctx, 7, 0)
	if err != nil || n != 33 {
		t.Fatalf("Retain(7 frames) = %d, %v; want 33 deleted", n, err)
	}
	if got := allIDs(t, d); !slices.Equal(got, ids[33:]) {
		t.Errorf("ids left = %v; want the newest %v", got, ids[33:])
	}
	wantKps := int64(0)
	for i := 33; i < 40; i++ {
		wantKps += int64(50 + i)
	}
	if c := mustCounts(t, d); c.Images != 7 || c.Keypoints != wantKps || c.Descriptors != 7 {
		t.Errorf("counts = %+v; want 7 frames, %d keypoints", c, wantKps)
	}
	// The survivors' features are intact.
	for i, id := range ids[33:] {
		f, err := d.Image(ctx, id)
		if err != nil || len(f.Keypoints) != 50+33+i || len(f.Descriptors) != DescriptorSize*len(f.Keypoints) {
			t.Errorf("Image(%d) = %d keypoints, %v", id, len(f.Keypoints), err)
		}
	}
	checkConsistent(t, d.sql)
	if n, err := d.Retain(ctx, 1, 0); err != nil || n != 6 || !slices.Equal(allIDs(t, d), ids[39:]) {
		t.Errorf("Retain(1) = %d, %v; want 6 deleted and the newest kept", n, err)
	}
}

func TestRetainBytes(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	var ids []int64
	for i := range 30 {
		id, _, err := d.Store(ctx, makeFrame(uint64(i), 1, uint64(i+1), 100<<10, 200))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	full := mustCounts(t, d)
	limit := full.UsedBytes() / 3
	n, err := d.Retain(ctx, 0, limit)
	if err != nil || n == 0 {
		t.Fatalf("Retain(%d bytes) = %d, %v", limit, n, err)
	}
	c := mustCounts(t, d)
	if c.UsedBytes() > limit {
		t.Errorf("used bytes after Retain = %d; want ≤ %d", c.UsedBytes(), limit)
	}
	if c.Images < 5 || c.Images > 10 {
		t.Errorf("%d frames left of 30 under a third of the bytes; want about 10", c.Images)
	}
	if got := allIDs(t, d); !slices.Equal(got, ids[30-len(got):]) {
		t.Errorf("ids left = %v; want the newest ones", got)
	}
	if c.FileBytes < full.UsedBytes() {
		t.Errorf("FileBytes = %d; the file does not shrink, want ≥ %d", c.FileBytes, full.UsedBytes())
	}
	checkConsistent(t, d.sql)
	// Freed pages are reused: storing as many frames again does not grow the file.
	pages := c.PageCount
	for i := range int(30 - c.Images - 2) {
		if _, _, err := d.Store(ctx, makeFrame(uint64(i), 2, uint64(i+1), 100<<10, 200)); err != nil {
			t.Fatal(err)
		}
	}
	if c2 := mustCounts(t, d); c2.PageCount > pages {
		t.Errorf("page count grew from %d to %d although free pages were available", pages, c2.PageCount)
	}
}

func allIDs(t *testing.T, d *DB) []int64 {
	t.Helper()
	var ids []int64
	if err := d.EachImage(testCtx(t), false, func(r *ImageRow) error {
		ids = append(ids, r.ID)
		return nil
	}); err != nil {
		t.Fatalf("EachImage: %v", err)
	}
	return ids
}

func TestEachImage(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	var want []*Frame
	for i := range imagePage*2 + 3 { // more than two pages
		f := makeFrame(uint64(i), 9, uint64(i+1), 10+i, i%5)
		if _, _, err := d.Store(ctx, f); err != nil {
			t.Fatal(err)
		}
		want = append(want, f)
	}
	for _, withBlobs := range []bool{false, true} {
		i := 0
		err := d.EachImage(ctx, withBlobs, func(r *ImageRow) error {
			w := want[i]
			if r.Seq != w.Seq || r.StreamID != 9 || r.DataSize != int64(len(w.Image)) || r.KeypointCount != len(w.Keypoints) ||
				!r.ReceivedAt.Equal(w.ReceivedAt) || r.StoredAt.IsZero() {
				t.Errorf("row %d = %+v", i, r)
			}
			if withBlobs != (string(r.Image) == string(w.Image)) || (!withBlobs && r.Image != nil) {
				t.Errorf("row %d: withBlobs=%v, image of %d bytes", i, withBlobs, len(r.Image))
			}
			// Nested use of the same (single-connection) writer must not deadlock.
			n := 0
			if err := d.EachKeypoint(ctx, r.ID, func(j int, k Keypoint) error {
				if j != n || k != w.Keypoints[j] {
					t.Errorf("row %d keypoint %d = %+v; want %+v", i, j, k, w.Keypoints[j])
				}
				n++
				return nil
			}); err != nil || n != len(w.Keypoints) {
				t.Errorf("EachKeypoint(%d) = %d keypoints, %v; want %d", r.ID, n, err, len(w.Keypoints))
			}
			i++
			return nil
		})
		if err != nil || i != len(want) {
			t.Errorf("EachImage(withBlobs=%v) = %d rows, %v; want %d", withBlobs, i, err, len(want))
		}
	}
	stop := errors.New("stop")
	calls := 0
	if err := d.EachImage(ctx, false, func(*ImageRow) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("EachImage with a failing callback = %v after %d calls; want stop after 1", err, calls)
	}
}

func TestEachKeypointPaging(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	f := makeFrame(1, 1, 1, 10, 2*keypointPage+17)
	id, _, err := d.Store(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	var got []Keypoint
	if err := d.EachKeypoint(ctx, id, func(i int, k Keypoint) error {
		got = append(got, k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, f.Keypoints) {
		t.Errorf("EachKeypoint returned %d keypoints, not the %d stored", len(got), len(f.Keypoints))
	}
}

// TestQueryPlans guards the polling queries against reading images rows:
// our columns sit behind the image BLOB, and reaching them walks its
// overflow pages.
func TestQueryPlans(t *testing.T) {
	d, _ := openTest(t)
	for _, q := range []string{countsSQL, streamsSQL} {
		rows, err := d.sql.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, p := range plan {
			if strings.Contains(p, "images") && !strings.Contains(p, "COVERING INDEX") {
				t.Errorf("query %q\nplan %q reads images rows; want a covering index", q, p)
			}
		}
	}
}

// TestRetainCountsRetained: every frame Retain deletes is counted against
// its stream, so stored + retained covers what was stored, and a stream
// whose frames are all gone is still listed.
func TestRetainCountsRetained(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	// Streams 1 and 2^63 (above int64's range, stored as its bit pattern):
	// seqs 1..30 and 1..10, 7 never stored in either.
	const big = uint64(1) << 63
	for i := uint64(1); i <= 30; i++ {
		if i == 7 {
			continue
		}
		if _, _, err := d.Store(ctx, makeFrame(i, 1, i, 500, 5)); err != nil {
			t.Fatal(err)
		}
		if i <= 10 {
			if _, _, err := d.Store(ctx, makeFrame(i, big, i, 500, 5)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, err := d.Retained(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Retained before any retention = %v, %v; want none", got, err)
	}
	deleted, err := d.Retain(ctx, 12, 0)
	if err != nil || deleted != 38-12 {
		t.Fatalf("Retain = %d, %v; want %d", deleted, err, 38-12)
	}
	got, err := d.Retained(ctx)
	if err != nil {
		t.Fatal(err)
	}
	streams, err := d.Streams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[uint64]int64{}
	for _, s := range streams {
		stored[s.StreamID] = s.Frames
	}
	want := map[uint64]int64{1: 29, big: 9} // distinct seqs ever stored
	if len(got) != 2 {
		t.Fatalf("Retained = %+v; want streams 1 and 2^63", got)
	}
	for _, r := range got {
		if r.Frames+stored[r.StreamID] != want[r.StreamID] {
			t.Errorf("stream %d: retained %d + stored %d; want %d", r.StreamID, r.Frames, stored[r.StreamID], want[r.StreamID])
		}
	}
	if got[1].StreamID != big || got[1].LastSeq != 10 || stored[big] != 0 {
		t.Errorf("stream 2^63: %+v, stored %d; want all 9 retained away, last seq 10", got[1], stored[big])
	}
	// A second pass adds to the counts.
	if _, err := d.Retain(ctx, 5, 0); err != nil {
		t.Fatal(err)
	}
	got, _ = d.Retained(ctx)
	if got[0].Frames != 29-5 || got[0].LastSeq != 25 {
		t.Errorf("stream 1 after a second pass: %+v; want 24 frames, last seq 25", got[0])
	}
	checkConsistent(t, d.sql)
}

// TestRetainedCopyNotStoredAgain: a copy of a frame that was stored and
// then deleted by retention (a resend whose first acknowledgement was lost)
// is taken as stored once: not inserted, so it does not count both as
// stored and as retained away. A frame retention never saw is stored.
func TestRetainedCopyNotStoredAgain(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	for seq := uint64(1); seq <= 10; seq++ {
		if _, _, err := d.Store(ctx, makeFrame(seq, 7, seq, 1000, 20)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := d.Retain(ctx, 4, 0); err != nil || n != 6 {
		t.Fatalf("Retain = %d, %v; want 6 deleted", n, err)
	}
	if id, ins, err := d.Store(ctx, makeFrame(3, 7, 3, 1000, 20)); err != nil || ins || id != 0 {
		t.Errorf("Store(copy of retained seq 3) = %d, %v, %v; want 0, not inserted, no error", id, ins, err)
	}
	if id, ins, err := d.Store(ctx, makeFrame(11, 7, 11, 1000, 20)); err != nil || !ins || id == 0 {
		t.Errorf("Store(new seq 11) = %d, %v, %v; want inserted", id, ins, err)
	}
	if id, ins, err := d.Store(ctx, makeFrame(3, 8, 3, 1000, 20)); err != nil || !ins {
		t.Errorf("Store(seq 3 of another stream) = %d, %v, %v; want inserted", id, ins, err)
	}
	streams, err := d.Streams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ret, err := d.Retained(ctx)
	if err != nil || len(ret) != 1 {
		t.Fatalf("Retained = %+v, %v; want stream 7", ret, err)
	}
	for _, s := range streams {
		if s.StreamID == 7 && s.Frames+ret[0].Frames != 11 {
			t.Errorf("stream 7: %d stored + %d retained away; want 11, each seq once", s.Frames, ret[0].Frames)
		}
	}
	checkConsistent(t, d.sql)
}
