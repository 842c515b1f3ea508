package stages_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/stages/sift"
)

// small is a set of 400×300 images: SIFT on them takes milliseconds.
var small = []string{"crop_turf_gray16.png", "crop_turf_rgba.png", "crop_urchins_gray.png"}

// TestEndToEndMatchesSIFT runs the three real stages once over the sample
// images and checks that the database holds, for every file, its exact
// bytes and exactly the features SIFT computes on it directly.
func TestEndToEndMatchesSIFT(t *testing.T) {
	files := append(slices.Clone(small), "bps_P1000367_kelp-canopy.jpg")
	p := newPipeline(t, files...)
	lg := p.logger(t)
	ex := p.extractor(t)
	gen := p.generator(t, "--once")
	p.waitRows(t, int64(len(files)), 90*time.Second)
	select {
	case <-gen.done: // --once: the generator exits once every frame is acknowledged
		if gen.err != nil {
			t.Fatalf("generator --once: %v", gen.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("generator --once did not exit after its frames were stored")
	}
	ex.stop(t)
	lg.stop(t)

	d, err := db.OpenReadOnly(context.Background(), p.db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	streams, err := d.Streams(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(streams) != 1 || streams[0].Frames != int64(len(files)) || streams[0].FirstSeq != 1 ||
		streams[0].LastSeq != uint64(len(files)) || streams[0].Missing != 0 || streams[0].Duplicates != 0 {
		t.Fatalf("streams = %+v; want one stream with seqs 1..%d once each", streams, len(files))
	}

	sift.SetNumThreads(1) // as the extractor: keypoint order is then deterministic
	det, err := sift.New(sift.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer det.Close()
	seen := map[string]bool{}
	for id := int64(1); id <= int64(len(files)); id++ {
		f, err := d.Image(context.Background(), id)
		if err != nil {
			t.Fatalf("Image(%d): %v", id, err)
		}
		seen[f.Filename] = true
		want, err := os.ReadFile(filepath.Join(p.images, f.Filename))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Image, want) {
			t.Errorf("%s: stored image bytes differ from the file", f.Filename)
		}
		res, err := det.Detect(want)
		if err != nil {
			t.Fatal(err)
		}
		if f.Width != res.Width || f.Height != res.Height {
			t.Errorf("%s: stored size %dx%d; SIFT saw %dx%d", f.Filename, f.Width, f.Height, res.Width, res.Height)
		}
		if len(f.Keypoints) != len(res.Keypoints) || len(f.Keypoints) == 0 {
			t.Fatalf("%s: %d keypoints stored; SIFT finds %d", f.Filename, len(f.Keypoints), len(res.Keypoints))
		}
		for i, k := range res.Keypoints {
			if db.Keypoint(k) != f.Keypoints[i] {
				t.Fatalf("%s: keypoint %d = %+v; SIFT gives %+v", f.Filename, i, f.Keypoints[i], k)
			}
		}
		if !slices.Equal(f.Descriptors, res.Descriptors) {
			t.Errorf("%s: stored descriptors differ from SIFT's", f.Filename)
		}
	}
	for _, name := range files {
		if !seen[name] {
			t.Errorf("%s was never stored", name)
		}
	}
}

// TestStartOrders starts the stages in each of the six orders; each reaches
// a steady flow.
func TestStartOrders(t *testing.T) {
	orders := [][3]string{
		{"generator", "extractor", "logger"}, {"generator", "logger", "extractor"},
		{"extractor", "generator", "logger"}, {"extractor", "logger", "generator"},
		{"logger", "generator", "extractor"}, {"logger", "extractor", "generator"},
	}
	for _, order := range orders {
		t.Run(strings.Join(order[:], "-"), func(t *testing.T) {
			p := newPipeline(t, small...)
			for _, name := range order {
				switch name {
				case "generator":
					p.generator(t)
				case "extractor":
					p.extractor(t)
				case "logger":
					p.logger(t)
				}
				time.Sleep(300 * time.Millisecond) // let each one settle before the next: the point is the order
			}
			p.waitRows(t, 6, 60*time.Second)
		})
	}
}

// TestKillAndRestart kills each stage with SIGKILL in turn while the flow
// runs, restarts it, and checks the flow resumes without touching the rest.
func TestKillAndRestart(t *testing.T) {
	p := newPipeline(t, small...)
	procs := map[string]*proc{"logger": p.logger(t), "extractor": p.extractor(t), "generator": p.generator(t)}
	restart := map[string]func(*testing.T, ...string) *proc{"logger": p.logger, "extractor": p.extractor, "generator": p.generator}
	p.waitRows(t, 3, 60*time.Second)
	for _, name := range []string{"extractor", "logger", "generator"} {
		procs[name].crash(t)
		before := p.rows(t)
		procs[name] = restart[name](t)
		p.waitRows(t, before+3, 60*time.Second)
		for other, q := range procs {
			select {
			case <-q.done:
				t.Fatalf("after killing %s, %s exited too: %v", name, other, q.err)
			default:
			}
		}
	}
	d, err := db.OpenReadOnly(context.Background(), p.db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if ok, problems, err := d.IntegrityCheck(context.Background()); err != nil || !ok {
		t.Fatalf("integrity check after kills: ok=%v %v err=%v", ok, problems, err)
	}
}

// TestBadFilesSkipped puts broken files beside a good one: each is skipped
// with its reason logged and the good one keeps flowing.
func TestBadFilesSkipped(t *testing.T) {
	p := newPipeline(t, "crop_urchins_gray.png")
	jpg, err := os.ReadFile(filepath.Join("..", "testdata", "images", "bps_P1000367_kelp-canopy.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"a_empty.jpg":     nil,
		"b_truncated.jpg": jpg[:len(jpg)/2],
		"c_text.png":      []byte("this is not a PNG file, only text named like one\n"),
		"d_tiny.png":      onePixelPNG(t),
	}
	for name, b := range bad {
		if err := os.WriteFile(filepath.Join(p.images, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p.logger(t)
	p.extractor(t)
	gen := p.generator(t)
	p.waitRows(t, 3, 60*time.Second)
	for name := range bad {
		waitLog(t, gen, fmt.Sprintf(`"file":%q`, name), 10*time.Second)
	}
	out := gen.out.String()
	for _, reason := range []string{"truncated", "too small"} {
		if !strings.Contains(out, reason) {
			t.Errorf("generator log gives no %q reason:\n%s", reason, tail(out, 3000))
		}
	}
}
