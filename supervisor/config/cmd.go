package config

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

const usage = `Usage: imaging-tui config print [--config FILE] [flags]

Prints the effective configuration as YAML: the defaults, then FILE, then
the flags given, the same way 'imaging-tui [--no-tui] --config FILE [flags]'
would combine them. The output is itself a configuration file.
`

// Main runs `imaging-tui config ARGS...`. Usage errors are reported on
// stderr and returned as stage.ErrUsage.
func Main(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "print" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, usage)
			return nil
		}
		fmt.Fprint(stderr, usage)
		return stage.ErrUsage
	}
	fs := flag.NewFlagSet("imaging-tui config print", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var s Settings
	s.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage, "\nFlags (those of 'imaging-tui'):\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return stage.ErrUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imaging-tui config print: unexpected argument %q\n", fs.Arg(0))
		return stage.ErrUsage
	}
	if err := s.ApplyFile(fs); err != nil {
		return err
	}
	for _, w := range s.Warnings() {
		fmt.Fprintf(stderr, "imaging-tui: warning: %s\n", w)
	}
	return WriteYAML(stdout, s)
}
