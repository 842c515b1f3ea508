package dbcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/imaging-tui/imaging-tui/db"
)

// ErrUsage marks a command-line mistake. Main has already printed the
// message and a usage hint to stderr when it returns an error wrapping it.
var ErrUsage = errors.New("usage error")

// ErrVerify is wrapped by the error verify returns when it found a problem.
var ErrVerify = errors.New("verification failed")

// DefaultDB is the database path used when --db is not given.
const DefaultDB = "imaging.db"

// command is one subcommand of `imaging-tui db`.
type command struct {
	name    string
	args    string // positional arguments, for the usage line
	summary string
	about   string // paragraphs after the usage line
	// setup defines the command's own flags on fs and returns the function
	// that runs the command once they are parsed.
	setup func(fs *flag.FlagSet) func(ctx context.Context, c *cmdEnv) error
}

// cmdEnv is what a subcommand's run sees: parsed flags and positional
// arguments, the output streams and the flag values every command has.
type cmdEnv struct {
	fs             *flag.FlagSet
	args           []string
	stdout, stderr io.Writer
	dbPath         string
}

var commands = []*command{statsCmd, showCmd, exportCmd, drawCmd, verifyCmd}

// Main runs `imaging-tui db CMD [flags]` with args holding CMD and what
// follows it. Reports go to stdout, usage messages to stderr. A usage
// mistake returns an error wrapping ErrUsage (exit code 2), any other
// failure a plain error (exit code 1); verify returns an error wrapping
// ErrVerify when it finds a problem. The database is only ever opened with
// db.OpenReadOnly, so every command is safe while the logger writes.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage())
		return fmt.Errorf("db: no command: %w", ErrUsage)
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				return runCmd(ctx, c, []string{"--help"}, stdout, stderr)
			}
		}
		fmt.Fprint(stdout, mainUsage())
		return nil
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "imaging-tui db: unknown command %q\n\n%s", args[0], mainUsage())
		return fmt.Errorf("db: unknown command %q: %w", args[0], ErrUsage)
	}
	return runCmd(ctx, c, args[1:], stdout, stderr)
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func runCmd(ctx context.Context, c *command, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("imaging-tui db "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below, to stdout for --help
	env := &cmdEnv{fs: fs, stdout: stdout, stderr: stderr}
	fs.StringVar(&env.dbPath, "db", DefaultDB, "SQLite database `path`")
	run := c.setup(fs)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, cmdUsage(c, fs))
		return nil
	}
	if err != nil { // the flag package has printed the error
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", fs.Name())
		return fmt.Errorf("db %s: %w: %w", c.name, ErrUsage, err)
	}
	env.args = pos
	return run(ctx, env)
}

// usagef prints a usage mistake with a hint and returns an error wrapping
// ErrUsage.
func (c *cmdEnv) usagef(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(c.stderr, "%s: %s\nRun '%s --help' for usage.\n", c.fs.Name(), msg, c.fs.Name())
	return fmt.Errorf("%s: %s: %w", strings.TrimPrefix(c.fs.Name(), "imaging-tui "), msg, ErrUsage)
}

// parseInterspersed parses flags anywhere among the positional arguments
// (`show 42 --json` as well as `show --json 42`) and returns the positional
// ones. Everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// If fs.Parse stopped at a "--" (consuming it), all of rest is
		// positional.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func mainUsage() string {
	var b strings.Builder
	b.WriteString("Usage: imaging-tui db CMD [flags]\n\n")
	b.WriteString("Reads the pipeline's SQLite database (read-only; safe while the logger runs).\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString("\nEvery command takes --db PATH (default " + DefaultDB + ").\n")
	b.WriteString("Run 'imaging-tui db CMD --help' for a command's flags.\n")
	return b.String()
}

func cmdUsage(c *command, fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: imaging-tui db %s", c.name)
	if c.args != "" {
		b.WriteString(" " + c.args)
	}
	b.WriteString(" [flags]\n\n" + c.about + "\nFlags:\n")
	out := fs.Output()
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(out)
	return b.String()
}

// msgError is an error with its own message that still matches err with
// errors.Is: "no database at PATH" is fs.ErrNotExist, "no frame 9 in PATH"
// is db.ErrNotFound.
type msgError struct {
	msg string
	err error
}

func (e *msgError) Error() string { return e.msg }
func (e *msgError) Unwrap() error { return e.err }

// openDB opens path read-only with a clear message when it does not exist.
func openDB(ctx context.Context, path string) (*db.DB, error) {
	d, err := db.OpenReadOnly(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &msgError{"no database at " + path, err}
	}
	return d, err
}

// frameArg resolves an argument checked by idArg: ID or "latest".
func frameArg(ctx context.Context, d *db.DB, arg string) (int64, error) {
	if arg == "latest" {
		id, err := d.LatestImageID(ctx)
		if errors.Is(err, db.ErrNotFound) {
			return 0, &msgError{"no frames in " + d.Path(), err}
		}
		return id, err
	}
	return strconv.ParseInt(arg, 10, 64)
}

// idArg parses the single ID|latest argument of show and draw; usage
// mistakes are printed.
func (c *cmdEnv) idArg() (string, error) {
	switch len(c.args) {
	case 0:
		return "", c.usagef("missing frame ID (a number, or latest)")
	case 1:
		a := c.args[0]
		if a != "latest" {
			if id, err := strconv.ParseInt(a, 10, 64); err != nil || id <= 0 {
				return "", c.usagef("%q is not a frame id (a positive number, or latest)", a)
			}
		}
		return a, nil
	}
	return "", c.usagef("unexpected argument %q", c.args[1])
}

// noArgs reports positional arguments to a command that takes none.
func (c *cmdEnv) noArgs() error {
	if len(c.args) > 0 {
		return c.usagef("unexpected argument %q", c.args[0])
	}
	return nil
}

// notFound turns db.ErrNotFound for frame id into a plain message.
func notFound(err error, id int64, path string) error {
	if errors.Is(err, db.ErrNotFound) {
		return &msgError{fmt.Sprintf("no frame %d in %s", id, path), err}
	}
	return err
}
