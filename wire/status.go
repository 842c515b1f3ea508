package wire

import "time"

// Stage states a stage reports about itself. The supervisor adds its own
// (starting, stale, backoff, stopped, failed) from what it observes.
const (
	StateRunning  = "running"
	StateStopping = "stopping"
	StateBlocked  = "blocked" // e.g. the logger's database is full; it retries
	// StateUnacked is a generator under reliable delivery whose frames go
	// out and are not acknowledged: no logger of ours at the end of the
	// chain, or one that cannot store. StateReason says which, and what to do.
	StateUnacked = "unacked"
)

// Status is the JSON object every stage sends on the status side channel
// about every 250 ms. Unknown fields are ignored on receive.
type Status struct {
	Stage     string    `json:"stage"`    // generator, extractor or logger
	Instance  string    `json:"instance"` // e.g. extractor-0
	PID       int       `json:"pid"`
	Host      string    `json:"host,omitempty"`
	State     string    `json:"state"`
	StartedAt time.Time `json:"started_at"`
	FramesIn  uint64    `json:"frames_in"`
	FramesOut uint64    `json:"frames_out"`
	BytesIn   uint64    `json:"bytes_in"`
	BytesOut  uint64    `json:"bytes_out"`
	Dropped   uint64    `json:"dropped"`
	Errors    uint64    `json:"errors"`
	Resent    uint64    `json:"resent,omitempty"` // generator: frames published again
	// Disconnects counts connections ZeroMQ dropped on input sockets (a
	// message over ZMQ_MAXMSGSIZE, a protocol error, or a peer that went away).
	Disconnects uint64    `json:"disconnects,omitempty"`
	FPS         float64   `json:"fps"`
	QueueDepth  int       `json:"queue_depth"`
	Latency     *Latency  `json:"latency_ms,omitempty"`
	DB          *DBCounts `json:"db,omitempty"`
	StreamID    uint64    `json:"stream_id,omitempty"` // generator: its stream
	LastSeq     uint64    `json:"last_seq,omitempty"`  // generator: last seq published
	// OldestUnacked is when the oldest frame the generator still holds
	// unacknowledged (not yet stored) was first published; zero when none.
	OldestUnacked time.Time `json:"oldest_unacked,omitzero"`
	Delivery      string    `json:"delivery,omitempty"` // reliable or best-effort
	// StateReason says why the stage is in State while that lasts (e.g.
	// unacked's reason and hint); empty in the ordinary states.
	StateReason string `json:"state_reason,omitempty"`
	// SeedFrames counts the frames received without our trailer: they came
	// through a seed stage, which drops it (or from a seed generator).
	SeedFrames uint64 `json:"seed_frames,omitempty"`
	// Refused counts peers its sockets refused at the CURVE handshake (no
	// key, a wrong key, a key not among its peers).
	Refused   uint64    `json:"refused,omitempty"`
	LastError string    `json:"last_error"`
	TS        time.Time `json:"ts"`
}

// Latency is a latency summary in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

// DBCounts are the logger's database row counts and sizes.
type DBCounts struct {
	Images      int64 `json:"images"`
	Keypoints   int64 `json:"keypoints"`
	Descriptors int64 `json:"descriptors"`
	FileBytes   int64 `json:"file_bytes,omitempty"`
	FreeBytes   int64 `json:"free_bytes,omitempty"` // free space on the database's file system
}
