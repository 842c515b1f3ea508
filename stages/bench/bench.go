package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/sift"
	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// Config configures a bench run.
type Config struct {
	Exe     string        // the imaging-tui binary to run the stages with
	Images  string        // image folder. Defaults to testdata/images
	For     time.Duration // measurement window of each phase. Defaults to 60s
	Warmup  time.Duration // before each window, not measured. Defaults to 10s
	Workers int           // SIFT workers, both phases. Defaults to the number of CPUs
	Threads int           // OpenCV threads, both phases. Defaults to 1
	// ReturnMemory runs both phases with glibc's default allocator
	// behaviour (the extractor's --return-memory) instead of keeping freed
	// memory (sift.KeepMemory).
	ReturnMemory bool
	Large        int // bench on this many generated 4000×3000 PNG frames instead; 0 = no
	// Rounds is how many times both phases run, alternating which goes
	// first; the figures are pooled. Defaults to 1.
	Rounds int
	// Slice makes the phases take turns, about this long each (For split
	// evenly), until each has run For (see interleave.go); 0 runs them
	// one after the other. Main's default is defaultSlice.
	Slice time.Duration
	// Window is the generator's --window (frames in flight). 0 = the
	// stage's default.
	Window int
	// Nice is the nice value of the generator and logger processes, which
	// share the cores with SIFT. 0 = unchanged.
	Nice int
	// GOMAXPROCS of the stages, which the supervisor gives all the same
	// environment; the extractor's SIFT runs in C, which it does not
	// limit. 0 = Go's default.
	GOMAXPROCS int
	// StageFlags are extra flags for each stage, by stage name.
	StageFlags map[stage.Kind][]string
	Keep       bool      // keep the temporary folder (database, logs, large frames)
	Progress   io.Writer // progress lines; nil = none
}

// Result is what a bench run measured. Ratio is Pipeline.FPS ÷ Limit.FPS.
type Result struct {
	Images   ImageSet `json:"images"`
	Config   Settings `json:"config"`
	Limit    Limit    `json:"limit"`
	Pipeline Pipeline `json:"pipeline"`
	Ratio    float64  `json:"ratio"`
	// CPURatio is the limit's CPU seconds per frame ÷ the pipeline's (all
	// three stages): the ratio a machine of our own would show if both
	// phases kept every core busy. Other load on the machine changes the
	// throughput ratio but hardly this one.
	CPURatio float64 `json:"cpu_ratio"`
	// LatencyPerSIFT is the pipeline's publish → commit latency p50 ÷ the
	// limit's decode + SIFT time p50 per frame: how many frames' worth of
	// SIFT a frame spends in the pipeline (the target is at most 2).
	LatencyPerSIFT float64 `json:"latency_per_sift"`
	Rounds         []Round `json:"rounds"`
	Host           Host    `json:"host"`
}

