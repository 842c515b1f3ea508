// Command imaging-tui runs a distributed imaging pipeline for underwater
// survey imagery — generator → SIFT extractor → SQLite logger, linked by
// ZeroMQ — and the operator's console that supervises it.
//
//	imaging-tui [flags]            supervisor with the terminal console
//	imaging-tui --no-tui [flags]   the same supervisor, headless
//	imaging-tui stage NAME [flags] one stage on its own
//	imaging-tui db CMD [flags]     read the database
//	imaging-tui version            versions of this binary and its libraries
package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/imaging-tui/imaging-tui/db/dbcmd"
	"github.com/imaging-tui/imaging-tui/stages"
	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/sift"
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
	case errors.Is(err, stages.ErrUsage), errors.Is(err, dbcmd.ErrUsage):
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
		case "db":
			return dbcmd.Main(ctx, args[1:], stdout, stderr)
		case "version":
			return version(stdout)
		case "help", "-h", "--help", "-help":
			fmt.Fprint(stdout, usage)
			return nil
		}
	}
	return runSupervisor(ctx, args, stdout, stderr)
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

const usage = `imaging-tui — an imaging pipeline for underwater survey images, and its console

Usage:
  imaging-tui [flags]              run the pipeline with the terminal console
  imaging-tui --no-tui [flags]     run it headless: status lines, then a JSON summary
  imaging-tui stage NAME [flags]   run one stage on its own: generator, extractor, logger
  imaging-tui db CMD [flags]       read the database
  imaging-tui version              print the versions of this binary and its libraries

Run 'imaging-tui --help-flags' for the supervisor's flags, or add --help to any command.
`

func runSupervisor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fmt.Fprint(stderr, usage)
	return stages.ErrUsage
}
