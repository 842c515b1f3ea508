package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/imaging-tui/imaging-tui/stages/sift"
)

// benchImage is one 2000×1500 JPEG of the sample set.
const benchImage = "../../testdata/images/bps_P1000367_kelp-canopy.jpg"

// BenchmarkLimitFrame is one frame of the limit phase: decode to grayscale
// and SIFT, one OpenCV thread.
func BenchmarkLimitFrame(b *testing.B) {
	data, err := os.ReadFile(filepath.FromSlash(benchImage))
	if err != nil {
		b.Fatal(err)
	}
	sift.SetNumThreads(1)
	d, err := sift.New(sift.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := d.Detect(data); err != nil {
			b.Fatal(err)
		}
	}
}
