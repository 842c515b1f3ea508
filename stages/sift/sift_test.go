package sift

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/imaging-tui/imaging-tui/wire/probe"
)

// texture draws a deterministic image with enough structure for SIFT:
// overlapping rectangles and discs of random colours on a gradient.
func texture(w, h int, seed int64) *image.RGBA {
	rng := rand.New(rand.NewSource(seed))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	randColor := func() color.Color {
		return color.RGBA{uint8(rng.Intn(256)), uint8(rng.Intn(256)), uint8(rng.Intn(256)), 255}
	}
	n := w * h / 2000
	for range n {
		x, y := rng.Intn(w), rng.Intn(h)
		rw, rh := 4+rng.Intn(w/10+1), 4+rng.Intn(h/10+1)
		draw.Draw(img, image.Rect(x, y, x+rw, y+rh), image.NewUniform(randColor()), image.Point{}, draw.Src)
	}
	for range n / 2 {
		cx, cy, r := rng.Intn(w), rng.Intn(h), 3+rng.Intn(20)
		c := randColor()
		for y := cy - r; y <= cy+r; y++ {
			for x := cx - r; x <= cx+r; x++ {
				if (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r && image.Pt(x, y).In(img.Rect) {
					img.Set(x, y, c)
				}
			}
		}
	}
	return img
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testImages returns named encoded images: synthetic ones always, and the
// lead's samples under testdata/images when present.
func testImages(t testing.TB) map[string][]byte {
	t.Helper()
	tex := texture(640, 480, 1)
	gray16 := image.NewGray16(tex.Rect)
	draw.Draw(gray16, gray16.Rect, tex, image.Point{}, draw.Src)
	imgs := map[string][]byte{
		"synthetic.jpg":        encodeJPEG(t, tex),
		"synthetic_rgba.png":   encodePNG(t, tex),
		"synthetic_gray16.png": encodePNG(t, gray16),
	}
	files, _ := filepath.Glob("../../testdata/images/*")
	sort.Strings(files)
	for _, f := range files {
		if !probe.IsImageName(f) {
			continue
		}
		// One full-size photo is enough; the rest are small crops.
		if strings.HasPrefix(filepath.Base(f), "bps_") && imgs["photo"] != nil {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		if strings.HasPrefix(name, "bps_") {
			// A full photo takes seconds per SIFT run; a crop keeps the
			// content real and the test quick.
			imgs["photo"] = b
			b = cropJPEG(t, b, 800, 600)
			name = "crop_of_" + name
		}
		imgs[name] = b
	}
	delete(imgs, "photo")
	return imgs
}

// cropJPEG re-encodes the central w×h region of a JPEG.
func cropJPEG(t testing.TB, data []byte, w, h int) []byte {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	r := image.Rect(0, 0, w, h).Add(b.Min.Add(image.Pt((b.Dx()-w)/2, (b.Dy()-h)/2))).Intersect(b)
	out := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Rect, img, r.Min, draw.Src)
	return encodeJPEG(t, out)
}

func newDetector(t testing.TB, o Options) *Detector {
	t.Helper()
	d, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestDetectMatchesGocv compares Detect with plain gocv SIFT (OpenCV's
// defaults) run on the same grayscale decode: same keypoints, same
// descriptors, bit for bit.
func TestDetectMatchesGocv(t *testing.T) {
	d := newDetector(t, Options{})
	for name, data := range testImages(t) {
		t.Run(name, func(t *testing.T) {
			got, err := d.Detect(data)
			if err != nil {
				t.Fatalf("Detect: %v", err)
			}

			gray, err := gocv.IMDecode(data, gocv.IMReadGrayScale)
			if err != nil {
				t.Fatal(err)
			}
			defer gray.Close()
			s := gocv.NewSIFT()
			defer s.Close()
			mask := gocv.NewMat()
			defer mask.Close()
			kps, desc := s.DetectAndCompute(gray, mask)
			defer desc.Close()

			if got.Width != gray.Cols() || got.Height != gray.Rows() {
				t.Errorf("size %d×%d; gocv decoded %d×%d", got.Width, got.Height, gray.Cols(), gray.Rows())
			}
			if len(kps) < 50 {
				t.Fatalf("gocv found only %d keypoints; the test image is too plain", len(kps))
			}
			if len(got.Keypoints) != len(kps) {
				t.Fatalf("Detect found %d keypoints; gocv %d", len(got.Keypoints), len(kps))
			}
			for i, k := range kps {
				g := got.Keypoints[i]
				if g.X != float32(k.X) || g.Y != float32(k.Y) || g.Size != float32(k.Size) ||
					g.Angle != float32(k.Angle) || g.Response != float32(k.Response) || g.Octave != int32(k.Octave) {
					t.Fatalf("keypoint %d = %+v; gocv %+v", i, g, k)
				}
			}
			want, err := desc.DataPtrFloat32()
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Descriptors) != len(kps)*DescriptorSize || len(want) != len(got.Descriptors) {
				t.Fatalf("%d descriptor values; gocv %d, want %d", len(got.Descriptors), len(want), len(kps)*DescriptorSize)
			}
			for i := range want {
				if got.Descriptors[i] != want[i] {
					t.Fatalf("descriptor value %d = %v; gocv %v", i, got.Descriptors[i], want[i])
				}
			}
		})
	}
}

func TestMaxFeatures(t *testing.T) {
	data := encodeJPEG(t, texture(640, 480, 2))
	all, err := newDetector(t, Options{}).Detect(data)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	if len(all.Keypoints) < 2*n {
		t.Fatalf("only %d keypoints without a limit", len(all.Keypoints))
	}
	got, err := newDetector(t, Options{MaxFeatures: n}).Detect(data)
	if err != nil {
		t.Fatal(err)
	}
	// OpenCV keeps the n strongest, plus any that tie with the n-th (SIFT
	// often reports one point at several orientations, with one response).
	if len(got.Keypoints) < n || len(got.Keypoints) > n+8 {
		t.Fatalf("MaxFeatures %d kept %d keypoints", n, len(got.Keypoints))
	}
	if len(got.Descriptors) != len(got.Keypoints)*DescriptorSize {
		t.Fatalf("%d descriptor values for %d keypoints", len(got.Descriptors), len(got.Keypoints))
	}
	resp := make([]float64, len(all.Keypoints))
	for i, k := range all.Keypoints {
		resp[i] = float64(k.Response)
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(resp)))
	cut := float32(resp[n-1])
	for _, k := range got.Keypoints {
		if k.Response < cut {
			t.Fatalf("kept a keypoint of response %v below the %d-th best %v", k.Response, n, cut)
		}
	}
}

// TestOptions checks that the other parameters reach OpenCV: a higher
// contrast threshold finds fewer keypoints.
func TestOptions(t *testing.T) {
	data := encodeJPEG(t, texture(400, 300, 3))
	base, err := newDetector(t, Options{}).Detect(data)
	if err != nil {
		t.Fatal(err)
	}
	strict, err := newDetector(t, Options{ContrastThreshold: 0.2}).Detect(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(strict.Keypoints) >= len(base.Keypoints) {
		t.Errorf("ContrastThreshold 0.2 found %d keypoints; default found %d", len(strict.Keypoints), len(base.Keypoints))
	}
	d := newDetector(t, Options{})
	if o := d.Options(); o.OctaveLayers != 3 || o.ContrastThreshold != 0.04 || o.EdgeThreshold != 10 || o.Sigma != 1.6 || o.MaxPixels != DefaultMaxPixels {
		t.Errorf("defaults = %+v", o)
	}
}

func TestNewErrors(t *testing.T) {
	for _, o := range []Options{
		{MaxFeatures: -1},
		{Sigma: -1},
		{MaxPixels: -5},
		{MaxPixels: MaxPixelsLimit + 1},
	} {
		if d, err := New(o); err == nil {
			d.Close()
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

// pngHeader returns a PNG signature, a valid IHDR declaring w×h 8-bit gray,
// a tiny IDAT and IEND: a decompression bomb's header.
func pngHeader(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, "IHDR"...)
	b = binary.BigEndian.AppendUint32(b, w)
	b = binary.BigEndian.AppendUint32(b, h)
	b = append(b, 8, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[12:]))
	idat := []byte("IDAT\x78\x9c\x03\x00\x00\x00\x00\x01")
	b = binary.BigEndian.AppendUint32(b, uint32(len(idat)-4))
	b = append(b, idat...)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(idat))
	return append(b, 0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82)
}

// bmpHeader returns a 24-bit BMP header declaring w×h with no pixel data.
func bmpHeader(w, h int32) []byte {
	le := binary.LittleEndian
	b := []byte("BM")
	b = le.AppendUint32(b, 54)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 54)
	b = le.AppendUint32(b, 40)
	b = le.AppendUint32(b, uint32(w))
	b = le.AppendUint32(b, uint32(h))
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, 24)
	return append(b, make([]byte, 24)...)
}

// peakRSS returns the process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// TestTooManyPixels feeds decompression-bomb headers. Detect must refuse
// them from the header alone: no pixel buffer, no OpenCV abort.
func TestTooManyPixels(t *testing.T) {
	d := newDetector(t, Options{})
	tests := []struct {
		name string
		data []byte
	}{
		{"png 50000x50000", pngHeader(50000, 50000)},
		{"png 40000x30000 over OpenCV's limit", pngHeader(40000, 30000)},
		{"png 10001x10000", pngHeader(10001, 10000)},
		// Under MaxPixels but wider than OpenCV accepts: OpenCV would throw
		// an exception that gocv does not catch, aborting the process.
		{"bmp 2000000x1", bmpHeader(2_000_000, 1)},
	}
	runtime.GC()
	before := peakRSS(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := d.Detect(tt.data)
			if !errors.Is(err, ErrTooManyPixels) {
				t.Fatalf("Detect = %v; want ErrTooManyPixels", err)
			}
			if el := time.Since(start); el > 100*time.Millisecond {
				t.Errorf("took %v: did it decode?", el)
			}
		})
	}
	if grew := peakRSS(t) - before; grew > 64<<20 {
		t.Errorf("peak RSS grew by %d MiB", grew>>20)
	}
	var m0, m1 runtime.MemStats
	bomb := pngHeader(50000, 50000)
	runtime.ReadMemStats(&m0)
	for range 10 {
		d.Detect(bomb)
	}
	runtime.ReadMemStats(&m1)
	if per := (m1.TotalAlloc - m0.TotalAlloc) / 10; per > 4096 {
		t.Errorf("rejecting a bomb allocated %d bytes of Go heap", per)
	}
	// Exactly at the limit is allowed through to the decoder (which then
	// fails on the missing pixel data).
	small := newDetector(t, Options{MaxPixels: 100})
	if _, err := small.Detect(pngHeader(10, 10)); !errors.Is(err, ErrDecode) {
		t.Errorf("10×10 with MaxPixels 100 = %v; want ErrDecode", err)
	}
	if _, err := small.Detect(pngHeader(10, 11)); !errors.Is(err, ErrTooManyPixels) {
		t.Errorf("10×11 with MaxPixels 100 = %v; want ErrTooManyPixels", err)
	}
}

