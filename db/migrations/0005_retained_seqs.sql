-- The (stream, seq) of each frame retention deleted, so that a copy of it
-- arriving later (a resend whose first copy's acknowledgement was lost) is
-- recognised as stored once, acknowledged and not stored again: stored
-- again, it would count both as stored and as retained away. Only the
-- newest rows are kept (Retain prunes by id): a resend comes within
-- minutes, never a stream's lifetime later.
CREATE TABLE retained_seqs (
    id INTEGER PRIMARY KEY,
    stream_id INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE UNIQUE INDEX idx_retained_seqs ON retained_seqs(stream_id, seq);
