package stages

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
)

// genState is what a generator keeps in its --state file so that a restart
// after SIGKILL continues the same stream and sends again every frame that
// was in flight: with it, even killing the generator loses nothing.
type genState struct {
	StreamID uint64          `json:"stream_id"`
	NextSeq  uint64          `json:"next_seq"`
	LastTS   uint64          `json:"last_ts,omitempty"` // the last frame's timestamp: the next ones are later
	Window   []genStateFrame `json:"window"`            // frames not yet acknowledged
}

// genStateFrame is a frame in flight. It keeps its timestamp so that it goes
// out again as the same frame, with the same seed key (wire.SeedKey): a copy
// that reached the logger through a seed stage is then recognised.
type genStateFrame struct {
	Seq  uint64 `json:"seq"`
	File string `json:"file"`
	TS   uint64 `json:"ts,omitempty"` // 0 in a file written before timestamps were kept
}

// saveState writes the state file, if any, atomically (write, then rename).
func (g *generator) saveState() {
	if g.cfg.State == "" {
		return
	}
	st := genState{StreamID: g.cfg.StreamID, NextSeq: g.seq + 1, LastTS: g.lastTS}
	for _, f := range g.window {
		st.Window = append(st.Window, genStateFrame{Seq: f.seq, File: f.name, TS: f.key.Timestamp})
	}
	slices.SortFunc(st.Window, func(a, b genStateFrame) int { return int(a.Seq - b.Seq) })
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
func loadState(path string) (*genState, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st genState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if st.StreamID == 0 || st.NextSeq == 0 {
		return nil, fmt.Errorf("state file %s: no stream", path)
	}
	return &st, nil
}

// resume continues the stream of a state file: the frames that were in
// flight go out again with their own sequence numbers, before any new one.
func (g *generator) resume(st *genState) {
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
