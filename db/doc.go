// Package db stores processed frames in SQLite and reads them back. It uses
// modernc.org/sqlite (pure Go, no cgo) and knows nothing of the wire format:
// the logger converts a wire frame into a Frame.
//
// # Schema
//
// The seed design's tables images, keypoints and descriptors are kept with
// their columns and indices unchanged, so seed-era queries still work. Each
// descriptors row holds one frame's K×128 float32 descriptor values,
// little-endian, as the seed stores them. Beside the seed's columns, images
// has stream_id and seq (uint64 values kept as int64 bit patterns; NULL for
// frames without the extension trailer), keypoint_count, and the pipeline
// times published_at, extracted_at, received_at and stored_at (ns since the
// Unix epoch, NULL if unknown). A UNIQUE index on (stream_id, seq) makes a
// re-delivered frame a no-op. A frame without stream and seq that the
// logger stores with Frame.KeyBySeed (one that passed through a seed stage)
// gets a row in seed_keys, unique on its timestamp, filename and sizes, so
// that its copies are no-ops too.
//
// The schema version is kept in PRAGMA user_version. Migrations are
// numbered SQL files embedded in the binary, applied forward only at Open,
// each in one transaction with its version bump. A database written by the
// seed (version 0) is migrated in place; one newer than SchemaVersion is
// refused with ErrSchemaTooNew.
//
// # Durability
//
// The file is in WAL mode with synchronous=NORMAL. Store writes a frame in
// one transaction: after a crash or SIGKILL the frame is there whole or not
// at all. A committed frame survives a process crash; a power loss or OS
// crash may lose the last few commits, never consistency.
//
// # Concurrency
//
// A *DB is safe for concurrent use by multiple goroutines. Open gives the
// single writer: all its calls share one SQLite connection and run one at a
// time, so a Counts call waits while a Store is in progress. Only one
// process should hold a database open with Open; a second writer waits up
// to BusyTimeout for each transaction and then fails with ErrBusy.
// OpenReadOnly gives readers (the supervisor, the db command); any number
// of them, in any process, read while the writer writes without blocking it
// or being blocked. EachImage and EachKeypoint hold no statement open while
// their callback runs, so the callback may use the same DB.
//
// # What it won't do
//
// It does not vacuum: Retain frees pages for reuse but the file keeps its
// size. It does not decode images or validate them beyond their size.
package db
