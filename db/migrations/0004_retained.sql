-- Frames deleted by retention (Retain), counted per stream in the same
-- transaction that deletes them, so that a frame retained away is not
-- mistaken for one never stored. Frames without stream/seq are not counted.
-- stream_id holds the uint64 wire value as an int64 bit pattern; last_seq is
-- the highest seq deleted.
CREATE TABLE retained (
    stream_id INTEGER PRIMARY KEY,
    frames INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
);
