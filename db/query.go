package db

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"slices"
	"time"
)

// Counts is a snapshot of the database's size.
type Counts struct {
	Images      int64 // rows in images
	Keypoints   int64 // keypoint rows: the sum of images.keypoint_count, which Store keeps equal
	Descriptors int64 // rows in descriptors (one per frame)

	PageSize  int64 // bytes per page
	PageCount int64 // pages in the database, including the WAL's newer versions
	FreePages int64 // pages on the freelist, reused before the file grows

	FileBytes int64 // database file plus its -wal file on disk
	DiskFree  int64 // bytes available on the file system holding the database; -1 if unknown
}

// UsedBytes is the space the data needs: (PageCount-FreePages)×PageSize.
// Retain's maxBytes bounds this figure.
func (c Counts) UsedBytes() int64 { return (c.PageCount - c.FreePages) * c.PageSize }

// One statement, so one consistent snapshot. The images aggregates are
// answered from idx_images_stats without reading the rows.
const countsSQL = `SELECT
	(SELECT count(*) FROM images),
	(SELECT coalesce(sum(keypoint_count), 0) FROM images),
	(SELECT count(*) FROM descriptors),
	(SELECT page_size FROM pragma_page_size()),
	(SELECT page_count FROM pragma_page_count()),
	(SELECT freelist_count FROM pragma_freelist_count())`

// Counts returns row counts and sizes. It is cheap enough to poll a few
// times a second: it reads indices, not rows.
func (d *DB) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	if err := d.usable(); err != nil {
		return c, err
	}
	err := d.sql.QueryRowContext(ctx, countsSQL).Scan(
		&c.Images, &c.Keypoints, &c.Descriptors, &c.PageSize, &c.PageCount, &c.FreePages)
	if err != nil {
		return Counts{}, wrapErr("counts", err)
	}
	for _, name := range []string{d.abs, d.abs + "-wal"} {
		if fi, err := os.Stat(name); err == nil {
			c.FileBytes += fi.Size()
		}
	}
	c.DiskFree = diskFree(d.abs)
	return c, nil
}

// StreamStats describes the frames stored from one stream.
type StreamStats struct {
	StreamID        uint64
	Frames          int64     // rows
	FirstSeq        uint64    // lowest seq stored
	LastSeq         uint64    // highest seq stored
	Missing         int64     // seqs between FirstSeq and LastSeq not stored
	Duplicates      int64     // rows beyond one per seq (0 while the unique index holds)
	FirstAt, LastAt time.Time // earliest and latest received time; zero if unknown
}

const streamsSQL = `SELECT stream_id, count(*), min(seq), max(seq), count(DISTINCT seq),
	min(received_at), max(received_at)
	FROM images WHERE stream_id IS NOT NULL GROUP BY stream_id`

// Streams returns per-stream statistics, ordered by stream id. Frames
// without stream/seq (from seed peers) are not included.
func (d *DB) Streams(ctx context.Context) ([]StreamStats, error) {
	if err := d.usable(); err != nil {
		return nil, err
	}
	rows, err := d.sql.QueryContext(ctx, streamsSQL)
	if err != nil {
		return nil, wrapErr("streams", err)
	}
	defer rows.Close()
	var out []StreamStats
	for rows.Next() {
		var (
			s               StreamStats
			id, first, last int64
			distinct        int64
			firstAt, lastAt sql.NullInt64
		)
		if err := rows.Scan(&id, &s.Frames, &first, &last, &distinct, &firstAt, &lastAt); err != nil {
			return nil, wrapErr("streams", err)
		}
		s.StreamID, s.FirstSeq, s.LastSeq = uint64(id), uint64(first), uint64(last)
		s.Missing = last - first + 1 - distinct
		s.Duplicates = s.Frames - distinct
		s.FirstAt, s.LastAt = nullTime(firstAt), nullTime(lastAt)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("streams", err)
	}
	slices.SortFunc(out, func(a, b StreamStats) int {
		switch {
		case a.StreamID < b.StreamID:
			return -1
		case a.StreamID > b.StreamID:
			return 1
		}
		return 0
	})
	return out, nil
}

