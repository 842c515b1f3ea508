package tui

import (
	"path/filepath"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/imaging-tui/imaging-tui/supervisor"
)

// refreshInterval is how often the console samples the supervisor.
const refreshInterval = 250 * time.Millisecond

// logLines is how many of the selected stage's log lines are fetched.
const logLines = 500

// SnapshotMsg carries one supervisor snapshot and the recent log lines of
// the stage that was selected when it was taken.
type SnapshotMsg struct {
	Snapshot supervisor.Snapshot
	LogStage string   // whose lines Logs are; "" for none
	Logs     []string // oldest first

	rearm bool // sent by the refresh loop: Update schedules the next tick
}

// LogsMsg carries a stage's recent log lines, fetched when the selection
// changes so the log pane follows at once.
type LogsMsg struct {
	Stage string
	Lines []string
}

// CommandResultMsg is the outcome of one operator command.
type CommandResultMsg struct {
	Op    string // e.g. "restart", "kill -9", "fault slow", "scale +1"
	Stage string // "" for pipeline-wide commands
	Err   error
}

// DrawResultMsg is the outcome of the draw-latest-frame command.
type DrawResultMsg struct {
	Path string
	Err  error
}

// fetch samples the supervisor: the snapshot, then the log lines of stage
// (or of the first stage when stage is ""). It runs as a command, never on
// the Update goroutine.
func fetch(c Controller, stage string, rearm bool) tea.Msg {
	s := c.Snapshot()
	if stage == "" && len(s.Stages) > 0 {
		stage = s.Stages[0].Name
	}
	var lines []string
	if stage != "" {
		lines = c.Logs(stage, logLines)
	}
	return SnapshotMsg{Snapshot: s, LogStage: stage, Logs: lines, rearm: rearm}
}

// fetchCmd samples the supervisor at once; it starts the refresh loop.
func fetchCmd(c Controller, stage string) tea.Cmd {
	return func() tea.Msg { return fetch(c, stage, true) }
}

// tickCmd samples the supervisor after refreshInterval. Update issues it
// again on each SnapshotMsg of the loop, so at most one sample is in flight
// and a slow supervisor slows the refresh rather than piling up requests.
func tickCmd(c Controller, stage string) tea.Cmd {
	return tea.Tick(refreshInterval, func(time.Time) tea.Msg { return fetch(c, stage, true) })
}

// logsCmd fetches a stage's log lines.
func logsCmd(c Controller, stage string) tea.Cmd {
	return func() tea.Msg { return LogsMsg{Stage: stage, Lines: c.Logs(stage, logLines)} }
}

// commandCmd runs one operator command off the Update goroutine.
func commandCmd(op, stage string, do func() error) tea.Cmd {
	return func() tea.Msg { return CommandResultMsg{Op: op, Stage: stage, Err: do()} }
}

// drawCmd runs the draw hook.
func drawCmd(draw func() (string, error)) tea.Cmd {
	return func() tea.Msg {
		path, err := draw()
		if err == nil && path != "" && !filepath.IsAbs(path) {
			if abs, err := filepath.Abs(path); err == nil {
				path = abs // tell the operator where to look
			}
		}
		return DrawResultMsg{Path: path, Err: err}
	}
}
