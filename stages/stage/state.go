package stage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// StreamState is what a generator keeps in its --state file: its stream and
// the frames it has in flight, so that a restart after SIGKILL continues the
// same stream and sends again every frame that was in flight. The
// supervisor reads it too, to resume what an earlier run left.
type StreamState struct {
	StreamID uint64             `json:"stream_id"`
	NextSeq  uint64             `json:"next_seq"`
	LastTS   uint64             `json:"last_ts,omitempty"` // the last frame's timestamp: the next ones are later
	Window   []StreamStateFrame `json:"window"`            // frames not yet acknowledged
}

// StreamStateFrame is a frame in flight. It keeps its timestamp so that it
// goes out again as the same frame, with the same seed key (wire.SeedKey):
// a copy that reached the logger through a seed stage is then recognised.
type StreamStateFrame struct {
	Seq  uint64 `json:"seq"`
	File string `json:"file"`
	TS   uint64 `json:"ts,omitempty"` // 0 in a file written before timestamps were kept
}

// ReadStreamState reads a state file: nil and no error when there is none.
func ReadStreamState(path string) (*StreamState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st StreamState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return &st, nil
}
