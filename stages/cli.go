package stages

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/imaging-tui/imaging-tui/stages/sift"
)

// ErrUsage marks a command-line mistake; the message has been printed.
var ErrUsage = errors.New("usage error")

// ExitCrash is the exit code of a stage started under the crash-loop fault.
const ExitCrash = 3

// Names lists the stages, in pipeline order.
var Names = []string{"generator", "extractor", "logger"}

// Main runs `imaging-tui stage NAME ARGS...`. samples is the image folder to
// use when --images is not given (the images embedded in the binary).
// Usage goes to stderr, which also receives the stage's logs.
func Main(ctx context.Context, args []string, samples fs.FS, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, stageUsage)
		if len(args) == 0 {
			return ErrUsage
		}
		return nil
	}
	name, args := args[0], args[1:]
	fs := flag.NewFlagSet("imaging-tui stage "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common Common
	var logFormat string
	fs.StringVar(&common.Status, "status", ">tcp://127.0.0.1:5557", "status channel `endpoint` (the supervisor binds it); empty for none")
	fs.StringVar(&common.Instance, "instance", "", "instance `name` in status reports (default the stage name)")
	fs.StringVar(&common.Delivery, "delivery", DeliveryReliable, "delivery: reliable (nothing lost, flow-controlled) or best-effort (newest wins, losses counted)")
	fs.StringVar(&logFormat, "log-format", "json", "log format on stderr: json or text")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the stage to `file` (go tool pprof reads it)")

	var run func(context.Context, *slog.Logger) error
	switch name {
	case "generator":
		var cfg GeneratorConfig
		var images, windowBytes string
		fs.StringVar(&images, "images", "", "image `folder` (default: the sample images embedded in the binary)")
		fs.StringVar(&cfg.Pub, "pub", "@tcp://127.0.0.1:5555", "IMAGE_DATA publish `endpoint` (@ binds, > connects)")
		fs.StringVar(&cfg.Ack, "ack", ">tcp://127.0.0.1:5558", "acknowledgement `endpoint` (reliable delivery)")
		fs.Float64Var(&cfg.FPS, "fps", 0, "frames a second; 0 = as fast as delivery allows")
		fs.Int64Var(&cfg.Count, "count", 0, "stop after `N` frames (0 = never)")
		fs.BoolVar(&cfg.Once, "once", false, "stop after one pass over the folder")
		fs.IntVar(&cfg.Window, "window", 8, "reliable delivery: most frames in flight unacknowledged")
		fs.StringVar(&windowBytes, "window-bytes", "64MiB", "reliable delivery: most bytes in flight unacknowledged (three frames are always admitted)")
		fs.Uint64Var(&cfg.StreamID, "stream-id", 0, "stream `id` in every frame (0 = random)")
		fs.StringVar(&cfg.State, "state", "", "`file` keeping the stream and the frames in flight across restarts (reliable delivery)")
		fs.DurationVar(&cfg.Drain, "drain", 0, "on stop, wait for the frames in flight while acknowledgements come; give up after this long without one (default 30s, at least four resend timeouts)")
		run = func(ctx context.Context, log *slog.Logger) error {
			n, err := ParseSize(windowBytes)
			if err != nil {
				return usage(fs, "--window-bytes: %v", err)
			}
			cfg.WindowBytes, cfg.Common = n, common
			cfg.Images, cfg.ImagesName = samples, "(embedded samples)"
			if images != "" {
				if cfg.Images, err = DirFS(images); err != nil {
					return fmt.Errorf("generator: images: %w", err)
				}
				cfg.ImagesName = images
			}
			return RunGenerator(ctx, cfg, log) // default allocator: kept memory would keep its peak, copies of frames
		}
	case "extractor":
		var cfg ExtractorConfig
		var shard string
		fs.StringVar(&cfg.Sub, "sub", ">tcp://127.0.0.1:5555", "IMAGE_DATA `endpoints`, comma-separated (@ binds, > connects)")
		fs.StringVar(&cfg.Pub, "pub", "@tcp://127.0.0.1:5556", "PROCESSED_DATA publish `endpoint`")
		fs.IntVar(&cfg.Workers, "workers", 0, "SIFT workers (default: one per CPU)")
		fs.IntVar(&cfg.Threads, "threads", 1, "OpenCV threads for the process")
		fs.StringVar(&shard, "shard", "0/1", "take frames whose seq % N == I, as `I/N` (replicas)")
		fs.BoolVar(&cfg.ReturnMemory, "return-memory", false, "give the memory each SIFT run frees back to the kernel instead of keeping it for the next frame (leaner between frames; about 2.5× slower on 2000×1500)")
		siftMemory := fs.String("sift-memory", "", "most memory the SIFT runs in progress may take together, e.g. 8GiB; workers wait for room (`SIZE`, default 80% of the memory available at start)")
		fs.IntVar(&cfg.SIFT.MaxFeatures, "max-features", 0, "keep the best `N` keypoints (0 = all, OpenCV's default)")
		fs.Float64Var(&cfg.SIFT.ContrastThreshold, "contrast-threshold", 0, "SIFT contrast threshold (0 = OpenCV's default 0.04)")
		fs.Int64Var(&cfg.SIFT.MaxPixels, "max-pixels", 0, "reject images over `N` pixels (default 100 megapixels)")
		run = func(ctx context.Context, log *slog.Logger) error {
			var err error
			if cfg.Shard, err = parseShard(shard); err != nil {
				return usage(fs, "--shard: %v", err)
			}
			if *siftMemory != "" {
				if cfg.SIFTMemory, err = ParseSize(*siftMemory); err != nil || cfg.SIFTMemory <= 0 {
					return usage(fs, "--sift-memory %q: want a positive size such as 8GiB", *siftMemory)
				}
			}
			cfg.Common = common
			if !cfg.ReturnMemory {
				keepMemory(log)
			}
			return RunExtractor(ctx, cfg, log)
		}
	case "logger":
		var cfg LoggerConfig
		var retainBytes string
		fs.StringVar(&cfg.Sub, "sub", ">tcp://127.0.0.1:5556", "PROCESSED_DATA `endpoints`, comma-separated (@ binds, > connects)")
		fs.StringVar(&cfg.Ack, "ack", "@tcp://127.0.0.1:5558", "acknowledgement publish `endpoint`")
		fs.StringVar(&cfg.DB, "db", "imaging.db", "SQLite database `path`")
		fs.Int64Var(&cfg.RetainFrames, "retain-frames", 0, "keep only the newest `N` frames (0 = all)")
		fs.StringVar(&retainBytes, "retain-bytes", "0", "keep only the newest frames within `SIZE` of images, e.g. 2GiB (0 = all)")
		run = func(ctx context.Context, log *slog.Logger) error {
			n, err := ParseSize(retainBytes)
			if err != nil {
				return usage(fs, "--retain-bytes: %v", err)
			}
			cfg.RetainBytes, cfg.Common = n, common
			keepMemory(log)
			return RunLogger(ctx, cfg, log)
		}
	default:
		fmt.Fprintf(stderr, "imaging-tui stage: unknown stage %q\n\n%s", name, stageUsage)
		return ErrUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return ErrUsage
	}
	if fs.NArg() > 0 {
		return usage(fs, "unexpected argument %q", fs.Arg(0))
	}
	if err := checkDelivery(common.Delivery); err != nil {
		return usage(fs, "--delivery: %v", err)
	}
	if crashFault() {
		fmt.Fprintf(stderr, "imaging-tui stage %s: crash-loop fault injected; exiting\n", name)
		os.Exit(ExitCrash)
	}
	log := NewLogger(stderr, logFormat).With("stage", name, "instance", instanceOr(common.Instance, name))
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer stop(log)
	}
	return run(ctx, log)
}

