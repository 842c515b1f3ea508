package db

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Checkpoint copies every frame of the write-ahead log into the database
// file and truncates the log to zero bytes (PRAGMA wal_checkpoint(TRUNCATE)).
//
// SQLite checkpoints by itself only once the log holds 1,000 pages — 64 MiB
// at our page size — and never shrinks it below journalSizeLimit, so on a
// small file system the log alone can fill the disk; and space freed there
// lets in only what fits beside a log that keeps its size. A writer short
// of space calls Checkpoint while the copy still fits.
//
// It needs room in the file system for the pages it copies (an error
// wrapping ErrFull otherwise) and waits up to BusyTimeout for readers to
// leave the log (ErrBusy if one stays).
func (d *DB) Checkpoint(ctx context.Context) error {
	if err := d.writable(); err != nil {
		return err
	}
	var busy, logPages, done int64
	err := d.sql.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done)
	if err != nil {
		return wrapErr("checkpoint "+d.path, err)
	}
	if busy != 0 {
		return fmt.Errorf("db: checkpoint %s: %w (a reader holds the log; %d of %d pages copied)", d.path, ErrBusy, done, logPages)
	}
	return nil
}

// Space returns the bytes free on the file system holding the database
// (-1 if unknown) and the size of its write-ahead log file.
func (d *DB) Space() (free, wal int64) {
	if fi, err := os.Stat(d.abs + "-wal"); err == nil {
		wal = fi.Size()
	}
	return diskFree(d.abs), wal
}

// Dir returns the folder holding the database file, absolute.
func (d *DB) Dir() string { return filepath.Dir(d.abs) }
