package db

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// benchStore stores b.N distinct frames of imgBytes image bytes and nkp
// keypoints each and reports MB/s (image + features) and frames/s.
func benchStore(b *testing.B, imgBytes, nkp int) {
	ctx := testCtx(b)
	d, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	f := makeFrame(1, 1, 0, imgBytes, nkp)
	b.SetBytes(int64(len(f.Image) + 6*4*len(f.Keypoints) + 4*len(f.Descriptors)))
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for i := 0; i < b.N; i++ {
		f.Seq = uint64(i + 1)
		if _, ins, err := d.Store(ctx, f); err != nil || !ins {
			b.Fatalf("Store = %v, %v", ins, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	// In the pipeline the logger shares the cores with SIFT, so its CPU
	// time, not its wall time (which includes waiting for fsync), is what
	// it takes from the frames per second.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/frame")
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkStore300KB(b *testing.B) { benchStore(b, 300<<10, 5000) }
func BenchmarkStore30MB(b *testing.B)  { benchStore(b, 30<<20, 5000) }

// BenchmarkKeypointBatch measures rows per INSERT statement (kpBatch) on
// frames that are almost only keypoints; results are in kpBatch's comment.
func BenchmarkKeypointBatch(b *testing.B) {
	defer func(old int) { kpBatch = old }(kpBatch)
	for _, n := range []int{1, 16, 64, 128, 256, 512} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			kpBatch = n
			benchStore(b, 1000, 5000)
		})
	}
}

// BenchmarkStoreBPS is the logger's work for one bps_ survey frame
// (2000×1500 JPEG of ~300 KB, ~7,500 SIFT keypoints, 3.8 MB of descriptors).
func BenchmarkStoreBPS(b *testing.B) { benchStore(b, 300<<10, 7500) }
