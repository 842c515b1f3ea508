package db

import "context"

// Gap is a run of sequence numbers missing from a stream: From through To,
// inclusive, between two stored frames.
type Gap struct {
	From, To uint64
}

// Len returns how many sequence numbers the gap spans.
func (g Gap) Len() uint64 { return g.To - g.From + 1 }

// gapsSQL pairs each stored seq with the one before it in the stream; a
// difference above one is a gap. It reads idx_images_stats only.
const gapsSQL = `SELECT prev + 1, seq - 1 FROM (
	SELECT seq, lag(seq) OVER (ORDER BY seq) AS prev FROM images
	WHERE stream_id = ? AND seq IS NOT NULL)
	WHERE seq > prev + 1 ORDER BY seq LIMIT ?`

// Gaps returns the first limit gaps of stream streamID in seq order: the
// runs of sequence numbers between its FirstSeq and LastSeq (see Streams)
// that are not stored. A limit ≤ 0 returns all of them. It reads an index,
// not the rows, but still visits every frame of the stream.
func (d *DB) Gaps(ctx context.Context, streamID uint64, limit int) ([]Gap, error) {
	if err := d.usable(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = -1
	}
	rows, err := d.sql.QueryContext(ctx, gapsSQL, int64(streamID), limit)
	if err != nil {
		return nil, wrapErr("gaps", err)
	}
	defer rows.Close()
	var out []Gap
	for rows.Next() {
		var from, to int64
		if err := rows.Scan(&from, &to); err != nil {
			return nil, wrapErr("gaps", err)
		}
		out = append(out, Gap{From: uint64(from), To: uint64(to)})
	}
	return out, wrapErr("gaps", rows.Err())
}
