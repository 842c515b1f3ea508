package tui

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// Styles are the console's styles. Every style is bound to one renderer, so
// the colour profile is an explicit input: a renderer with the Ascii profile
// (NO_COLOR, or tests) renders plain text, and the screen stays readable
// because states are always spelled out and the selection is marked with
// characters, not only with colour.
type Styles struct {
	Title    lipgloss.Style // the top line's program name
	Dim      lipgloss.Style // secondary text, table headers, separators
	Section  lipgloss.Style // pane titles
	Selected lipgloss.Style // the selected stage's table row name
	Key      lipgloss.Style // key names in the fault menu
	Error    lipgloss.Style // last errors, failed commands
	OK       lipgloss.Style // successful commands
	Spark    lipgloss.Style // fps sparklines
	BarFull  lipgloss.Style // the filled part of a queue bar
	BarEmpty lipgloss.Style // the empty part of a queue bar
	Active   lipgloss.Style // an active fault in the fault menu
	Running  lipgloss.Style
	Starting lipgloss.Style
	Stale    lipgloss.Style
	Backoff  lipgloss.Style
	Stopped  lipgloss.Style
	Failed   lipgloss.Style
	Paused   lipgloss.Style
	Remote   lipgloss.Style
	Blocked  lipgloss.Style
	Help     help.Styles
}

// DefaultStyles returns the console's styles rendered by r (nil: lipgloss's
// default renderer, which follows stdout and NO_COLOR). The colours are
// 256-colour indexes that degrade to the nearest ANSI colour, and none
// depends on the terminal's background, so no terminal query is made.
func DefaultStyles(r *lipgloss.Renderer) Styles {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	fg := func(c string) lipgloss.Style { return r.NewStyle().Foreground(lipgloss.Color(c)) }
	s := Styles{
		Title:    r.NewStyle().Bold(true).Foreground(lipgloss.Color("12")),
		Dim:      fg("244"),
		Section:  r.NewStyle().Bold(true).Foreground(lipgloss.Color("110")),
		Selected: r.NewStyle().Bold(true).Reverse(true),
		Key:      r.NewStyle().Bold(true).Foreground(lipgloss.Color("12")),
		Error:    fg("9"),
		OK:       fg("10"),
		Spark:    fg("14"),
		BarFull:  fg("11"),
		BarEmpty: fg("238"),
		Active:   r.NewStyle().Bold(true).Foreground(lipgloss.Color("13")),
		Running:  fg("10"),
		Starting: fg("14"),
		Stale:    fg("11"),
		Backoff:  fg("208"),
		Stopped:  fg("245"),
		Failed:   r.NewStyle().Bold(true).Foreground(lipgloss.Color("9")),
		Paused:   fg("13"),
		Remote:   fg("12"),
		Blocked:  fg("214"),
	}
	s.Help = help.Styles{
		Ellipsis:       s.Dim,
		ShortKey:       r.NewStyle().Bold(true),
		ShortDesc:      s.Dim,
		ShortSeparator: s.Dim,
		FullKey:        r.NewStyle().Bold(true),
		FullDesc:       r.NewStyle(),
		FullSeparator:  s.Dim,
	}
	return s
}

// state returns the style of a displayed state word (see displayState).
func (s Styles) state(word string) lipgloss.Style {
	switch word {
	case "running":
		return s.Running
	case "starting":
		return s.Starting
	case "stale":
		return s.Stale
	case "backoff":
		return s.Backoff
	case "stopped":
		return s.Stopped
	case "failed":
		return s.Failed
	case "paused", "slow":
		return s.Paused
	case "remote":
		return s.Remote
	case "blocked", "stopping", "unacked":
		return s.Blocked
	}
	return s.Dim
}

// eventKind returns the style of an event log entry's kind.
func (s Styles) eventKind(kind stage.EventKind) lipgloss.Style {
	switch kind {
	case stage.EventStart, stage.EventRunning, stage.EventScale:
		return s.Running
	case stage.EventRestart:
		return s.Starting
	case stage.EventExit, stage.EventBackoff:
		return s.Backoff
	case stage.EventKill, stage.EventFailed, stage.EventInvariant, stage.EventStatusError:
		return s.Failed
	case stage.EventFault:
		return s.Paused
	case tourKind:
		return s.Key
	case stage.EventStop, stage.EventShutdown:
		return s.Stopped
	case stage.EventStale:
		return s.Stale
	case stage.EventBlocked:
		return s.Blocked
	case stage.EventRemote, stage.EventReorder:
		return s.Remote
	}
	return s.Dim
}
