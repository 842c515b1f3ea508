package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// TestSupervisorConfig checks how the bench's settings reach the
// supervisor's configuration.
func TestSupervisorConfig(t *testing.T) {
	cfg := Config{Exe: "/bin/it", Workers: 3, Threads: 2, ReturnMemory: true, Window: 4, GOMAXPROCS: 1,
		StageFlags: map[stage.Kind][]string{stage.Logger: {"--retain-frames", "2"}}}
	sc := supervisorConfig(cfg, "/img", "/tmp/itb-1/0", 2*time.Second)
	if sc.Exe != "/bin/it" || sc.Images != "/img" || sc.Workers != 3 || sc.Threads != 2 || sc.RetainBytes != 0 ||
		sc.DB != "/tmp/itb-1/0/bench.db" || sc.RunDir != "/tmp/itb-1/0" || sc.StatusBind != "@ipc:///tmp/itb-1/0/st" {
		t.Errorf("supervisorConfig = %+v", sc)
	}
	if sc.StopGrace != 16*time.Second || sc.DrainGrace != 10*time.Second {
		t.Errorf("stop grace %v, drain grace %v; want 16s (10s + 3 frames) and 10s", sc.StopGrace, sc.DrainGrace)
	}
	want := map[stage.Kind][]string{
		stage.Generator: {"--drain", "2s", "--log-format", "json", "--window", "4"},
		stage.Extractor: {"--log-format", "json", "--return-memory"},
		stage.Logger:    {"--log-format", "json", "--retain-frames", "2"},
	}
	for kind, w := range want {
		if got := sc.ExtraArgs[kind]; !slices.Equal(got, w) {
			t.Errorf("ExtraArgs[%s] = %q; want %q", kind, got, w)
		}
	}
	if !slices.Contains(sc.Env, "GOMAXPROCS=1") {
		t.Errorf("Env = %q; want GOMAXPROCS=1", sc.Env)
	}
	if sc := supervisorConfig(Config{}, "/img", "/tmp/x", 0); len(sc.Env) != 0 || slices.Contains(sc.ExtraArgs[stage.Generator], "--window") {
		t.Errorf("supervisorConfig of defaults: env %q, generator args %q; want neither GOMAXPROCS nor --window", sc.Env, sc.ExtraArgs[stage.Generator])
	}
}

// TestPipelineUnderSupervisor runs a pipeline phase alone and checks what
// the bench reads of the supervisor: the stages' command lines (its flags
// passed on), their processes, and a start with nothing to resend: the
// generator publishes its first frame over 2 s after the logger started.
func TestPipelineUnderSupervisor(t *testing.T) {
	cfg, dir := pipelineTestConfig(t)
	cfg.StageFlags["logger"] = []string{"--retain-frames", "0"}
	tmp := t.TempDir()
	res, err := runPipeline(context.Background(), cfg, dir, tmp, time.Second, continuously(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	started, published := loggerStart(t, filepath.Join(tmp, "logs", "logger.log")), firstPublished(t, filepath.Join(tmp, "bench.db"))
	if d := published.Sub(started); d < 2*time.Second {
		t.Errorf("the first frame was published %v after the logger started; want 2s at least", d)
	}
	if res.FPS <= 0 || res.Resent != 0 || len(res.StopNotes) != 0 {
		t.Errorf("pipeline %v frames/s, resent %d, stop notes %q; want > 0, none, none", res.FPS, res.Resent, res.StopNotes)
	}
	if len(res.Args) != 3 {
		t.Fatalf("args = %q; want one per stage", res.Args)
	}
	for i, name := range []string{"generator", "extractor", "logger"} {
		if !strings.HasPrefix(res.Args[i], name+" --status ") {
			t.Errorf("args[%d] = %q; want the %s's command line after `stage %s`", i, res.Args[i], name, name)
		}
	}
	if !strings.Contains(res.Args[0], "--drain 2s") || !strings.Contains(res.Args[1], "--workers 1") ||
		!strings.Contains(res.Args[2], "--retain-frames 0") {
		t.Errorf("args = %q; want the generator's --drain 2s, the extractor's --workers 1, the logger's --retain-frames 0", res.Args)
	}
	for _, s := range res.Stages {
		if err := syscall.Kill(-s.PID, 0); s.PID == 0 || !errors.Is(err, syscall.ESRCH) {
			t.Errorf("stage %s (group %d) still exists after the phase (or no pid): kill 0 = %v", s.Name, s.PID, err)
		}
	}
}

// TestPipelineStageEndsEarly: a stage that exits is a failed run, with its
// output in the error, although the supervisor would restart it.
func TestPipelineStageEndsEarly(t *testing.T) {
	cfg, dir := pipelineTestConfig(t)
	cfg.StageFlags["extractor"] = []string{"--no-such-flag"}
	_, err := runPipeline(context.Background(), cfg, dir, t.TempDir(), time.Second, continuously(time.Second))
	if err == nil || !strings.Contains(err.Error(), "extractor ended early") || !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("runPipeline with a bad extractor flag = %v; want the extractor ended early, and its usage", err)
	}
}

// pipelineTestConfig is a Config running this test binary as the stages,
// one worker, on the smallest sample image.
func pipelineTestConfig(t *testing.T) (Config, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(stageEnv, "1")
	dir := t.TempDir()
	b, err := os.ReadFile("../../testdata/images/crop_urchins_gray.png")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	return Config{Exe: exe, Workers: 1, Threads: 1, Warmup: 500 * time.Millisecond, Progress: &progress,
		StageFlags: map[stage.Kind][]string{}}, dir
}

// loggerStart is the time of the first JSON line in the logger's log.
func loggerStart(t *testing.T, path string) time.Time {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(b) {
		var l logLine
		if json.Unmarshal(line, &l) == nil && !l.Time.IsZero() {
			return l.Time
		}
	}
	t.Fatalf("no JSON line in %s", path)
	return time.Time{}
}

// firstPublished is the earliest publish time in the database at path.
func firstPublished(t *testing.T, path string) time.Time {
	t.Helper()
	ctx := context.Background()
	d, err := db.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var first time.Time
	err = d.EachImage(ctx, false, func(r *db.ImageRow) error {
		if first.IsZero() || r.PublishedAt.Before(first) {
			first = r.PublishedAt
		}
		return nil
	})
	if err != nil || first.IsZero() {
		t.Fatalf("read %s: first publish %v, %v", path, first, err)
	}
	return first
}
