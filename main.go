// Command imaging-tui runs a distributed imaging pipeline for underwater
// survey imagery — generator → SIFT extractor → SQLite logger, linked by
// ZeroMQ — and the operator's console that supervises it.
//
//	imaging-tui [flags]            supervisor with the terminal console
//	imaging-tui --no-tui [flags]   the same supervisor, headless
//	imaging-tui stage NAME [flags] one stage on its own
//	imaging-tui db CMD [flags]     read the database
//	imaging-tui --role edge        the capture host of several
//	imaging-tui join EDGE          extractors for the capture host EDGE
//	imaging-tui keys NAME          a CURVE keypair, NAME.key and NAME.pub
//	imaging-tui config print       the effective configuration (defaults, --config FILE, flags)
//	imaging-tui version            versions of this binary and its libraries
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/imaging-tui/imaging-tui/db/dbcmd"
	"github.com/imaging-tui/imaging-tui/stages"
	"github.com/imaging-tui/imaging-tui/stages/bench"
	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/sift"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
	"github.com/imaging-tui/imaging-tui/supervisor/config"
	"github.com/imaging-tui/imaging-tui/supervisor/metrics"
	"github.com/imaging-tui/imaging-tui/tui"
)

//go:embed testdata/images/*.jpg testdata/images/*.png
var embedded embed.FS

// sampleImages is the default image folder: the images embedded above.
func sampleImages() fs.FS {
	sub, err := fs.Sub(embedded, "testdata/images")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return sub
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// errExit carries an exit code whose reason has already been printed.
type errExit int

func (e errExit) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func exitCode(err error, stderr io.Writer) int {
	var code errExit
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, stage.ErrUsage), errors.Is(err, dbcmd.ErrUsage):
		return 2
	}
	fmt.Fprintf(stderr, "imaging-tui: %v\n", err)
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "stage":
			return stages.Main(ctx, args[1:], sampleImages(), stderr)
		case "join":
			return runJoin(ctx, args[1:], stdout, stderr)
		case "keys":
			return stages.KeysMain(args[1:], stdout, stderr)
		case "db":
			return dbcmd.Main(ctx, args[1:], stdout, stderr)
		case "config":
			return config.Main(args[1:], stdout, stderr)
		case "bench":
			if !slices.ContainsFunc(args[1:], isReturnMemory) {
				// The limit phase runs SIFT in this process: as the extractor does.
				if err := sift.ExecKeepingMemory(); err != nil {
					fmt.Fprintf(stderr, "imaging-tui: %v; the limit will be slower\n", err)
				}
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			return bench.Main(ctx, args[1:], exe, stdout, stderr)
		case "version":
			return version(stdout)
		case "help":
			return runSupervisor(ctx, []string{"--help"}, stdout, stdout)
		}
	}
	return runSupervisor(ctx, args, stdout, stderr)
}

// isReturnMemory reports whether a bench argument is --return-memory.
func isReturnMemory(arg string) bool {
	name, val, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	return strings.HasPrefix(arg, "-") && name == "return-memory" && val != "false"
}

func version(w io.Writer) error {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
	}
	fmt.Fprintf(w, "imaging-tui %s\n", v)
	fmt.Fprintf(w, "go          %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "opencv      %s\n", sift.OpenCVVersion())
	fmt.Fprintf(w, "libzmq      %s\n", bus.Version())
	return nil
}

var usage = `imaging-tui — an imaging pipeline for underwater survey images, and its console

Usage:
  imaging-tui [flags]              run the pipeline with the terminal console
  imaging-tui --no-tui [flags]     run it headless: status lines, then a JSON summary
  imaging-tui stage NAME [flags]   run one stage on its own: ` + kindNames() + `
  imaging-tui db CMD [flags]       read the database
  imaging-tui --role edge [flags]  the capture host of several (docs/DEPLOY.md)
  imaging-tui join EDGE [flags]    a processing host: extractors for the edge EDGE
  imaging-tui keys NAME            create a CURVE keypair (NAME.key, NAME.pub) for links beyond loopback
  imaging-tui config print [flags] print the effective configuration (defaults, --config FILE, flags)
  imaging-tui version              print the versions of this binary and its libraries

Add --help to any command for its flags.
`

