package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
)

// Controller is what the console needs of the supervisor. Snapshot and Logs
// are called about four times a second and should return quickly; the
// commands may block (stop waits for a grace period): the console runs each
// in its own goroutine.
type Controller interface {
	Snapshot() supervisor.Snapshot
	Logs(name string, n int) []string // the last n lines, oldest first

	Start(name string) error
	Stop(name string) error
	Kill(name string) error // SIGKILL
	Restart(name string) error
	Pause(name string) error
	Resume(name string) error
	MoveUp(name string) error   // one place earlier in the start order
	MoveDown(name string) error // one place later in the start order
	RestartAll() error          // in the current start order
	Scale(delta int) error      // extractor replicas, +1 or -1
	Inject(name string, f stage.Fault) error
	Clear(name string, f stage.Fault) error // turn f off; an inactive fault is no error
}

// Options configure the console. The zero value is usable.
type Options struct {
	// DBPath is the database's path, shown on the top line.
	DBPath string
	// Draw, if not nil, draws the latest frame's keypoints to a file and
	// returns its path (the `d` key). When nil the key says "not available".
	Draw func(ctx context.Context) (string, error)
	// Now is the clock for uptimes and the flash line. Defaults to time.Now.
	Now func() time.Time
	// Renderer renders the styles. Defaults to a renderer for Output, which
	// honours NO_COLOR and detects the terminal's colour profile.
	Renderer *lipgloss.Renderer
	// RunDir is the run folder, where d draws frames; shown in the detail view.
	RunDir string
	// NoConfirm lets destructive keys act at once, without asking y/n.
	NoConfirm bool
	// Tour plays the guided walkthrough (tour.go) when the console starts.
	Tour bool
	// Input and Output are the terminal. Default to os.Stdin and os.Stdout.
	Input  io.Reader
	Output io.Writer
}

// Run shows the console on the alternate screen until the operator quits
// (q or Ctrl-C) or ctx is done, and returns nil then. It never stops the
// supervisor itself: the caller does that when Run returns. Run prints
// nothing outside the console and never calls os.Exit; it returns an error
// only when the terminal could not be set up or the program failed.
func Run(ctx context.Context, c Controller, opts Options) error {
	out := opts.Output
	if out == nil {
		out = os.Stdout
	}
	r := opts.Renderer
	if r == nil {
		r = lipgloss.NewRenderer(out)
	}
	m := newModel(ctx, c, opts, DefaultStyles(r))
	popts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithAltScreen(), tea.WithOutput(out)}
	if opts.Input != nil {
		popts = append(popts, tea.WithInput(opts.Input))
	}
	_, err := tea.NewProgram(m, popts...).Run()
	switch {
	case err == nil, errors.Is(err, tea.ErrInterrupted):
		return nil
	case errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil && !errors.Is(err, tea.ErrProgramPanic):
		return nil
	}
	return fmt.Errorf("tui: %w", err)
}
