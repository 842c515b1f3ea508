-- Our columns beside the seed's. All nullable: a seed-era row, or a frame
-- from a seed peer without the extension trailer, has no stream/seq.
-- stream_id and seq hold the uint64 wire values as int64 bit patterns.
-- Times are nanoseconds since the Unix epoch; NULL means unknown.
ALTER TABLE images ADD COLUMN stream_id INTEGER;
ALTER TABLE images ADD COLUMN seq INTEGER;
ALTER TABLE images ADD COLUMN keypoint_count INTEGER;
ALTER TABLE images ADD COLUMN published_at INTEGER;
ALTER TABLE images ADD COLUMN extracted_at INTEGER;
ALTER TABLE images ADD COLUMN received_at INTEGER;
ALTER TABLE images ADD COLUMN stored_at INTEGER;

-- Seed-era rows: count their keypoints once.
UPDATE images SET keypoint_count =
    (SELECT count(*) FROM keypoints WHERE keypoints.image_id = images.id);

-- A re-delivered frame (same stream, same seq) is a no-op. NULLs are
-- distinct in a UNIQUE index, so trailer-less frames are never deduplicated.
CREATE UNIQUE INDEX idx_images_stream_seq ON images(stream_id, seq);

-- Covering index for Counts and Streams. The columns added above sit after
-- image_data in each row, and SQLite reaches them only by walking the
-- image's overflow pages; this index answers those queries without
-- touching the table.
CREATE INDEX idx_images_stats ON images(stream_id, seq, received_at, keypoint_count);