// Settings are the Config values that shaped the figures.
type Settings struct {
	For        string `json:"for"`
	Warmup     string `json:"warmup"`
	Workers    int    `json:"workers"`
	Threads    int    `json:"threads"`
	Malloc     string `json:"malloc"` // "keep" or "return" (--return-memory)
	Rounds     int    `json:"rounds"`
	Slice      string `json:"slice,omitempty"` // phases took turns this long each
	Window     int    `json:"window"`          // 0 = the generator's default
	Nice       int    `json:"nice"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	TempDir    string `json:"temp_dir,omitempty"` // with --keep
}

// Host describes the machine.
type Host struct {
	CPUs    int       `json:"cpus"`
	Load    string    `json:"loadavg"` // /proc/loadavg at the start
	OpenCV  string    `json:"opencv"`
	Started time.Time `json:"started"`
}

// Main runs `imaging-tui bench ARGS...`. exe is the imaging-tui binary the
// pipeline's stages run as. The table (or, with --json, one JSON object)
// goes to stdout; progress and usage go to stderr.
func Main(ctx context.Context, args []string, exe string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == limitChildCmd {
		return limitChild(ctx, args[1:], stdout, stderr)
	}
	cfg, asJSON, err := parseArgs(args, exe, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	res, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return writeTable(stdout, res)
}

// parseArgs parses the bench's command line; usage errors go to stderr.
func parseArgs(args []string, exe string, stderr io.Writer) (cfg Config, asJSON bool, err error) {
	cfg = Config{Exe: exe, Progress: stderr, StageFlags: map[stage.Kind][]string{}}
	fs := flag.NewFlagSet("imaging-tui bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	var genFlags, exFlags, lgFlags string
	fs.StringVar(&cfg.Images, "images", "testdata/images", "image `folder` (e.g. ../shared/images/underwater)")
	fs.DurationVar(&cfg.For, "for", 60*time.Second, "measurement time of each phase")
	fs.DurationVar(&cfg.Warmup, "warmup", 10*time.Second, "warm-up before each measurement, not counted; it lasts until every worker has also finished 2 frames")
	fs.IntVar(&cfg.Workers, "workers", runtime.NumCPU(), "SIFT workers in both phases (the extractor's --workers)")
	fs.IntVar(&cfg.Threads, "threads", 1, "OpenCV threads in both phases (the extractor's --threads)")
	fs.BoolVar(&cfg.ReturnMemory, "return-memory", false, "both phases give freed SIFT memory back to the kernel (the extractor's --return-memory)")
	fs.IntVar(&cfg.Rounds, "rounds", 1, "run both phases `N` times, alternating which goes first, and pool the figures")
	fs.DurationVar(&cfg.Slice, "slice", defaultSlice, "the phases take turns, about this long each, until each has run --for; 0 runs them one after the other (as --rounds does)")
	fs.IntVar(&cfg.Large, "large", 0, "bench on `N` generated 4000×3000 PNG frames (~20 MB), upscaled from the images")
	fs.IntVar(&cfg.Window, "window", 0, "the generator's --window, frames in flight (0 = its default)")
	fs.IntVar(&cfg.Nice, "nice", 0, "nice value of the generator and logger (0 = unchanged)")
	fs.IntVar(&cfg.GOMAXPROCS, "gomaxprocs", 0, "GOMAXPROCS of the stages (0 = Go's default)")
	fs.StringVar(&genFlags, "generator-flags", "", "extra flags for the generator, space-separated")
	fs.StringVar(&exFlags, "extractor-flags", "", "extra flags for the extractor, space-separated")
	fs.StringVar(&lgFlags, "logger-flags", "", "extra flags for the logger, space-separated")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the temporary folder (database, stage logs, large frames)")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object instead of the table")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, false, err
		}
		return cfg, false, stage.ErrUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["rounds"] && !set["slice"] {
		cfg.Slice = 0 // rounds are phases one after the other
	}
	cfg.StageFlags[stage.Generator] = strings.Fields(genFlags)
	cfg.StageFlags[stage.Extractor] = strings.Fields(exFlags)
	cfg.StageFlags[stage.Logger] = strings.Fields(lgFlags)
	if fs.NArg() > 0 {
		return cfg, false, usageErr(stderr, "unexpected argument %q", fs.Arg(0))
	}
	return cfg, asJSON, checkConfig(cfg, stderr)
}

// checkConfig reports a usage error on stderr for settings out of range.
func checkConfig(cfg Config, stderr io.Writer) error {
	switch {
	case cfg.For <= 0 || cfg.Warmup < 0:
		return usageErr(stderr, "--for must be positive and --warmup not negative")
	case cfg.Workers < 1 || cfg.Threads < 1 || cfg.Rounds < 1:
		return usageErr(stderr, "--workers, --threads and --rounds must be at least 1")
	case cfg.Large < 0 || cfg.Window < 0 || cfg.GOMAXPROCS < 0:
		return usageErr(stderr, "--large, --window and --gomaxprocs must not be negative")
	case cfg.Slice < 0 || cfg.Slice > 0 && cfg.Rounds > 1:
		return usageErr(stderr, "--slice must not be negative, nor given with --rounds")
	case cfg.Nice < -20 || cfg.Nice > 19:
		return usageErr(stderr, "--nice must be within -20..19")
	}
	return nil
}

func usageErr(w io.Writer, format string, args ...any) error {
	fmt.Fprintf(w, "imaging-tui bench: %s\n", fmt.Sprintf(format, args...))
	return stage.ErrUsage
}

// Run measures the limit, then the pipeline, on the same images.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Exe == "" {
		return nil, errors.New("bench: no imaging-tui binary to run the stages")
	}
	if cfg.Images == "" {
		cfg.Images = "testdata/images"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	cfg.Threads = max(cfg.Threads, 1)
	cfg.Rounds = max(cfg.Rounds, 1)
	res := newResult(cfg)
	tmp, err := os.MkdirTemp("", "itb-") // short: ipc:// paths stop near 100 bytes
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if cfg.Keep {
		res.Config.TempDir = tmp
		progress(cfg, "keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	dir, imgs, err := benchImages(ctx, cfg, tmp)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	res.Images = describe(dir, imgs)
	res.Images.Generated = cfg.Large > 0

	if cfg.Slice > 0 {
		l, p, rounds, kps, err := runInterleaved(ctx, cfg, dir, imgs, tmp)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		res.Images.MeanKeypoints = meanKeypoints(kps)
		res.Limit, res.Pipeline, res.Rounds = l, p, rounds
	} else if err := runRounds(ctx, cfg, dir, imgs, tmp, res); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if res.Limit.FPS > 0 {
		res.Ratio = res.Pipeline.FPS / res.Limit.FPS
	}
	res.CPURatio = cpuRatio(res.Limit, res.Pipeline)
	if res.Limit.SIFTP50 > 0 {
		res.LatencyPerSIFT = res.Pipeline.Latency.P50 / res.Limit.SIFTP50
	}
	return res, nil
}

// newResult is a Result holding what cfg and the host are.
func newResult(cfg Config) *Result {
	res := &Result{
		Config: Settings{For: cfg.For.String(), Warmup: cfg.Warmup.String(), Workers: cfg.Workers,
			Threads: cfg.Threads, Malloc: "keep", Rounds: cfg.Rounds, Window: cfg.Window, Nice: cfg.Nice, GOMAXPROCS: cfg.GOMAXPROCS},
		Host: Host{CPUs: runtime.NumCPU(), Load: loadavg(), OpenCV: sift.OpenCVVersion(), Started: time.Now()},
	}
	if cfg.ReturnMemory {
		res.Config.Malloc = "return"
	}
	if cfg.Slice > 0 {
		_, slice := turns(cfg)
		res.Config.Slice = slice.String()
	}
	return res
}

// benchImages loads the images of cfg.Images or, with cfg.Large, generates
// the large frames in tmp and loads those. It returns their folder.
func benchImages(ctx context.Context, cfg Config, tmp string) (string, []image, error) {
	imgs, err := loadImages(cfg.Images)
	if err != nil || cfg.Large == 0 {
		return cfg.Images, imgs, err
	}
	dir := tmp + "/large"
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", nil, err
	}
	progress(cfg, "generating %d %dx%d PNG frames from %s", cfg.Large, LargeWidth, LargeHeight, cfg.Images)
	if _, err := makeLarge(ctx, imgs, cfg.Large, dir); err != nil {
		return "", nil, err
	}
	imgs, err = loadImages(dir)
	return dir, imgs, err
}

// runRounds runs the phases one after the other, cfg.Rounds times, and
// sets res's figures, pooled.
func runRounds(ctx context.Context, cfg Config, dir string, imgs []image, tmp string, res *Result) error {
	var limits []Limit
	var pipes []Pipeline
	for r := range cfg.Rounds {
		// Limit first, then pipeline first, and so on (L P P L L P …): over
		// an even number of rounds a linear drift of the machine cancels.
		round := Round{LimitFirst: r%2 == 0}
		for _, phase := range []bool{round.LimitFirst, !round.LimitFirst} {
			if phase {
				progress(cfg, "round %d/%d: limit: %d workers × %d threads, in process, %v warm-up + %v",
					r+1, cfg.Rounds, cfg.Workers, cfg.Threads, cfg.Warmup, cfg.For)
				limit, kps, err := runLimit(ctx, cfg, imgs)
				if err != nil {
					return err
				}
				if r == 0 {
					res.Images.MeanKeypoints = meanKeypoints(kps)
				}
				limits = append(limits, limit)
				continue
			}
			pipe, err := runRoundPipeline(ctx, cfg, dir, tmp, r, limits)
			if err != nil {
				return err
			}
			pipes = append(pipes, pipe)
		}
		l, p := limits[len(limits)-1], pipes[len(pipes)-1]
		round.LimitFPS, round.PipelineFPS, round.CPURatio = l.FPS, p.FPS, cpuRatio(l, p)
		if l.FPS > 0 {
			round.Ratio = p.FPS / l.FPS
		}
		res.Rounds = append(res.Rounds, round)
		if cfg.Rounds > 1 {
			progress(cfg, "round %d/%d: limit %.3f frames/s, pipeline %.3f frames/s, ratio %.3f",
				r+1, cfg.Rounds, l.FPS, p.FPS, round.Ratio)
		}
	}
	res.Limit, res.Pipeline = poolLimits(limits), poolPipelines(pipes)
	return nil
}

// runRoundPipeline runs round r's pipeline phase in a folder of its own
// under tmp, after the limit phases so far.
func runRoundPipeline(ctx context.Context, cfg Config, dir, tmp string, r int, limits []Limit) (Pipeline, error) {
	progress(cfg, "round %d/%d: pipeline: generator → extractor → logger, %v warm-up + %v", r+1, cfg.Rounds, cfg.Warmup, cfg.For)
	sub := filepath.Join(tmp, strconv.Itoa(r))
	if err := os.Mkdir(sub, 0o755); err != nil {
		return Pipeline{}, err
	}
	frame := 10 * time.Second // how long a frame takes, for the extractor's stop
	if len(limits) > 0 {
		frame = time.Duration(limits[len(limits)-1].SIFTMs * float64(time.Millisecond))
	}
	return runPipeline(ctx, cfg, dir, sub, frame, continuously(cfg.For))
}

// meanKeypoints is the mean of the keypoint counts the limit saw (-1: an
// image it did not reach).
func meanKeypoints(kps []int) float64 {
	var seen []float64
	for _, k := range kps {
		if k >= 0 {
			seen = append(seen, float64(k))
		}
	}
	return mean(seen)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

const benchUsage = `Usage: imaging-tui bench [flags]

Measures, in one run on the same images, the limit (decode + SIFT in one
process on all workers, no IPC, no database) and the pipeline (the three
stage processes, reliable delivery, a real database), and prints frames/s of
both, the ratio pipeline ÷ limit, latency from publish to commit, CPU seconds
per frame and peak memory of each stage.

The two take turns, a few seconds each (--slice), the other paused, so that
both meet the same machine: on a shared one, speed drifts by tens of per
cent within minutes. --slice 0 runs them one after the other instead.

Examples:
  imaging-tui bench --images ../shared/images/underwater
  imaging-tui bench --images ../shared/images/underwater --large 3 --for 120s

Flags:
`

// warmupFrames is how many frames each worker must have finished before a
// measurement starts. The first frames of a process pay for faulting in
// SIFT's working set — on a fresh virtual machine's memory, 36 s instead of
// 3 s for one 4000×3000 frame — which says nothing of the steady state.
const warmupFrames = 2

// warmedUp waits until min has passed and ready reports true (polled), or
// ctx ends, and returns when the warm-up ended.
func warmedUp(ctx context.Context, min time.Time, ready func() bool) time.Time {
	if !sleepUntil(ctx, min) {
		return time.Now()
	}
	for !ready() && sleepUntil(ctx, time.Now().Add(50*time.Millisecond)) {
	}
	return time.Now()
}