// TestIMDecodeCatches calls the decoder directly, past the header guard,
// with images OpenCV refuses by throwing: gocv.IMDecode would abort the
// process here; imdecode returns an error.
func TestIMDecodeCatches(t *testing.T) {
	for _, data := range [][]byte{pngHeader(40000, 30000), bmpHeader(2_000_000, 1)} {
		m, err := imdecode(data, gocv.IMReadGrayScale)
		if err == nil {
			m.Close()
			t.Errorf("imdecode(%q...) succeeded", data[:4])
		}
	}
	if _, err := imdecode(nil, gocv.IMReadGrayScale); err == nil {
		t.Error("imdecode(nil) succeeded")
	}
}

func TestDecodeErrors(t *testing.T) {
	good := encodeJPEG(t, texture(200, 150, 4))
	garbled := append([]byte(nil), good...)
	rng := rand.New(rand.NewSource(5))
	for i := 600; i < len(garbled); i++ { // keep the headers, garble the scan
		garbled[i] = byte(rng.Intn(256))
	}
	goodPNG := encodePNG(t, texture(200, 150, 4))
	brokenPNG := append([]byte(nil), goodPNG[:len(goodPNG)/2]...)
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"text", []byte("this is not an image\n")},
		{"jpeg header only", good[:300]},
		{"png half", brokenPNG},
		{"png header only", pngHeader(64, 64)},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")},
		{"bmp no pixels", bmpHeader(64, 64)},
	}
	d := newDetector(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := d.Detect(tt.data); !errors.Is(err, ErrDecode) {
				t.Fatalf("Detect = %v; want ErrDecode", err)
			}
		})
	}
	// libjpeg recovers from a garbled scan (with a warning) and returns an
	// image: that is not an error, and it must not crash.
	if _, err := d.Detect(garbled); err != nil && !errors.Is(err, ErrDecode) {
		t.Errorf("garbled jpeg: %v", err)
	}
}