// startCPUProfile profiles the process into path until the returned stop.
func startCPUProfile(path string) (stop func(*slog.Logger), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func(log *slog.Logger) {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			log.Error("cpu profile not written", "file", path, "err", err)
		}
	}, nil
}

// NewLogger returns the stage's slog logger on w: "text" or JSON.
func NewLogger(w io.Writer, format string) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

func instanceOr(instance, name string) string {
	if instance == "" {
		return name
	}
	return instance
}

func usage(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	return ErrUsage
}

func parseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("%q is not I/N", s)
	}
	idx, err1 := strconv.ParseUint(i, 10, 32)
	cnt, err2 := strconv.ParseUint(n, 10, 32)
	if err1 != nil || err2 != nil || cnt == 0 || idx >= cnt {
		return Shard{}, fmt.Errorf("%q is not I/N with 0 <= I < N", s)
	}
	return Shard{Index: idx, Count: cnt}, nil
}

// ParseSize reads a byte size such as 512, 64KB, 256MiB or 2GB.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a size like 512MiB", s)
	}
	return int64(v * float64(mult)), nil
}

const stageUsage = `Usage: imaging-tui stage NAME [flags]

Runs one stage of the pipeline on its own (the supervisor spawns exactly this).

Stages:
  generator   reads image files from a folder and publishes them, looping forever
  extractor   runs OpenCV SIFT on each image and republishes image + features
  logger      stores each processed frame in SQLite, whole or not at all

Run 'imaging-tui stage NAME --help' for a stage's flags.
`

// keepMemory re-executes the stage with the malloc tunables of
// sift.ExecKeepingMemory. Not only SIFT gains: libzmq allocates a buffer
// for every message it receives, which glibc hands back to the kernel and
// faults in again; kept, a 36 MB message crosses a socket in 17 ms instead
// of 340, a 3 MB one in 3 ms instead of 12 (BenchmarkTransfer). The extractor and the logger receive frames;
// the generator only sends them, and keeps glibc's default so that its
// memory falls back after a burst.
func keepMemory(log *slog.Logger) {
	if err := sift.ExecKeepingMemory(); err != nil {
		log.Warn("running with glibc's default allocator: slower", "err", err)
	}
}
