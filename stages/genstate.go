package stages

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// saveState writes the state file, if any, atomically (write, then rename).
func (g *generator) saveState() {
	if g.cfg.State == "" {
		return
	}
	st := stage.StreamState{StreamID: g.cfg.StreamID, NextSeq: g.seq + 1, LastTS: g.lastTS}
	for _, f := range g.window {
		st.Window = append(st.Window, stage.StreamStateFrame{Seq: f.seq, File: f.name, TS: f.key.Timestamp})
	}
	slices.SortFunc(st.Window, func(a, b stage.StreamStateFrame) int { return int(a.Seq - b.Seq) })
	b, _ := json.Marshal(&st)
	tmp := g.cfg.State + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		g.c.fail(fmt.Errorf("save state: %w", err))
		return
	}
	if err := os.Rename(tmp, g.cfg.State); err != nil {
		g.c.fail(fmt.Errorf("save state: %w", err))
	}
}

// loadState reads a state file; a missing file is a fresh start.
func loadState(path string) (*stage.StreamState, error) {
	if path == "" {
		return nil, nil
	}
	st, err := stage.ReadStreamState(path)
	if st != nil && (st.StreamID == 0 || st.NextSeq == 0) {
		return nil, fmt.Errorf("state file %s: no stream", path)
	}
	return st, err
}

// resume continues the stream of a state file: the frames that were in
// flight go out again with their own sequence numbers, before any new one.
func (g *generator) resume(st *stage.StreamState) {
	g.seq = st.NextSeq - 1
	g.lastSeq.Store(g.seq)
	g.lastTS = max(g.lastTS, st.LastTS)
	for _, f := range st.Window {
		msg, key, err := g.loadAt(f.File, f.Seq, f.TS)
		if err != nil {
			g.c.fail(fmt.Errorf("resend %s (seq %d) after restart: %w", f.File, f.Seq, err))
			g.log.Error("frame in flight lost across restart", "file", f.File, "frame_seq", f.Seq, "err", err)
			continue
		}
		g.send(f.Seq, msg, f.File, key)
	}
	g.log.Info("resumed stream", "stream_id", g.cfg.StreamID, "next_seq", st.NextSeq, "resent", len(st.Window))
}
