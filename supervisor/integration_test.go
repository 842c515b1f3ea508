package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// The real binary, built once (on first use) into binDir, which TestMain
// removes at the end.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binBuild error
	binOut   []byte
)

func realBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(binDir, "imaging-tui")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/imaging-tui/imaging-tui")
		binOut, binBuild = cmd.CombinedOutput()
	})
	if binBuild != nil {
		t.Fatalf("go build imaging-tui: %v\n%s", binBuild, binOut)
	}
	return binPath
}

// testImages returns an image folder for the real pipeline: the 400×300
// crops of testdata/images (symlinked into dir/images), which keep SIFT fast
// on a loaded CI machine (the 2000×1500 bps_ photos take seconds a frame on 2
// cores), or the folder SV_IT_IMAGES names.
func testImages(t *testing.T, dir string) string {
	t.Helper()
	if v := os.Getenv("SV_IT_IMAGES"); v != "" {
		return v
	}
	images := filepath.Join(dir, "images")
	crops, _ := filepath.Glob(filepath.Join("..", "testdata", "images", "crop_*.png"))
	if len(crops) == 0 {
		t.Fatal("no testdata/images/crop_*.png")
	}
	if err := os.Mkdir(images, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range crops {
		abs, err := filepath.Abs(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(abs, filepath.Join(images, filepath.Base(c))); err != nil {
			t.Fatal(err)
		}
	}
	return images
}

// realConfig is a supervisor config of the real stages in dir.
func realConfig(t *testing.T, dir string) Config {
	cfg := DefaultConfig()
	cfg.Exe = realBinary(t)
	cfg.RunDir = dir
	cfg.DB = filepath.Join(dir, "it.db")
	cfg.StatusBind = "@ipc://" + filepath.Join(dir, "st")
	cfg.Images = testImages(t, dir)
	cfg.Workers = 2
	if v := os.Getenv("SV_IT_DELIVERY"); v != "" {
		cfg.Delivery = stage.Delivery(v)
	}
	cfg.Transport = bus.NewTransport()
	return cfg
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// mustRunHeadless runs a supervisor of cfg headless with o, its output
// logged; when the run fails it dumps the stage logs of dir and fails the
// test.
func mustRunHeadless(t *testing.T, dir string, cfg Config, o HeadlessOptions) (*Supervisor, Summary) {
	t.Helper()
	sup, err := New(cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o.Out = &out
	sum, err := RunHeadless(context.Background(), sup, o)
	t.Logf("headless output:\n%s", out.String())
	if err != nil {
		dumpLogs(t, dir)
		t.Fatalf("RunHeadless: %v", err)
	}
	return sup, sum
}

// dumpLogs logs the tail of each stage's log file.
func dumpLogs(t *testing.T, dir string) {
	for _, name := range []string{"generator", "extractor-0", "logger"} {
		if b, err := os.ReadFile(filepath.Join(dir, "logs", name+".log")); err == nil {
			lines := strings.Split(string(b), "\n")
			t.Logf("%s.log (last lines):\n%s", name, strings.Join(lines[max(0, len(lines)-30):], "\n"))
		}
	}
}

// TestRealPipelineChaos runs the real stages headless for ~18 s under a chaos
// script — kills, a pause, injected garbage, a restart, a silent spell — and
// checks the summary against the database: under reliable delivery nothing
// is lost or duplicated and every published frame is stored.
func TestRealPipelineChaos(t *testing.T) {
	dir := shortTempDir(t)
	cfg := realConfig(t, dir)
	sup, err := New(cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	opts := HeadlessOptions{
		For: 18 * time.Second,
		Chaos: "3s kill extractor; 5s kill logger; 7s pause logger; 9s resume logger; " +
			"10s corrupt extractor; 10s truncate logger; 10.5s truncate generator; 12s corrupt extractor; 12s truncate logger; " +
			"12.5s truncate generator; 13s restart extractor; 14s silent generator; 15s silent generator",
	}
	// Knobs for longer runs by hand: SV_IT_FOR=2m SV_IT_CHAOS="..." go test -run RealPipeline -v
	if v := os.Getenv("SV_IT_FOR"); v != "" {
		if opts.For, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok := os.LookupEnv("SV_IT_CHAOS"); ok {
		opts.Chaos = v
	}
	var out bytes.Buffer
	opts.Out = &out
	sum, err := RunHeadless(context.Background(), sup, opts)
	t.Logf("headless output:\n%s", out.String())
	if err != nil {
		dumpLogs(t, dir)
		t.Fatalf("RunHeadless: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var printed Summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &printed); err != nil {
		t.Fatalf("last line is not the summary: %v", err)
	}
	if !printed.OK || printed.FramesStored != sum.FramesStored {
		t.Errorf("printed summary ok=%v stored=%d; returned ok=%v stored=%d", printed.OK, printed.FramesStored, sum.OK, sum.FramesStored)
	}

	ctx := context.Background()
	d, err := db.OpenReadOnly(ctx, cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := d.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.FramesStored != c.Images || sum.FramesStored == 0 {
		t.Errorf("frames_stored = %d; database has %d images (want equal, > 0)", sum.FramesStored, c.Images)
	}
	if sum.Lost != 0 || sum.Duplicates != 0 {
		t.Errorf("lost %d duplicates %d; want 0, 0 under reliable delivery", sum.Lost, sum.Duplicates)
	}
	if sum.FramesPublished != uint64(sum.FramesStored) {
		t.Errorf("frames_published %d != frames_stored %d", sum.FramesPublished, sum.FramesStored)
	}
	if opts.Chaos == "" {
		return
	}
	if sum.Kills != 2 || sum.Restarts["extractor-0"] < 2 || sum.Restarts["logger"] < 1 {
		t.Errorf("kills %d restarts %v; want 2 kills, extractor-0 restarted ≥ 2 times, logger ≥ 1", sum.Kills, sum.Restarts)
	}
	if len(sum.ChaosErrors) > 0 {
		t.Errorf("chaos errors: %v", sum.ChaosErrors)
	}
	want := map[string]bool{"progress": true, "no_loss": true, "no_duplicates": true, "stored_equals_published": true, "integrity_check": true, "no_orphans": true}
	for _, inv := range sum.Invariants {
		delete(want, inv.Name)
	}
	if len(want) > 0 {
		t.Errorf("invariants %+v lack %v", sum.Invariants, want)
	}
	// The logger (not restarted after the garbage) counted it as errors.
	if st, _ := stageOf(sup.Snapshot(), "logger"); st.Status == nil || st.Status.Errors == 0 {
		t.Errorf("logger counted no errors from injected garbage: %+v", st.Status)
	}
}

// TestRealStartOrderAndGeneratorKill starts the real stages consumers first
// (logger, extractor-0, generator), kills the generator mid-run, and stops
// once 400 frames are stored (or after 40 s): the flow resumes, and the
// generator, restarted with --state, continues its stream losing nothing.
// (With 150 frames, one run stored them 0.25 s after the kill at 5 s, before
// the generator's restart, 228 ms later: the pipeline had got faster.)
func TestRealStartOrderAndGeneratorKill(t *testing.T) {
	dir := shortTempDir(t)
	sup, err := New(realConfig(t, dir), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	for _, mv := range []func() error{
		func() error { return sup.MoveUp("logger") },
		func() error { return sup.MoveUp("logger") },
		func() error { return sup.MoveDown("generator") },
	} {
		if err := mv(); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	sum, err := RunHeadless(context.Background(), sup, HeadlessOptions{
		For:    40 * time.Second,
		Frames: 400,
		Chaos:  "5s kill generator",
		JSON:   true,
		Out:    &out,
	})
	t.Logf("headless output:\n%s", out.String())
	if err != nil {
		dumpLogs(t, dir)
		t.Fatalf("RunHeadless: %v", err)
	}
	snap := sup.Snapshot()
	if got, want := startEvents(snap)[:3], []string{"logger", "extractor-0", "generator"}; !slices.Equal(got, want) {
		t.Errorf("start order %v; want %v", got, want)
	}
	if sum.StopReason != "ran for 40s" && (!strings.HasSuffix(sum.StopReason, "frames stored") || sum.FramesStored < 400) {
		t.Errorf("stop reason %q, stored %d; want 400+ frames stored (or 40s passed on a slow machine)", sum.StopReason, sum.FramesStored)
	}
	// With --state the restarted generator resumes its stream (unless it
	// was killed before writing its state): nothing is lost even across the
	// SIGKILL, and the last stream drains at shutdown.
	if sum.Restarts["generator"] != 1 || sum.Kills != 1 || len(sum.Streams) == 0 || !sum.Streams[len(sum.Streams)-1].Drained ||
		sum.Lost != 0 || sum.FramesPublished != uint64(sum.FramesStored) {
		t.Errorf("restarts %v kills %d lost %d published %d stored %d streams %+v; want the generator restarted once, "+
			"resuming its stream, drained, nothing lost", sum.Restarts, sum.Kills, sum.Lost, sum.FramesPublished, sum.FramesStored, sum.Streams)
	}
	// JSON status lines: every line before the summary is a JSON object.
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("--json output line %q: %v", l, err)
		}
	}
}

// TestRealPoolScaleAndKill runs the real stages under reliable delivery with
// a chaos script that adds a replica, SIGKILLs the first, stops (SIGSTOP)
// and continues the second and removes one: the replicas share the work
// pool, the one added takes frames without the other restarting, and every
// frame published is stored once.
func TestRealPoolScaleAndKill(t *testing.T) {
	dir := shortTempDir(t)
	cfg := realConfig(t, dir)
	cfg.Delivery = stage.Reliable
	cfg.Workers = 1
	_, sum := mustRunHeadless(t, dir, cfg, HeadlessOptions{For: 20 * time.Second,
		Chaos: "3s scale +1; 7s kill extractor-0; 10s pause extractor-1; 14s resume extractor-1; 16s scale -1"})
	if sum.FramesStored == 0 || sum.Lost != 0 || sum.Duplicates != 0 || sum.FramesPublished != uint64(sum.FramesStored) {
		t.Errorf("stored %d of %d published, lost %d, duplicates %d; want all once", sum.FramesStored, sum.FramesPublished,
			sum.Lost, sum.Duplicates)
	}
	if len(sum.ChaosErrors) > 0 {
		t.Errorf("chaos errors: %v", sum.ChaosErrors)
	}
	log1, _ := os.ReadFile(filepath.Join(dir, "logs", "extractor-1.log"))
	if !strings.Contains(string(log1), "frame extracted") {
		t.Errorf("extractor-1, added by scale +1, extracted nothing:\n%s", log1)
	}
	if n := sum.Restarts["extractor-1"]; n > 0 {
		t.Errorf("extractor-1 restarted %d times; want none (scaling and another's kill leave it running)", n)
	}
	gen, _ := os.ReadFile(filepath.Join(dir, "logs", "generator.log"))
	if !strings.Contains(string(gen), "extractor silent; its frames go to the others") {
		t.Errorf("the generator never gave a silent extractor's frames to the others")
	}
}
