package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/imaging-tui/imaging-tui/stages"
	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// stageEnv makes the test binary act as `imaging-tui stage ...` and
// `imaging-tui bench limit-child ...` (the os/exec helper-process pattern),
// so Main can spawn it as the stages and the limit's process.
const stageEnv = "IMAGING_TUI_BENCH_TEST_STAGE"

func TestMain(m *testing.M) {
	if os.Getenv(stageEnv) == "1" && len(os.Args) > 2 && (os.Args[1] == "stage" || os.Args[1] == "bench") {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		var err error
		if os.Args[1] == "stage" {
			err = stages.Main(ctx, os.Args[2:], nil, os.Stderr)
		} else {
			err = Main(ctx, os.Args[2:], "", os.Stdout, os.Stderr)
		}
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "stage:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runJSON runs Main with --json and args on a folder holding the named
// sample images, this test binary acting as the stages and the limit.
func runJSON(t *testing.T, images []string, args ...string) Result {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(stageEnv, "1")
	dir := t.TempDir()
	for _, name := range images {
		b, err := os.ReadFile(filepath.Join("../../testdata/images", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args = append([]string{"--images", dir, "--json"}, args...)
	var stdout, stderr bytes.Buffer
	if err := Main(context.Background(), args, exe, &stdout, &stderr); err != nil {
		t.Fatalf("Main(%q) = %v; stderr:\n%s", args, err, stderr.String())
	}
	var res Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, stdout.String())
	}
	return res
}

// TestMainSmoke runs a short bench on the two smallest sample images, the
// phases one after the other (--slice 0), and checks the JSON holds both
// rates and a ratio, and that no stage outlives it.
// The logger keeps only the last two frames, as --retain-frames lets an
// operator ask: the bench must count the frames it stored all the same.
func TestMainSmoke(t *testing.T) {
	res := runJSON(t, []string{"crop_urchins_gray.png", "crop_turf_gray16.png"},
		"--for", "3s", "--warmup", "1s", "--slice", "0", "--logger-flags", "--retain-frames 2")
	if res.Limit.FPS <= 0 || res.Pipeline.FPS <= 0 || res.Ratio <= 0 {
		t.Errorf("limit %v frames/s, pipeline %v frames/s, ratio %v; want all > 0",
			res.Limit.FPS, res.Pipeline.FPS, res.Ratio)
	}
	if p := res.Pipeline; p.Frames <= 2 || 2*p.Frames < p.Extracted {
		t.Errorf("pipeline stored %d frames in the window, extracted %d; want more than the 2 retained, and most of those extracted",
			p.Frames, p.Extracted)
	}
	if res.Images.Count != 2 || res.Images.Size != "400x300" || res.Images.Format != "png" || res.Images.MeanKeypoints <= 0 {
		t.Errorf("images = %+v; want 2 400x300 png with keypoints", res.Images)
	}
	if len(res.Pipeline.Stages) != 3 {
		t.Fatalf("pipeline stages = %+v; want generator, extractor, logger", res.Pipeline.Stages)
	}
	for _, s := range res.Pipeline.Stages {
		if s.PeakRSSBytes <= 0 {
			t.Errorf("stage %s: peak RSS %d; want > 0", s.Name, s.PeakRSSBytes)
		}
		// Main returns after every stage was reaped and its group killed.
		if err := syscall.Kill(s.PID, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("stage %s (pid %d) still exists after Main returned: kill 0 = %v", s.Name, s.PID, err)
		}
	}
}

// TestMainSlices runs the phases by turns (--slice): the limit in a process
// of its own, each paused while the other runs.
func TestMainSlices(t *testing.T) {
	res := runJSON(t, []string{"crop_urchins_gray.png"}, "--for", "2s", "--slice", "500ms", "--warmup", "500ms")
	if res.Limit.FPS <= 0 || res.Pipeline.FPS <= 0 || res.Ratio <= 0 || res.Images.MeanKeypoints <= 0 {
		t.Errorf("limit %v frames/s, pipeline %v frames/s, ratio %v, %v keypoints; want all > 0",
			res.Limit.FPS, res.Pipeline.FPS, res.Ratio, res.Images.MeanKeypoints)
	}
	if res.Config.Slice != "500ms" || len(res.Rounds) != 2 || res.Rounds[0].Part != "first half" {
		t.Errorf("config slice %q, rounds %+v; want 500ms and two halves", res.Config.Slice, res.Rounds)
	}
	if res.Limit.SIFTMs <= 0 || res.Pipeline.SIFTMs <= 0 || res.Limit.CPUPerFrame <= 0 {
		t.Errorf("SIFT ms a frame: limit %v, pipeline %v; limit CPU s a frame %v; want all > 0",
			res.Limit.SIFTMs, res.Pipeline.SIFTMs, res.Limit.CPUPerFrame)
	}
	pids := []int{res.Limit.PID}
	for _, s := range res.Pipeline.Stages {
		pids = append(pids, s.PID)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); pid == 0 || !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after Main returned (or no pid): kill 0 = %v", pid, err)
		}
	}
}

func TestMainUsage(t *testing.T) {
	tests := [][]string{
		{"--for", "0s"},
		{"--workers", "0"},
		{"--nice", "40"},
		{"extra"},
		{"--no-such-flag"},
		{"--slice", "5s", "--rounds", "2"},
		{"--slice", "-1s"},
	}
	for _, args := range tests {
		var stdout, stderr bytes.Buffer
		err := Main(context.Background(), args, "/nonexistent", &stdout, &stderr)
		if !errors.Is(err, stage.ErrUsage) {
			t.Errorf("Main(%q) = %v; want ErrUsage", args, err)
		}
	}
	var stdout, stderr bytes.Buffer
	if err := Main(context.Background(), []string{"--images", t.TempDir(), "--for", "1s"}, "/nonexistent", &stdout, &stderr); err == nil {
		t.Error("Main on a folder without images: no error")
	}
}
