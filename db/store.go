package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// kpBatch is the most keypoint rows one INSERT statement carries. Store
// splits a frame's keypoints into statements of kpBatch, kpBatch/2, ..., 1
// rows (rawConn.insertKeypoints). Must be a power of two.
//
// BenchmarkKeypointBatch (5000 keypoints, 1 KB image, 2 cores): one row per
// statement ≈ 61 ms a frame, 16 ≈ 49 ms, 64–512 ≈ 36–45 ms (within noise of
// each other). Past ~64 rows the frame's fixed costs (WAL writes, the
// 2.5 MB descriptor BLOB) dominate.
var kpBatch = 256

// stmts are the writer's statements, prepared once at Open on its single
// connection and bound to each transaction with Tx.StmtContext.
type stmts struct {
	find         *sql.Stmt // id of (stream_id, seq)
	findSeed     *sql.Stmt // id of a seed key (seed_keys)
	findRetained *sql.Stmt // whether retention deleted (stream_id, seq)
}

const insertImageSQL = `INSERT INTO images
	(timestamp, filename, width, height, channels, data_size, image_data,
	 stream_id, seq, keypoint_count, published_at, extracted_at, received_at, stored_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (stream_id, seq) DO NOTHING`

const insertSeedKeySQL = `INSERT INTO seed_keys
	(image_id, timestamp, filename, width, height, channels, data_size) VALUES (?, ?, ?, ?, ?, ?, ?)`

const findSeedSQL = `SELECT image_id FROM seed_keys
	WHERE timestamp = ? AND filename = ? AND width = ? AND height = ? AND channels = ? AND data_size = ?`

const insertDescriptorsSQL = `INSERT INTO descriptors (image_id, descriptor_data) VALUES (?, ?)`

// keypointSQL returns a multi-row INSERT of n keypoints; ?1 is the image id,
// then six values a row.
//
// OR FAIL: with the default ABORT a multi-row INSERT that fails midway undoes
// its own rows, so SQLite copies every page it is about to change into a
// statement journal first: 64 KiB pages, several for each of a frame's
// statements (see cpu-ms/frame in BenchmarkStoreBPS). Store rolls the whole
// transaction back on any error, so the statement's own undo is not needed.
func keypointSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT OR FAIL INTO keypoints (image_id, x, y, size, angle, response, octave) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?1,?,?,?,?,?,?)")
	}
	return b.String()
}

func prepare(ctx context.Context, sdb *sql.DB) (*stmts, error) {
	find, err := sdb.PrepareContext(ctx, "SELECT id FROM images WHERE stream_id = ? AND seq = ?")
	if err != nil {
		return nil, wrapErr("prepare", err)
	}
	findSeed, err := sdb.PrepareContext(ctx, findSeedSQL)
	if err != nil {
		find.Close()
		return nil, wrapErr("prepare", err)
	}
	findRetained, err := sdb.PrepareContext(ctx, "SELECT 1 FROM retained_seqs WHERE stream_id = ? AND seq = ?")
	if err != nil {
		find.Close()
		findSeed.Close()
		return nil, wrapErr("prepare", err)
	}
	return &stmts{find: find, findSeed: findSeed, findRetained: findRetained}, nil
}

func (st *stmts) close() error {
	return errors.Join(st.find.Close(), st.findSeed.Close(), st.findRetained.Close())
}