// LatestImageID returns the id of the newest frame, or ErrNotFound when the
// database holds none.
func (d *DB) LatestImageID(ctx context.Context) (int64, error) {
	if err := d.usable(); err != nil {
		return 0, err
	}
	var id sql.NullInt64
	if err := d.sql.QueryRowContext(ctx, "SELECT max(id) FROM images").Scan(&id); err != nil {
		return 0, wrapErr("latest image", err)
	}
	if !id.Valid {
		return 0, wrapErr("latest image", ErrNotFound)
	}
	return id.Int64, nil
}

// Image returns frame id with its image bytes, keypoints (in stored order)
// and descriptors, read in one snapshot. ErrNotFound if there is no such
// frame.
func (d *DB) Image(ctx context.Context, id int64) (*Frame, error) {
	if err := d.usable(); err != nil {
		return nil, err
	}
	tx, err := d.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // a deferred BEGIN
	if err != nil {
		return nil, wrapErr("read image", err)
	}
	defer tx.Rollback()

	var (
		f  Frame
		sc rowScan
	)
	err = tx.QueryRowContext(ctx, `SELECT `+imageRowCols+`, image_data FROM images WHERE id = ?`, id).
		Scan(append(sc.args(), &f.Image)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrapErr("read image", ErrNotFound)
	}
	if err != nil {
		return nil, wrapErr("read image", err)
	}
	r := sc.row()
	f.ID, f.StreamID, f.Seq, f.Timestamp = r.ID, r.StreamID, r.Seq, r.Timestamp
	f.Filename, f.Width, f.Height, f.Channels = r.Filename, r.Width, r.Height, r.Channels
	f.PublishedAt, f.ExtractedAt, f.ReceivedAt, f.StoredAt = r.PublishedAt, r.ExtractedAt, r.ReceivedAt, r.StoredAt

	if r.KeypointCount > 0 {
		f.Keypoints = make([]Keypoint, 0, r.KeypointCount)
	}
	if err := eachKeypoint(ctx, tx, id, 0, -1, func(_ int64, k Keypoint) error {
		f.Keypoints = append(f.Keypoints, k)
		return nil
	}); err != nil {
		return nil, err
	}

	rows, err := tx.QueryContext(ctx, "SELECT descriptor_data FROM descriptors WHERE image_id = ? ORDER BY id", id)
	if err != nil {
		return nil, wrapErr("read descriptors", err)
	}
	defer rows.Close()
	if n := len(f.Keypoints); n > 0 {
		f.Descriptors = make([]float32, 0, DescriptorSize*n)
	}
	for rows.Next() {
		var b sql.RawBytes
		if err := rows.Scan(&b); err != nil {
			return nil, wrapErr("read descriptors", err)
		}
		f.Descriptors = appendDescriptors(f.Descriptors, b)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("read descriptors", err)
	}
	return &f, nil
}

// ImageRow is one images row without keypoints and descriptors, as
// EachImage yields it.
type ImageRow struct {
	ID            int64
	StreamID, Seq uint64 // both 0 for frames without stream/seq
	Timestamp     int64  // wire timestamp, ns since the Unix epoch
	Filename      string
	Width, Height int
	Channels      int
	DataSize      int64 // bytes of image data
	KeypointCount int
	PublishedAt   time.Time
	ExtractedAt   time.Time
	ReceivedAt    time.Time
	StoredAt      time.Time
	Image         []byte // only with EachImage(..., withBlobs=true, ...)
}

const imageRowCols = `id, stream_id, seq, timestamp, filename, width, height, channels, data_size,
	keypoint_count, published_at, extracted_at, received_at, stored_at`

// rowScan receives the nullable columns of imageRowCols.
type rowScan struct {
	r                      ImageRow
	stream, seq, kp        sql.NullInt64
	pub, ext, recv, stored sql.NullInt64
}

func (s *rowScan) args() []any {
	r := &s.r
	return []any{&r.ID, &s.stream, &s.seq, &r.Timestamp, &r.Filename, &r.Width, &r.Height, &r.Channels,
		&r.DataSize, &s.kp, &s.pub, &s.ext, &s.recv, &s.stored}
}

