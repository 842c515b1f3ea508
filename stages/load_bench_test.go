package stages

import (
	"os"
	"testing"
)

// BenchmarkGeneratorLoad is the generator's work per frame before the
// send: read the file, probe its header, check its end, and encode the
// IMAGE_DATA message into one buffer.
func BenchmarkGeneratorLoad(b *testing.B) {
	for _, name := range []string{"bps_P1000361_rocky-reef_transect-line.jpg", "crop_turf_rgba.png"} {
		b.Run(name, func(b *testing.B) {
			g := &generator{cfg: GeneratorConfig{Images: os.DirFS("../testdata/images"), StreamID: 1}}
			var n int
			for b.Loop() {
				msg, err := g.load(name, 1)
				if err != nil {
					b.Fatal(err)
				}
				n = len(msg)
			}
			b.SetBytes(int64(n))
		})
	}
}
