package db

import (
	"cmp"
	"context"
	"slices"
	"strconv"
)

// Retain batch bounds: each batch is its own short transaction, so a Store
// waiting for the connection gets it between batches.
const (
	retainBatchFrames = 16
	retainBatchBytes  = 64 << 20
)

// Retain deletes the oldest frames, with their keypoints and descriptors,
// until at most maxFrames frames remain and the data takes at most maxBytes
// (Counts.UsedBytes: pages in use × page size). A limit ≤ 0 is no limit.
// The newest frame is always kept. Deleted pages go to SQLite's freelist and
// are reused by later frames; the file does not shrink. Retain works in
// small transactions and returns how many frames it deleted, also on error.
func (d *DB) Retain(ctx context.Context, maxFrames, maxBytes int64) (deleted int64, err error) {
	if err := d.writable(); err != nil {
		return 0, err
	}
	if maxFrames <= 0 && maxBytes <= 0 {
		return 0, nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		c, err := d.Counts(ctx)
		if err != nil {
			return deleted, err
		}
		n, used := c.Images, c.UsedBytes()
		if n <= 1 {
			return deleted, nil
		}
		k := int64(0)
		if maxFrames > 0 && n > maxFrames {
			k = n - maxFrames
		}
		avg := max(used/n, 1)
		if maxBytes > 0 && used > maxBytes {
			k = max(k, (used-maxBytes+avg-1)/avg)
		}
		if k == 0 {
			return deleted, nil
		}
		k = min(k, n-1, retainBatchFrames, max(retainBatchBytes/avg, 1))
		if err := d.deleteOldest(ctx, k); err != nil {
			return deleted, err
		}
		deleted += k
	}
}

// retainCountSQL adds the frames about to be deleted to their streams'
// retained counts, in the deleting transaction: a frame is either stored or
// counted as retained away, never neither. (WHERE keeps SQLite's parser from
// reading ON CONFLICT as a join constraint.)
const retainCountSQL = `INSERT INTO retained (stream_id, frames, last_seq)
	SELECT stream_id, count(DISTINCT seq), max(seq) FROM images
	WHERE id <= ? AND stream_id IS NOT NULL AND seq IS NOT NULL GROUP BY stream_id
	ON CONFLICT (stream_id) DO UPDATE SET frames = frames + excluded.frames,
		last_seq = max(last_seq, excluded.last_seq)`

// RetainedStream is what retention deleted from one stream.
type RetainedStream struct {
	StreamID uint64
	Frames   int64  // distinct seqs deleted
	LastSeq  uint64 // highest seq deleted
}

// Retained returns, per stream, the frames Retain deleted over the
// database's life, ordered by stream id. A stream retention never touched
// is not listed.
func (d *DB) Retained(ctx context.Context) ([]RetainedStream, error) {
	if err := d.usable(); err != nil {
		return nil, err
	}
	rows, err := d.sql.QueryContext(ctx, "SELECT stream_id, frames, last_seq FROM retained")
	if err != nil {
		return nil, wrapErr("retained", err)
	}
	defer rows.Close()
	var out []RetainedStream
	for rows.Next() {
		var id, last int64
		var r RetainedStream
		if err := rows.Scan(&id, &r.Frames, &last); err != nil {
			return nil, wrapErr("retained", err)
		}
		r.StreamID, r.LastSeq = uint64(id), uint64(last)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("retained", err)
	}
	slices.SortFunc(out, func(a, b RetainedStream) int { return cmp.Compare(a.StreamID, b.StreamID) })
	return out, nil
}

// deleteOldest deletes the k oldest frames in one transaction. Children are
// deleted explicitly (not only by ON DELETE CASCADE) so a connection without
// foreign keys, e.g. a seed tool, leaves no orphans behind either.
func (d *DB) deleteOldest(ctx context.Context, k int64) (err error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr("retain: begin", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var cut int64
	if err := tx.QueryRowContext(ctx, "SELECT id FROM images ORDER BY id LIMIT 1 OFFSET ?", k-1).Scan(&cut); err != nil {
		return wrapErr("retain: find oldest", err)
	}
	for _, q := range []string{
		retainCountSQL,
		retainSeqsSQL,
		"DELETE FROM keypoints WHERE image_id <= ?",
		"DELETE FROM descriptors WHERE image_id <= ?",
		"DELETE FROM seed_keys WHERE image_id <= ?",
		"DELETE FROM images WHERE id <= ?",
	} {
		if _, err := tx.ExecContext(ctx, q, cut); err != nil {
			return wrapErr("retain: delete", err)
		}
	}
	if _, err := tx.ExecContext(ctx, pruneSeqsSQL, retainedSeqsKept); err != nil {
		return wrapErr("retain: prune", err)
	}
	return wrapErr("retain: commit", tx.Commit())
}

// retainSeqsSQL records the (stream, seq) of the frames about to be deleted
// (migration 5): Store then knows a later copy of one as stored once.
const retainSeqsSQL = `INSERT OR IGNORE INTO retained_seqs (stream_id, seq)
	SELECT stream_id, seq FROM images WHERE id <= ? AND stream_id IS NOT NULL AND seq IS NOT NULL`

// retainedSeqsKept is how many of the frames retention deleted last
// retained_seqs keeps, over all streams. A copy of a stored frame arrives
// only while its generator still holds it unacknowledged: within 16 resend
// timeouts of at most 2 minutes each, by when retention has deleted far
// fewer frames than this, even at 50 a second.
const retainedSeqsKept = 100_000

// pruneSeqsSQL drops all but the retainedSeqsKept newest retained seqs.
const pruneSeqsSQL = `DELETE FROM retained_seqs WHERE id <= (SELECT max(id) FROM retained_seqs) - ?1`

// SetFull simulates a full disk. With on, the database may not grow beyond
// its current page count (PRAGMA max_page_count): a Store that needs new
// pages fails with ErrFull, one that fits in freed pages still succeeds.
// With off, the limit is restored to what it was at Open. The setting
// belongs to the writer's connection and ends with Close.
func (d *DB) SetFull(ctx context.Context, on bool) error {
	if err := d.writable(); err != nil {
		return err
	}
	limit := d.defaultMaxPages
	if on {
		if err := d.sql.QueryRowContext(ctx, "PRAGMA page_count").Scan(&limit); err != nil {
			return wrapErr("set full", err)
		}
	}
	// PRAGMA takes no parameters; limit is an integer.
	var got int64
	if err := d.sql.QueryRowContext(ctx, "PRAGMA max_page_count = "+strconv.FormatInt(limit, 10)).Scan(&got); err != nil {
		return wrapErr("set full", err)
	}
	d.full.Store(on)
	return nil
}

// Full reports whether SetFull is on.
func (d *DB) Full() bool { return d.full.Load() }
