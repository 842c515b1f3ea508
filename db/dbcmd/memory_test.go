package dbcmd

import (
	"bytes"
	"context"
	"database/sql"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// heapInUse is runtime.MemStats.HeapInuse read through runtime/metrics,
// which does not stop the world, so it can be sampled often.
func heapInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64()
}

// peakHeap runs fn and returns by how much the heap in use peaked above
// where it was at the start, sampled every 500 µs. GOGC is 10 meanwhile, so
// that garbage (and the 4 MiB minimum heap, which scales with GOGC) hides
// little of what fn keeps live. The sampling goroutine is owned by peakHeap
// and ends before it returns.
func peakHeap(fn func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	base := heapInUse()
	var (
		mu   sync.Mutex
		peak = base
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	sample := func() {
		h := heapInUse()
		mu.Lock()
		peak = max(peak, h)
		mu.Unlock()
	}
	wg.Go(func() {
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	})
	fn()
	sample()
	close(done)
	wg.Wait()
	return peak - base
}

// cloneFrames copies frame 1 (images row and keypoints; the descriptor blob
// too with descriptors, else an empty one) until the database holds n
// frames, with a connection of its own: much faster than Store for the
// sizes here.
func cloneFrames(ctx context.Context, t *testing.T, s *sql.DB, n int, descriptors bool) {
	t.Helper()
	tx, err := s.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var have int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM images").Scan(&have); err != nil {
		t.Fatal(err)
	}
	desc := "x''"
	if descriptors {
		desc = "(SELECT descriptor_data FROM descriptors WHERE image_id = 1)"
	}
	for seq := have + 1; seq <= n; seq++ {
		res, err := tx.ExecContext(ctx, `INSERT INTO images (timestamp, filename, width, height, channels,
			data_size, image_data, stream_id, seq, keypoint_count, published_at, extracted_at, received_at, stored_at)
			SELECT timestamp, filename, width, height, channels, data_size, image_data, stream_id, ?, keypoint_count,
			published_at, extracted_at, received_at, stored_at FROM images WHERE id = 1`, seq)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := res.LastInsertId()
		if _, err := tx.ExecContext(ctx, `INSERT INTO keypoints (image_id, x, y, size, angle, response, octave)
			SELECT ?, x, y, size, angle, response, octave FROM keypoints WHERE image_id = 1 ORDER BY id`, id); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO descriptors (image_id, descriptor_data) VALUES (?, "+desc+")", id); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestExportMemoryBounded exports a database of few frames, grows it ten
// times by cloning frames and exports it again: the peak heap must not grow
// with the number of frames, and stays far below the size of the output.
func TestExportMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("large database")
	}
	const small, large = 20, 200
	tests := []struct {
		name      string
		keypoints int // per frame
		image     int // bytes of image noise per frame
		desc      bool
		exports   [][]string
	}{
		// 200 frames × 2000 keypoints; the clones' descriptor blobs are
		// empty (1 MB each otherwise), which these exports never read.
		{"keypoints", 2000, 0, false, [][]string{nil, {"--format", "csv"}}},
		// One whole frame at a time through db.Image, 64 KiB images.
		{"descriptors+images", 500, 64 << 10, true, [][]string{{"--descriptors", "--images"}, {"--format", "csv", "--descriptors"}}},
	}
	if raceEnabled {
		// SQLite runs 50-100× slower under -race: fewer keypoints; the
		// images still add up to 13 MiB.
		tests[0].keypoints, tests[1].keypoints = 100, 20
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kps := tt.keypoints
			ctx := testCtx(t)
			f := testFrame(t, 1, 1, 320, 240, kps)
			if tt.image > 0 {
				f.Image = make([]byte, tt.image)
				rand.NewChaCha8([32]byte{1}).Read(f.Image)
			}
			path := newDB(t, f)
			s := openSQL(t, path)
			peaks := make([][2]uint64, len(tt.exports))
			outBytes := make([][2]int64, len(tt.exports))
			for i, n := range []int{small, large} {
				start := time.Now()
				cloneFrames(ctx, t, s, n, tt.desc)
				t.Logf("%d frames × %d keypoints stored in %v", n, kps, time.Since(start).Round(time.Millisecond))
				for j, flags := range tt.exports {
					var (
						out    countingWriter
						stderr bytes.Buffer
						err    error
					)
					start := time.Now()
					peaks[j][i] = peakHeap(func() {
						err = Main(ctx, append([]string{"export", "--db", path}, flags...), &out, &stderr)
					})
					if err != nil {
						t.Fatalf("export %q of %d frames: %v\n%s", flags, n, err, stderr.String())
					}
					outBytes[j][i] = out.n
					t.Logf("export %q: %s in %v, heap peak +%s", flags, fmtBytes(out.n),
						time.Since(start).Round(time.Millisecond), fmtBytes(int64(peaks[j][i])))
				}
			}
			for j, flags := range tt.exports {
				p, o := peaks[j], outBytes[j]
				if o[1] < large/small*o[0]*9/10 {
					t.Fatalf("export %q: %d bytes for %d frames, %d for %d; want ten times as much", flags, o[1], large, o[0], small)
				}
				// Allow for GC timing and sampling noise: twice as much plus
				// 2 MiB.
				if limit := 2*p[0] + 2<<20; p[1] > limit {
					t.Errorf("export %q: heap peak grew from %s (%d frames) to %s (%d frames); want at most %s",
						flags, fmtBytes(int64(p[0])), small, fmtBytes(int64(p[1])), large, fmtBytes(int64(limit)))
				}
				// Nor may it hold the keypoints (9 MiB as Keypoint values)
				// or images (13 MiB) of all frames, or its output.
				if limit := uint64(8 << 20); p[1] > limit {
					t.Errorf("export %q: heap peak %s writing %s; want at most %s", flags,
						fmtBytes(int64(p[1])), fmtBytes(o[1]), fmtBytes(int64(limit)))
				}
			}
		})
	}
}
