package probe

import (
	"bytes"
	goimage "image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkProbe reads the header of one JPEG and one PNG of the samples:
// the generator's only look inside a file. DecodeConfig is the standard
// library's header-only read, for comparison.
func BenchmarkProbe(b *testing.B) {
	for _, name := range []string{"bps_P1000361_rocky-reef_transect-line.jpg", "crop_turf_rgba.png"} {
		data, err := os.ReadFile(filepath.Join("../../testdata/images", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Ext(name)[1:]+"/Probe", func(b *testing.B) {
			for b.Loop() {
				if _, err := Probe(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(filepath.Ext(name)[1:]+"/DecodeConfig", func(b *testing.B) {
			for b.Loop() {
				if _, _, err := goimage.DecodeConfig(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