// TestProbeAgreesWithOpenCV encodes images with OpenCV itself (BMP, TIFF,
// PNG, JPEG; 1, 3 and 4 channels) and checks that probe reads the same size
// and channel count that OpenCV decodes with IMReadUnchanged.
// gocv names only some extensions; IMEncode takes any OpenCV knows.
const (
	bmpExt  gocv.FileExt = ".bmp"
	tiffExt gocv.FileExt = ".tiff"
)

func TestProbeAgreesWithOpenCV(t *testing.T) {
	src := gocv.NewMatWithSize(90, 120, gocv.MatTypeCV8UC3)
	defer src.Close()
	gocv.RandU(&src, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(255, 255, 255, 255))
	gray := gocv.NewMat()
	defer gray.Close()
	gocv.CvtColor(src, &gray, gocv.ColorBGRToGray)
	bgra := gocv.NewMat()
	defer bgra.Close()
	gocv.CvtColor(src, &bgra, gocv.ColorBGRToBGRA)
	gray16 := gocv.NewMat()
	defer gray16.Close()
	gray.ConvertTo(&gray16, gocv.MatTypeCV16U)

	mats := map[string]gocv.Mat{"gray": gray, "bgr": src, "bgra": bgra, "gray16": gray16}
	for _, ext := range []gocv.FileExt{bmpExt, tiffExt, gocv.PNGFileExt, gocv.JPEGFileExt} {
		for name, m := range mats {
			if name == "gray16" && ext != gocv.PNGFileExt && ext != tiffExt {
				continue
			}
			if name == "bgra" && ext == gocv.JPEGFileExt {
				continue
			}
			t.Run(string(ext)+" "+name, func(t *testing.T) {
				buf, err := gocv.IMEncode(ext, m)
				if err != nil {
					t.Fatal(err)
				}
				defer buf.Close()
				data := append([]byte(nil), buf.GetBytes()...)
				info, err := probe.Probe(data)
				if err != nil {
					t.Fatalf("Probe: %v", err)
				}
				dec, err := gocv.IMDecode(data, gocv.IMReadUnchanged)
				if err != nil {
					t.Fatal(err)
				}
				defer dec.Close()
				want := dec.Channels()
				if ext == bmpExt && info.Channels == 4 {
					// OpenCV reads a 32-bit BI_RGB BMP as 3 channels; probe
					// reports the 4 the file stores.
					want = 4
				}
				if info.Width != dec.Cols() || info.Height != dec.Rows() || info.Channels != want {
					t.Errorf("Probe = %+v; OpenCV decoded %d×%d×%d", info, dec.Cols(), dec.Rows(), dec.Channels())
				}
			})
		}
	}
}

