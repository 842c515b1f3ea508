package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The frame's two big values, the image and the descriptor BLOB, are
// inserted on the raw SQLite connection instead of through database/sql.
// The driver copies every bound BLOB into C memory, and SQLite copies it
// again into the row's record: two buffers of the same size class a
// frame, of which the C allocator (modernc.org/memory) keeps only one
// mapped, so the second was faulted in afresh, a page at a time, on every
// frame — a third of the logger's CPU on 2000×1500 frames. Bound in place
// (SQLITE_STATIC on pinned Go memory) there is one buffer, reused.

// rawConn is the SQLite handle behind a database/sql connection of the
// modernc.org/sqlite driver. It is only valid inside sql.Conn.Raw.
type rawConn struct {
	tls *libc.TLS
	db  uintptr // *sqlite3
}

// errRawUnsupported means the driver's connection does not look as this
// package expects (a driver version it was not built against).
var errRawUnsupported = errors.New("db: the SQLite driver's connection has no handle this package can use")

// rawConnOf digs the handle out of the driver's connection. The driver
// does not export it; the fields are read by reflection, and a driver
// whose connection has changed shape yields errRawUnsupported (tested).
func rawConnOf(driverConn any) (rawConn, error) {
	v := reflect.ValueOf(driverConn)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return rawConn{}, fmt.Errorf("%w (%T)", errRawUnsupported, driverConn)
	}
	db, tls := v.Elem().FieldByName("db"), v.Elem().FieldByName("tls")
	if !db.IsValid() || db.Kind() != reflect.Uintptr || !tls.IsValid() || tls.Type() != reflect.TypeFor[*libc.TLS]() {
		return rawConn{}, fmt.Errorf("%w (%T)", errRawUnsupported, driverConn)
	}
	c := rawConn{db: uintptr(db.Uint()), tls: (*libc.TLS)(tls.UnsafePointer())}
	if c.db == 0 || c.tls == nil {
		return rawConn{}, fmt.Errorf("%w (closed)", errRawUnsupported)
	}
	return c, nil
}

// withRaw runs f with the raw handle of conn.
func withRaw(conn *sql.Conn, f func(rawConn) error) error {
	return conn.Raw(func(dc any) error {
		c, err := rawConnOf(dc)
		if err != nil {
			return err
		}
		return f(c)
	})
}

// rawError is a failed SQLite call on a rawConn.
type rawError struct {
	code int // extended result code
	msg  string
}

func (e *rawError) Error() string { return fmt.Sprintf("%s (%d)", e.msg, e.code) }

func (c rawConn) err(rc int32) error {
	return &rawError{code: int(sqlite3.Xsqlite3_extended_errcode(c.tls, c.db)),
		msg: libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db))}
}

// exec prepares query, binds args (int64, int, string, []byte or nil) and
// runs it to completion. Strings and byte slices are bound where they lie,
// pinned for the statement's life, and never copied. It returns the
// connection's last insert rowid and the rows changed.
func (c rawConn) exec(query string, args ...any) (rowid int64, changes int, err error) {
	zSQL, err := libc.CString(query)
	if err != nil {
		return 0, 0, err
	}
	defer libc.Xfree(c.tls, zSQL)
	var pins runtime.Pinner
	defer pins.Unpin() // after finalize (deferred below): SQLite reads bound values until then
	stmt := new(uintptr) // where SQLite writes the statement: pinned, so it cannot move meanwhile
	pins.Pin(stmt)
	if rc := sqlite3.Xsqlite3_prepare_v2(c.tls, c.db, zSQL, -1, uintptr(unsafe.Pointer(stmt)), 0); rc != sqlite3.SQLITE_OK {
		return 0, 0, c.err(rc)
	}
	defer sqlite3.Xsqlite3_finalize(c.tls, *stmt)
	if n := int(sqlite3.Xsqlite3_bind_parameter_count(c.tls, *stmt)); n != len(args) {
		return 0, 0, fmt.Errorf("db: %d arguments for %d parameters", len(args), n)
	}
	const static = 0 // SQLITE_STATIC: SQLite reads the value where it is
	for i, a := range args {
		at := int32(i + 1)
		var rc int32
		switch v := a.(type) {
		case nil:
			rc = sqlite3.Xsqlite3_bind_null(c.tls, *stmt, at)
		case int64:
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, *stmt, at, v)
		case int:
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, *stmt, at, int64(v))
		case string:
			rc = sqlite3.Xsqlite3_bind_text(c.tls, *stmt, at, pinned(&pins, unsafe.StringData(v), len(v)), int32(len(v)), static)
		case []byte:
			rc = sqlite3.Xsqlite3_bind_blob(c.tls, *stmt, at, pinned(&pins, unsafe.SliceData(v), len(v)), int32(len(v)), static)
		default:
			return 0, 0, fmt.Errorf("db: cannot bind %T", a)
		}
		if rc != sqlite3.SQLITE_OK {
			return 0, 0, c.err(rc)
		}
	}
	if rc := sqlite3.Xsqlite3_step(c.tls, *stmt); rc != sqlite3.SQLITE_DONE {
		return 0, 0, c.err(rc)
	}
	return sqlite3.Xsqlite3_last_insert_rowid(c.tls, c.db), int(sqlite3.Xsqlite3_changes(c.tls, c.db)), nil
}

// pinned pins the n bytes at p and returns their address. Empty values
// get the address of a static byte: SQLite binds a NULL pointer as NULL,
// and the columns are NOT NULL ('' and x'' are values).
func pinned(pins *runtime.Pinner, p *byte, n int) uintptr {
	if n == 0 || p == nil {
		return uintptr(unsafe.Pointer(&emptyValue))
	}
	if n > maxBind {
		panic("db: bound value too long") // validate keeps values far below
	}
	pins.Pin(p)
	return uintptr(unsafe.Pointer(p))
}

// emptyValue is where an empty string or BLOB is bound.
var emptyValue byte

// maxBind is the longest value SQLite's int lengths can bind.
const maxBind = 1<<31 - 1

// rawTx is a database/sql transaction on a connection whose raw handle it
// can also use.
type rawTx struct {
	conn *sql.Conn
	*sql.Tx
}

// beginRaw takes the writer's connection and begins a transaction on it.
func (d *DB) beginRaw(ctx context.Context) (*rawTx, error) {
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &rawTx{conn: conn, Tx: tx}, nil
}

// exec runs query on the transaction's raw connection (see rawConn.exec).
func (t *rawTx) exec(query string, args ...any) (rowid int64, changes int, err error) {
	err = withRaw(t.conn, func(c rawConn) error {
		rowid, changes, err = c.exec(query, args...)
		return err
	})
	return rowid, changes, err
}

// Commit commits and gives the connection back.
func (t *rawTx) Commit() error {
	err := t.Tx.Commit()
	return errors.Join(err, t.conn.Close())
}

// Rollback rolls back and gives the connection back.
func (t *rawTx) Rollback() error {
	err := t.Tx.Rollback()
	return errors.Join(err, t.conn.Close())
}