// kindNames lists the stage kinds: "generator, extractor, logger".
func kindNames() string {
	var names []string
	for _, k := range stage.Kinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// runSupervisor runs the pipeline under the supervisor: with the console, or
// headless with --no-tui.
func runSupervisor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("imaging-tui", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var set config.Settings // supervisor, headless, --no-tui, --metrics, --config
	set.RegisterFlags(fs)
	var role roleFlags // --role edge, --listen
	role.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage, "\nFlags of the supervisor (console and --no-tui):\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return stage.ErrUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imaging-tui: unknown command %q\n\n%s", fs.Arg(0), usage)
		return stage.ErrUsage
	}
	if err := set.ApplyFile(fs); err != nil { // flags given override the file
		return err
	}
	for _, w := range set.Warnings() {
		fmt.Fprintf(stderr, "imaging-tui: warning: %s\n", w)
	}
	cfg, err := role.apply(fs, set.Supervisor, stderr)
	if err != nil {
		return err
	}
	ho := set.Headless
	sec, err := bus.KeyFiles{Key: cfg.Key, Peers: cfg.Peers, Insecure: cfg.Insecure}.Load()
	if err != nil {
		return err
	}
	// No sec.Warn: set.Warnings has printed one for a --status-bind beyond
	// loopback, and the console may own the terminal by the time it binds.
	cfg.Transport = bus.NewSecureTransport(sec)
	ho.Out = stdout
	var metricsLn net.Listener // opened before the pipeline starts, so a taken port fails at once
	if set.Metrics != "" {
		ln, err := metrics.Listen(set.Metrics)
		if err != nil {
			return err
		}
		defer ln.Close() // in case the supervisor never starts; serveMetrics closes it otherwise
		metricsLn = ln
	}
	if set.NoTUI {
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		sup, err := supervisor.New(cfg, log)
		if err != nil {
			return err
		}
		// Printed first: a supervisor killed before its summary leaves the
		// folder with the stage logs behind, and this line names it.
		fmt.Fprintf(stderr, "imaging-tui: run folder %s\n", sup.RunDir())
		if metricsLn != nil {
			fmt.Fprintf(stderr, "imaging-tui: metrics on http://%s/metrics\n", metricsLn.Addr())
		}
		defer serveMetrics(metricsLn, sup, log)()
		defer killOnSecondSignal(sup, stderr, false)()
		if _, err := supervisor.RunHeadless(ctx, sup, ho); err != nil {
			if errors.Is(err, supervisor.ErrInvariant) {
				fmt.Fprintf(stderr, "imaging-tui: %v (logs in %s)\n", err, sup.RunDir())
				return errExit(1)
			}
			return err
		}
		if cfg.RunDir == "" { // a temporary folder, and a clean run: nothing in it to keep
			if err := os.RemoveAll(sup.RunDir()); err == nil {
				fmt.Fprintf(stderr, "imaging-tui: clean run; run folder removed (--run-dir keeps one)\n")
			}
		}
		return nil
	}
	return runConsole(ctx, cfg, set, metricsLn)
}

// serveMetrics serves sup's Prometheus metrics on ln (nil: none) until the
// returned stop is called, which waits for the server to end.
func serveMetrics(ln net.Listener, sup *supervisor.Supervisor, log *slog.Logger) (stop func()) {
	if ln == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := metrics.ServeListener(ctx, ln, sup.Snapshot); err != nil {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	return func() { cancel(); <-done }
}

// runConsole runs the supervisor under the terminal console. Logs go to a
// file in the run folder: the console owns the terminal.
func runConsole(ctx context.Context, cfg supervisor.Config, set config.Settings, metricsLn net.Listener) error {
	if !isTerminal(os.Stdin) || !isTerminal(os.Stdout) {
		return errors.New("the console needs a terminal; use --no-tui to run headless")
	}
	logFile, err := os.CreateTemp("", "imaging-tui-*.log")
	if err != nil {
		return err
	}
	defer logFile.Close()
	log := slog.New(slog.NewTextHandler(logFile, nil))
	sup, err := supervisor.New(cfg, log)
	if err != nil {
		return err
	}
	defer serveMetrics(metricsLn, sup, log)() // until the pipeline has stopped
	runCtx, stopPipeline := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- sup.Run(runCtx) }()
	draw := func(ctx context.Context) (string, error) {
		return dbcmd.DrawLatest(ctx, cfg.DB, sup.RunDir())
	}
	uiErr := tui.Run(ctx, sup, tui.Options{DBPath: cfg.DB, Draw: draw, RunDir: sup.RunDir(),
		NoConfirm: set.NoConfirm, Tour: set.Tour})
	fmt.Fprintln(os.Stderr, "imaging-tui: stopping the pipeline (the generator first drains its frames in flight; Ctrl-C again to kill at once)…")
	stopForce := killOnSecondSignal(sup, os.Stderr, true)
	defer stopForce()
	stopPipeline()
	runErr := awaitShutdown(sup, done, os.Stderr)
	fmt.Fprintf(os.Stderr, "imaging-tui: stopped; stage logs in %s, supervisor log %s\n",
		filepath.Join(sup.RunDir(), "logs"), logFile.Name())
	return errors.Join(uiErr, runErr)
}

// awaitShutdown waits for the supervisor's Run to return, printing the stop
// and exit events meanwhile, so a long drain is not a silent wait.
func awaitShutdown(sup *supervisor.Supervisor, done <-chan error, w io.Writer) error {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var seen uint64
	for _, e := range sup.Snapshot().Events {
		seen = max(seen, e.Seq)
	}
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			for _, e := range sup.Snapshot().Events {
				if e.Seq > seen {
					seen = e.Seq
					if e.Kind.Ends() {
						fmt.Fprintf(w, "imaging-tui:   %s %s: %s\n", e.Stage, e.Kind, e.Text)
					}
				}
			}
		}
	}
}

// killOnSecondSignal arms SIGINT/SIGTERM during shutdown: the first one
// (after the one that began it, when already is false) kills every stage's
// process group at once, for an operator who will not wait for a drain.
// The returned func disarms it.
func killOnSecondSignal(sup *supervisor.Supervisor, w io.Writer, already bool) (stop func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	quit := make(chan struct{})
	go func() {
		if !already {
			select {
			case <-ch:
			case <-quit:
				return
			}
		}
		select {
		case <-ch:
			fmt.Fprintln(w, "imaging-tui: interrupted again: killing every stage now (frames in flight will be resent by the next run's generator only if it resumes its stream)")
			for _, st := range sup.Snapshot().Stages {
				if st.PID > 0 && st.State != supervisor.StateRemote {
					_ = syscall.Kill(-st.PID, syscall.SIGKILL)
				}
			}
		case <-quit:
		}
	}()
	return func() { signal.Stop(ch); close(quit) }
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