func (s *rowScan) row() ImageRow {
	r := s.r
	r.StreamID, r.Seq = uint64(s.stream.Int64), uint64(s.seq.Int64)
	r.KeypointCount = int(s.kp.Int64)
	r.PublishedAt, r.ExtractedAt = nullTime(s.pub), nullTime(s.ext)
	r.ReceivedAt, r.StoredAt = nullTime(s.recv), nullTime(s.stored)
	return r
}

func nullTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64)
}

// eachPage is how many rows EachImage and EachKeypoint read per query.
const (
	imagePage    = 64
	keypointPage = 1024
)

// EachImage calls fn for every frame in id order (oldest first), in constant
// memory: rows are read a page at a time and, with withBlobs, one image at a
// time. No statement or transaction is open while fn runs, so fn may call
// other methods of d (EachKeypoint, Image) and may take its time. Frames
// stored or deleted during the walk may or may not be seen. An error from fn
// stops the walk and is returned as is.
func (d *DB) EachImage(ctx context.Context, withBlobs bool, fn func(*ImageRow) error) error {
	if err := d.usable(); err != nil {
		return err
	}
	after := int64(0)
	for {
		page, err := d.imagePage(ctx, after)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		for i := range page {
			r := &page[i]
			after = r.ID
			if withBlobs {
				err := d.sql.QueryRowContext(ctx, "SELECT image_data FROM images WHERE id = ?", r.ID).Scan(&r.Image)
				if errors.Is(err, sql.ErrNoRows) {
					continue // deleted (Retain) since the page was read
				}
				if err != nil {
					return wrapErr("each image", err)
				}
			}
			if err := fn(r); err != nil {
				return err
			}
			r.Image = nil
		}
	}
}

func (d *DB) imagePage(ctx context.Context, after int64) ([]ImageRow, error) {
	rows, err := d.sql.QueryContext(ctx,
		`SELECT `+imageRowCols+` FROM images WHERE id > ? ORDER BY id LIMIT ?`, after, imagePage)
	if err != nil {
		return nil, wrapErr("each image", err)
	}
	defer rows.Close()
	var page []ImageRow
	for rows.Next() {
		var sc rowScan
		if err := rows.Scan(sc.args()...); err != nil {
			return nil, wrapErr("each image", err)
		}
		page = append(page, sc.row())
	}
	return page, wrapErr("each image", rows.Err())
}

// EachKeypoint calls fn for every keypoint of frame imageID in stored order
// (index i counts from 0), reading a page of rows at a time. As with
// EachImage, nothing is held open while fn runs. ErrNotFound if there is no
// such frame.
func (d *DB) EachKeypoint(ctx context.Context, imageID int64, fn func(i int, k Keypoint) error) error {
	if err := d.usable(); err != nil {
		return err
	}
	var one int
	err := d.sql.QueryRowContext(ctx, "SELECT 1 FROM images WHERE id = ?", imageID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return wrapErr("each keypoint", ErrNotFound)
	}
	if err != nil {
		return wrapErr("each keypoint", err)
	}
	i := 0
	after := int64(0)
	for {
		var page []Keypoint
		last := after
		err := eachKeypoint(ctx, d.sql, imageID, after, keypointPage, func(id int64, k Keypoint) error {
			page = append(page, k)
			last = id
			return nil
		})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		for _, k := range page {
			if err := fn(i, k); err != nil {
				return err
			}
			i++
		}
		after = last
	}
}

type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// eachKeypoint reads up to limit (-1: all) keypoints of imageID with row id
// above after, in id order.
func eachKeypoint(ctx context.Context, q querier, imageID, after int64, limit int, fn func(int64, Keypoint) error) error {
	rows, err := q.QueryContext(ctx, `SELECT id, x, y, size, angle, response, octave FROM keypoints
		WHERE image_id = ? AND id > ? ORDER BY id LIMIT ?`, imageID, after, limit)
	if err != nil {
		return wrapErr("read keypoints", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id               int64
			x, y, s, a, resp float64
			octave           int64
		)
		if err := rows.Scan(&id, &x, &y, &s, &a, &resp, &octave); err != nil {
			return wrapErr("read keypoints", err)
		}
		k := Keypoint{X: float32(x), Y: float32(y), Size: float32(s), Angle: float32(a), Response: float32(resp), Octave: int32(octave)}
		if err := fn(id, k); err != nil {
			return err
		}
	}
	return wrapErr("read keypoints", rows.Err())
}
