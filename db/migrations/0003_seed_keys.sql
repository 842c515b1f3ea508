-- Frames that lost our trailer on the way (a seed stage passed them on)
-- have no stream/seq to be deduplicated by. Such a frame is known by the
-- seed fields every stage keeps: its timestamp, filename and sizes. This
-- table holds that key for the images rows the logger stored that way, so
-- that a second copy (a resend through a seed extractor) is recognised and
-- not stored again. Rows stored without the key (a seed logger's, or
-- Store's callers that did not ask for it) are not deduplicated.
CREATE TABLE seed_keys (
    image_id INTEGER PRIMARY KEY,         -- images.id
    timestamp INTEGER NOT NULL,           -- images.timestamp
    filename TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    channels INTEGER NOT NULL,
    data_size INTEGER NOT NULL,
    FOREIGN KEY (image_id) REFERENCES images(id) ON DELETE CASCADE,
    UNIQUE (timestamp, filename, width, height, channels, data_size)
);

-- Trailer-less rows already stored: the first copy of each takes the key,
-- so that a copy arriving after the upgrade is recognised too. Copies
-- stored before stay as they are.
INSERT OR IGNORE INTO seed_keys (image_id, timestamp, filename, width, height, channels, data_size)
    SELECT id, timestamp, filename, width, height, channels, data_size
    FROM images WHERE stream_id IS NULL ORDER BY id;
