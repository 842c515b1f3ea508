// Package tui is the operator's console: a Bubble Tea (v1) program over the
// supervisor.
//
// The console knows nothing of processes or sockets. It reaches the
// supervisor only through Controller, a small interface of the supervisor's
// API, and only from tea.Cmds: Update never blocks and does no I/O. A
// refresh loop samples Controller.Snapshot (and the selected stage's log
// lines) about four times a second; operator commands run as commands whose
// outcome comes back as a CommandResultMsg and is shown on the flash line.
//
// One screen shows the pipeline as boxes in the order the data flows
// (generator, the extractor replicas side by side, logger: stage.Table's
// order, never the start order, which has a line of its own where [ and ]
// act), a table of per-stage rates (fps now, sparkline, frames and errors
// over the run, queue bar, drops, the last error and its age), the
// database's row counts, the links' MB/s and queues, the frames not yet
// stored, the event log, the selected stage's log lines (JSON lines shown
// compactly: time, message, attributes) and a help bar; `?` lists every
// key. enter replaces the lower half with the selected stage's details
// (detail.go); L shows the log alone; / filters it. The figures are the
// supervisor's (supervisor/history.go): the console adds none of its own
// but the byte rates.
//
// Destructive keys ask y/n first (confirm.go) unless Options.NoConfirm.
// Options.Tour plays tour.go's walkthrough: each step is narration in the
// event pane and keys fed to the same key handling as the operator's.
// Keys that arrive in one terminal read are handled one by one. It fits
// 80×24 and uses the room of larger terminals. Styles are values built from an
// explicit lipgloss renderer, so NO_COLOR and tests render plain text in
// which states are still spelled out.
//
// Run owns the terminal while it runs and prints nothing else; the caller
// must keep its logs off the terminal, and shuts the supervisor down after
// Run returns.
package tui