// Store writes f in one transaction: the images row, its keypoint rows and
// one descriptors row holding all descriptors (K×128 float32 little-endian).
// The frame is in the database whole or not at all, also if the process
// dies midway.
//
// A frame whose (StreamID, Seq) is already stored is not written again:
// Store returns the existing row's id with inserted=false; so is one that
// was stored and since deleted by Retain, with id 0 (a resent copy whose
// first copy's acknowledgement was lost: stored again, it would count as
// stored and as retained away). Frames with
// StreamID and Seq both 0 are deduplicated only with KeyBySeed, by their
// seed key (see Frame.KeyBySeed).
//
// Store validates f first and returns an error wrapping ErrInvalid without
// writing anything if it is malformed. When the database or disk is full
// the error wraps ErrFull; the caller may pause and retry the same frame.
func (d *DB) Store(ctx context.Context, f *Frame) (id int64, inserted bool, err error) {
	if err := d.writable(); err != nil {
		return 0, false, err
	}
	if err := f.validate(); err != nil {
		return 0, false, err
	}
	blob := f.descriptorBlob()

	tx, err := d.beginRaw(ctx) // BEGIN IMMEDIATE
	if err != nil {
		return 0, false, wrapErr("store frame: begin", err)
	}
	defer func() {
		if err != nil || !inserted {
			// After SQLITE_FULL SQLite may have rolled back already; the
			// error of this second rollback says nothing new.
			_ = tx.Rollback()
		}
	}()

	var stream, seq any // NULL for trailer-less frames
	if f.sequenced() {
		stream, seq = int64(f.StreamID), int64(f.Seq) // uint64 as int64 bit pattern
	}
	if id, err = d.stored(ctx, tx, f); err != nil || id != 0 {
		return id, false, err // a re-delivery, or a failed look-up
	}
	if f.sequenced() {
		var gone int
		switch err = tx.StmtContext(ctx, d.stmts.findRetained).QueryRowContext(ctx, stream, seq).Scan(&gone); {
		case err == nil:
			return 0, false, nil // stored once, deleted by retention since
		case !errors.Is(err, sql.ErrNoRows):
			return 0, false, wrapErr("store frame: find retained", err)
		}
		err = nil
	}

	if need := int64(len(f.Image) + len(blob)); need > d.reserved.Load() {
		// A record is its value and a header of a few dozen bytes.
		if err = tx.reserveRecords(len(f.Image)+4096, len(blob)+4096); err != nil {
			return 0, false, wrapErr("store frame", err)
		}
		d.reserved.Store(need)
	}
	// The image and the descriptors are bound in place (see raw.go).
	id, n, err := tx.exec(insertImageSQL,
		f.Timestamp, f.Filename, f.Width, f.Height, f.Channels, len(f.Image), f.Image,
		stream, seq, len(f.Keypoints),
		nsOrNull(f.PublishedAt), nsOrNull(f.ExtractedAt), nsOrNull(f.ReceivedAt), time.Now().UnixNano())
	if err != nil {
		return 0, false, wrapErr("store frame: insert image", err)
	}
	if n != 1 {
		// Unreachable with one writer: find ran in this IMMEDIATE transaction.
		return 0, false, fmt.Errorf("db: store frame: insert image: %d rows affected, want 1", n)
	}
	if err = tx.insertKeypoints(id, f.Keypoints); err != nil {
		return 0, false, wrapErr("store frame: insert keypoints", err)
	}
	if _, _, err = tx.exec(insertDescriptorsSQL, id, blob); err != nil {
		return 0, false, wrapErr("store frame: insert descriptors", err)
	}
	if f.keyedBySeed() {
		if _, _, err = tx.exec(insertSeedKeySQL, id, f.Timestamp, f.Filename, f.Width, f.Height, f.Channels, len(f.Image)); err != nil {
			return 0, false, wrapErr("store frame: insert seed key", err)
		}
	}
	if err = tx.Commit(); err != nil {
		return 0, false, wrapErr("store frame: commit", err)
	}
	return id, true, nil
}

// stored returns the id of the row already holding f (by stream and seq,
// or by seed key with KeyBySeed), or 0 when f is new.
func (d *DB) stored(ctx context.Context, tx *rawTx, f *Frame) (id int64, err error) {
	var row *sql.Row
	switch {
	case f.sequenced():
		row = tx.StmtContext(ctx, d.stmts.find).QueryRowContext(ctx, int64(f.StreamID), int64(f.Seq))
	case f.keyedBySeed():
		row = tx.StmtContext(ctx, d.stmts.findSeed).QueryRowContext(ctx,
			f.Timestamp, f.Filename, f.Width, f.Height, f.Channels, len(f.Image))
	default:
		return 0, nil
	}
	switch err = row.Scan(&id); {
	case err == nil:
		return id, nil
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	}
	return 0, wrapErr("store frame: find", err)
}
