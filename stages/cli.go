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
	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// A command is a stage kind's own part of `imaging-tui stage KIND`. Main
// registers what stage.Table says of every kind (the common flags and the
// kind's port flags); flags registers the kind's other flags on f and
// returns the function that runs the stage once f is parsed.
type command struct {
	kind  stage.Kind
	flags func(f *flag.FlagSet, samples fs.FS) runFunc
}

// runFunc runs a stage with its parsed command line.
type runFunc func(ctx context.Context, inv invocation) error

// invocation is what Main hands a stage's run function.
type invocation struct {
	Common
	ports map[string]string // the port flags' values, by flag name (stage.Port.Flag)
	log   *slog.Logger
}

// commands has one command for each kind of stage.Table, whose own file
// defines it (TestCommandsMatchTable checks they agree).
var commands = []command{
	{stage.Generator, generatorFlags},
	{stage.Extractor, extractorFlags},
	{stage.Logger, loggerFlags},
}

// returnMemoryFlag, when a kind has it and it is set, keeps a
// Spec.KeepsMemory stage on glibc's default allocator.
const returnMemoryFlag = "return-memory"

// Main runs `imaging-tui stage NAME ARGS...`. samples is the image folder to
// use when --images is not given (the images embedded in the binary).
// Usage goes to stderr, which also receives the stage's logs.
func Main(ctx context.Context, args []string, samples fs.FS, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, stageUsage())
		if len(args) == 0 {
			return stage.ErrUsage
		}
		return nil
	}
	name, args := args[0], args[1:]
	spec, cmd, ok := lookupCommand(stage.Kind(name))
	if !ok {
		fmt.Fprintf(stderr, "imaging-tui stage: unknown stage %q\n\n%s", name, stageUsage())
		return stage.ErrUsage
	}
	f := flag.NewFlagSet("imaging-tui stage "+name, flag.ContinueOnError)
	f.SetOutput(stderr)
	opts := commonFlags(f)
	ports := make(map[string]*string, len(spec.Ports))
	for _, p := range spec.Ports {
		ports[p.Flag] = f.String(p.Flag, p.Default(), p.Usage)
	}
	run := cmd.flags(f, samples)
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return stage.ErrUsage
	}
	if f.NArg() > 0 {
		return usage(f, "unexpected argument %q", f.Arg(0))
	}
	inv := invocation{Common: opts.common, ports: make(map[string]string, len(ports))}
	var err error
	if inv.Delivery, err = stage.ParseDelivery(opts.delivery); err != nil {
		return usage(f, "--delivery: %v", err)
	}
	for p, v := range ports {
		inv.ports[p] = *v
	}
	values := map[string]string{stage.StatusPort.Flag: inv.Status}
	for p, v := range inv.ports {
		values[p] = v
	}
	if inv.Keys, err = opts.keys.resolve(spec, values); err != nil {
		return usage(f, "%v", err)
	}
	if os.Getenv(stage.CrashFaultEnv) == "1" {
		fmt.Fprintf(stderr, "imaging-tui stage %s: crash-loop fault injected; exiting\n", name)
		os.Exit(stage.ExitCrash)
	}
	switch opts.logFormat {
	case "auto":
		if isTerminal(stderr) {
			opts.logFormat = "text"
		} else {
			opts.logFormat = "json"
		}
	case "text", "json":
	default:
		return usage(f, "--log-format: %q: want text, json or auto", opts.logFormat)
	}
	inv.log = NewLogger(stderr, opts.logFormat).With("stage", name, "instance", instanceOr(inv.Instance, name))
	if spec.KeepsMemory && !isSet(f, returnMemoryFlag) {
		keepMemory(inv.log)
	}
	if opts.cpuProfile != "" {
		stop, err := startCPUProfile(opts.cpuProfile)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer stop(inv.log)
	}
	return run(ctx, inv)
}

// cliOptions are the flags every stage has, as given.
type cliOptions struct {
	common                          Common
	delivery, logFormat, cpuProfile string
	keys                            keyFlags
}

// commonFlags registers the flags every stage has on f.
func commonFlags(f *flag.FlagSet) *cliOptions {
	o := &cliOptions{}
	st := stage.StatusPort
	f.StringVar(&o.common.Status, st.Flag, st.Default(), st.Usage)
	f.StringVar(&o.common.Instance, "instance", "", "instance `name` in status reports (default the stage name)")
	f.StringVar(&o.delivery, "delivery", string(stage.Reliable), "delivery: reliable (nothing lost, flow-controlled) or best-effort (newest wins, losses counted)")
	f.StringVar(&o.logFormat, "log-format", "auto", "log format on stderr: text, json, or auto (text on a terminal, json otherwise: the supervisor reads its stages' logs as JSON)")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the stage to `file` (go tool pprof reads it)")
	o.keys.register(f)
	return o
}

// lookupCommand returns the table's Spec of kind k and its command.
func lookupCommand(k stage.Kind) (stage.Spec, command, bool) {
	spec, ok := stage.Lookup(k)
	if !ok {
		return stage.Spec{}, command{}, false
	}
	for _, c := range commands {
		if c.kind == k {
			return spec, c, true
		}
	}
	return stage.Spec{}, command{}, false
}

// isSet reports whether f has a boolean flag name that is true.
func isSet(f *flag.FlagSet, name string) bool {
	fl := f.Lookup(name)
	return fl != nil && fl.Value.String() == "true"
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

func usage(f *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(f.Output(), "%s: %s\n", f.Name(), fmt.Sprintf(format, args...))
	return stage.ErrUsage
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

// stageUsage is `imaging-tui stage --help`, listing stage.Table.
func stageUsage() string {
	var b strings.Builder
	b.WriteString("Usage: imaging-tui stage NAME [flags]\n\n")
	b.WriteString("Runs one stage of the pipeline on its own (the supervisor spawns exactly this).\n\n")
	b.WriteString("Stages:\n")
	for _, s := range stage.Table {
		fmt.Fprintf(&b, "  %-11s %s\n", s.Kind, s.Summary)
	}
	b.WriteString("\nRun 'imaging-tui stage NAME --help' for a stage's flags.\n")
	return b.String()
}

// keepMemory re-executes a stage that receives frames with
// stage.KeptMemoryTunables, unless it already runs with them (the
// supervisor starts it so). Not only SIFT gains: libzmq allocates a buffer
// for every message it receives, which glibc's defaults hand back to the
// kernel and fault in again, so the logger gains too. The generator only
// sends; it keeps glibc's defaults so that its memory falls back after a
// burst. docs/PERFORMANCE.md has the figures.
func keepMemory(log *slog.Logger) {
	if err := sift.ExecKeepingMemory(); err != nil {
		log.Warn("running with glibc's default allocator: slower", "err", err)
	}
}

// isTerminal reports whether w is a terminal (a character device): where a
// person reads the log.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
