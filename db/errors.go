package db

import (
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Errors returned (wrapped) by this package. Callers test them with errors.Is
// and never need to import the SQLite driver.
var (
	// ErrNotFound means the requested row does not exist.
	ErrNotFound = errors.New("db: not found")
	// ErrInvalid means Store refused a frame before writing anything.
	ErrInvalid = errors.New("db: invalid frame")
	// ErrFull means the database or the disk holding it is full (SQLITE_FULL),
	// or SetFull is on. Nothing of the failed operation was written; the
	// caller may pause and retry.
	ErrFull = errors.New("db: database or disk is full")
	// ErrBusy means the database stayed locked by another connection for
	// longer than the busy timeout.
	ErrBusy = errors.New("db: database is locked")
	// ErrClosed means the DB was used after Close.
	ErrClosed = errors.New("db: closed")
	// ErrReadOnly means a write was attempted through OpenReadOnly.
	ErrReadOnly = errors.New("db: opened read-only")
	// ErrSchemaTooNew means the file was written by a newer binary: its
	// PRAGMA user_version is above the newest migration this binary knows.
	ErrSchemaTooNew = errors.New("db: schema newer than this binary")
	// ErrSchemaTooOld means OpenReadOnly found a schema that has not been
	// migrated yet; open it read-write once (e.g. run the logger) to migrate.
	ErrSchemaTooOld = errors.New("db: schema not migrated")
)

// wrapErr names the operation and maps driver errors to the sentinels above.
// A nil err stays nil.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if s := mapErr(err); s != nil && !errors.Is(err, s) {
		return fmt.Errorf("db: %s: %w (%v)", op, s, err)
	}
	return fmt.Errorf("db: %s: %w", op, err)
}

// mapErr returns the sentinel matching a driver error, or nil.
func mapErr(err error) error {
	code := -1
	var se *sqlite.Error
	var re *rawError
	switch {
	case errors.As(err, &se):
		code = se.Code()
	case errors.As(err, &re):
		code = re.code
	}
	if code >= 0 {
		switch code & 0xff {
		case sqlite3.SQLITE_FULL:
			return ErrFull
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return ErrBusy
		case sqlite3.SQLITE_READONLY:
			return ErrReadOnly
		}
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "disk is full"): // also "database or disk is full"
		return ErrFull
	case strings.Contains(msg, "sql: database is closed"):
		return ErrClosed
	}
	return nil
}

// invalidf returns an error wrapping ErrInvalid.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("db: store frame: %w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