func TestVersionAndThreads(t *testing.T) {
	if v := OpenCVVersion(); !strings.HasPrefix(v, "4.") || v != gocv.OpenCVVersion() {
		t.Errorf("OpenCVVersion = %q; gocv says %q", v, gocv.OpenCVVersion())
	}
	old := NumThreads()
	defer SetNumThreads(old)
	for _, n := range []int{1, 2} {
		SetNumThreads(n)
		if got := NumThreads(); got != n {
			t.Errorf("after SetNumThreads(%d), NumThreads = %d", n, got)
		}
	}
	SetNumThreads(0)
	if got := NumThreads(); got < 1 {
		t.Errorf("after SetNumThreads(0), NumThreads = %d", got)
	}
}

func TestClosedDetector(t *testing.T) {
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	d.Close()
	if _, err := d.Detect(encodeJPEG(t, texture(64, 64, 6))); err == nil {
		t.Error("Detect on a closed Detector succeeded")
	}
}

// benchImage returns a 2000×1500 JPEG: the lead's photo when present (real
// content), else a synthetic one.
func benchImage(b *testing.B) (string, []byte) {
	files, _ := filepath.Glob("../../testdata/images/bps_*.jpg")
	sort.Strings(files)
	if len(files) > 0 {
		data, err := os.ReadFile(files[0])
		if err != nil {
			b.Fatal(err)
		}
		if info, err := probe.Probe(data); err == nil && info.Width == 2000 && info.Height == 1500 {
			return filepath.Base(files[0]), data
		}
	}
	return "synthetic", encodeJPEG(b, texture(2000, 1500, 7))
}

func BenchmarkDetect(b *testing.B) {
	name, data := benchImage(b)
	b.Logf("image %s, %d bytes", name, len(data))
	old := NumThreads()
	defer SetNumThreads(old)
	defer defaultMemory()
	for _, c := range []struct {
		threads int
		malloc  string
	}{{1, "default"}, {1, "keep"}, {2, "keep"}} {
		b.Run("threads="+strconv.Itoa(c.threads)+"/malloc="+c.malloc, func(b *testing.B) {
			SetNumThreads(c.threads)
			if c.malloc == "keep" {
				if err := KeepMemory(); err != nil {
					b.Fatal(err)
				}
			} else {
				defaultMemory()
			}
			d := newDetector(b, Options{})
			var kps int
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				res, err := d.Detect(data)
				if err != nil {
					b.Fatal(err)
				}
				kps = len(res.Keypoints)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/frame")
			b.ReportMetric(float64(kps), "keypoints")
		})
	}
}
