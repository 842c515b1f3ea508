//go:build matprofile

package sift

import (
	"bytes"
	"errors"
	"testing"

	"gocv.io/x/gocv"
)

// TestNoMatLeak runs every Detect path (success, decode error, too many
// pixels, no keypoints) and checks that every gocv Mat was closed.
// Run with: go test -tags matprofile ./stages/sift
func TestNoMatLeak(t *testing.T) {
	good := encodeJPEG(t, texture(320, 240, 8))
	flat := encodePNG(t, texture(1, 1, 8)) // decodes; too small for keypoints
	d := newDetector(t, Options{MaxFeatures: 20})
	start := gocv.MatProfile.Count()
	for range 3 {
		if res, err := d.Detect(good); err != nil || len(res.Keypoints) == 0 {
			t.Fatalf("Detect(good) = %d keypoints, %v", len(res.Keypoints), err)
		}
		if res, err := d.Detect(flat); err != nil || len(res.Keypoints) != 0 {
			t.Fatalf("Detect(flat) = %d keypoints, %v", len(res.Keypoints), err)
		}
		if _, err := d.Detect(good[:len(good)/3]); err != nil && !errors.Is(err, ErrDecode) {
			t.Fatalf("Detect(truncated) = %v", err)
		}
		if _, err := d.Detect(pngHeader(64, 64)); !errors.Is(err, ErrDecode) {
			t.Fatalf("Detect(header only) = %v; want ErrDecode", err)
		}
		if _, err := d.Detect(pngHeader(50000, 50000)); !errors.Is(err, ErrTooManyPixels) {
			t.Fatalf("Detect(bomb) = %v; want ErrTooManyPixels", err)
		}
	}
	if n := gocv.MatProfile.Count(); n != start {
		var b bytes.Buffer
		gocv.MatProfile.WriteTo(&b, 1)
		t.Fatalf("MatProfile.Count = %d, was %d: Mats leaked:\n%s", n, start, b.String())
	}
}
