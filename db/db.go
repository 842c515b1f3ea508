package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// BusyTimeout is how long a connection waits for another connection's lock
// before failing with ErrBusy.
const BusyTimeout = 5 * time.Second

// journalSizeLimit truncates the -wal file back to this size after a
// checkpoint, so a burst of large frames does not pin disk space.
const journalSizeLimit = 64 << 20

// pageSize is used for a new database file only (an existing file keeps its
// own). Larger pages mean shorter overflow chains for image BLOBs and fewer
// writes to the WAL: against 16384 (itself 10–25 % faster than 4096 on
// 30 MB frames), 65536 stored a 300 KB frame with 5,000 keypoints in 24 ms
// instead of 40, and a 30 MB one in 243 ms instead of 287 (BenchmarkStore).
// A bigger page cache, by contrast, made both slower.
var pageSize = 65536

// DB is an open database: a writer (Open) or a reader (OpenReadOnly).
// It is safe for concurrent use by multiple goroutines.
type DB struct {
	sql      *sql.DB
	path     string // as given to Open, for messages
	abs      string // absolute, for file sizes
	readOnly bool
	closed   atomic.Bool
	full     atomic.Bool

	defaultMaxPages int64 // PRAGMA max_page_count at open; SetFull(false) restores it
	stmts           *stmts
	reserved        atomic.Int64 // largest image + descriptors reserveRecords was run for
}

// Open opens (creating if needed) the database at path for reading and
// writing and migrates it to SchemaVersion. The file is put in WAL mode with
// synchronous=NORMAL and a busy timeout of BusyTimeout; the connection does
// not enforce foreign keys (see writerParams), it keeps them.
// All access goes through one connection, so the writer's statements, its
// transactions and SetFull's page limit all apply to the same SQLite
// connection. Open refuses a file whose schema is newer than SchemaVersion
// (ErrSchemaTooNew).
func Open(ctx context.Context, path string) (*DB, error) {
	dsn, abs, err := dsnFor(path, writerParams())
	if err != nil {
		return nil, err
	}
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("db: open %s: %w", path, err)
	}
	sdb.SetMaxOpenConns(1)
	sdb.SetMaxIdleConns(1)
	sdb.SetConnMaxLifetime(0)
	sdb.SetConnMaxIdleTime(0)
	d := &DB{sql: sdb, path: path, abs: abs}
	if err := d.openWriter(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return d, nil
}

func (d *DB) openWriter(ctx context.Context) error {
	var mode string
	if err := d.sql.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return wrapErr("open "+d.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("db: open %s: journal_mode is %q, want wal (is the file system local?)", d.path, mode)
	}
	if err := migrate(ctx, d.sql, d.path); err != nil {
		return err
	}
	if err := d.sql.QueryRowContext(ctx, "PRAGMA max_page_count").Scan(&d.defaultMaxPages); err != nil {
		return wrapErr("open "+d.path, err)
	}
	st, err := prepare(ctx, d.sql)
	if err != nil {
		return err
	}
	d.stmts = st
	return nil
}

// OpenReadOnly opens an existing database for reading only; it never writes
// to the file and never migrates. It works while a writer (Open, in this or
// another process) is storing frames: in WAL mode readers and the writer do
// not block each other. A missing file is an error satisfying
// errors.Is(err, fs.ErrNotExist); a file whose schema is older or newer than
// SchemaVersion yields ErrSchemaTooOld or ErrSchemaTooNew.
func OpenReadOnly(ctx context.Context, path string) (*DB, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("db: open read-only: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("db: open read-only: %s is not a regular file", path)
	}
	dsn, abs, err := dsnFor(path, readerParams())
	if err != nil {
		return nil, err
	}
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("db: open %s read-only: %w", path, err)
	}
	sdb.SetMaxOpenConns(4)
	sdb.SetMaxIdleConns(2)
	d := &DB{sql: sdb, path: path, abs: abs, readOnly: true}
	v, err := userVersion(ctx, sdb)
	switch {
	case err != nil:
		err = wrapErr("open "+path+" read-only", err)
	case v > SchemaVersion:
		err = tooNew(path, v)
	case v < SchemaVersion:
		err = fmt.Errorf("db: %s has schema version %d, want %d; open it read-write once (e.g. run the logger) to migrate: %w",
			path, v, SchemaVersion, ErrSchemaTooOld)
	}
	if err != nil {
		sdb.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the database. Further calls return ErrClosed. Closing the
// last connection to a file checkpoints its WAL.
func (d *DB) Close() error {
	if d.closed.Swap(true) {
		return ErrClosed
	}
	var errs []error
	if d.stmts != nil {
		errs = append(errs, d.stmts.close())
	}
	errs = append(errs, d.sql.Close())
	return wrapErr("close "+d.path, errors.Join(errs...))
}

// Path returns the file name the DB was opened with.
func (d *DB) Path() string { return d.path }

// ReadOnly reports whether d was opened with OpenReadOnly.
func (d *DB) ReadOnly() bool { return d.readOnly }

// usable returns ErrClosed after Close.
func (d *DB) usable() error {
	if d.closed.Load() {
		return ErrClosed
	}
	return nil
}

// writable returns ErrClosed or ErrReadOnly when d cannot write.
func (d *DB) writable() error {
	if err := d.usable(); err != nil {
		return err
	}
	if d.readOnly {
		return ErrReadOnly
	}
	return nil
}

// writerParams are the DSN parameters of the read-write connection.
// journal_mode uses the driver's shorthand because the driver applies it
// after the _pragma list: page_size must come first to take effect on a
// new file. _txlock=immediate makes every write transaction take the write
// lock at BEGIN (waiting up to the busy timeout), so it never fails halfway
// on a lock upgrade.
//
// foreign_keys stays off (SQLite's default): enforcing them costs a lookup
// in images for every keypoint row, 13 % of storing a 2000×1500 frame
// (BenchmarkStoreBPS 32.7 → 28.6 ms), and this writer keeps them by
// construction — a frame's keypoints and descriptors go in with its image
// row, in one transaction, and Retain deletes children before parents.
// IntegrityCheck still runs SQLite's foreign-key check.
func writerParams() []string {
	return []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", BusyTimeout.Milliseconds()),
		fmt.Sprintf("_pragma=page_size(%d)", pageSize),
		"_pragma=synchronous(NORMAL)",
		fmt.Sprintf("_pragma=journal_size_limit(%d)", journalSizeLimit),
		"_journal_mode=WAL",
		"_txlock=immediate",
	}
}

// readerParams are the DSN parameters of read-only connections.
func readerParams() []string {
	return []string{
		"mode=ro",
		fmt.Sprintf("_pragma=busy_timeout(%d)", BusyTimeout.Milliseconds()),
		"_query_only=1",
	}
}

// dsnFor builds a SQLite URI filename for path and returns it with the
// absolute path. The path is made absolute (so it cannot be read as a URI
// authority) and the characters that URIs reserve are escaped.
func dsnFor(path string, params []string) (dsn, abs string, err error) {
	if path == "" {
		return "", "", errors.New("db: empty database path")
	}
	abs, err = filepath.Abs(path)
	if err != nil {
		return "", "", fmt.Errorf("db: open %s: %w", path, err)
	}
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs))
	return "file:" + esc + "?" + strings.Join(params, "&"), abs, nil
}
