package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/bits"
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
// frame, a large share of the logger's CPU. Bound in place (SQLITE_STATIC
// on pinned Go memory) there is one buffer, reused. docs/PERFORMANCE.md has
// the measurements.

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
	stmt, err := c.prepare(query)
	if err != nil {
		return 0, 0, err
	}
	vals := boundValues{tls: c.tls}
	defer vals.free()                            // runs second: SQLite reads bound values until finalized
	defer sqlite3.Xsqlite3_finalize(c.tls, stmt) // runs first
	if n := int(sqlite3.Xsqlite3_bind_parameter_count(c.tls, stmt)); n != len(args) {
		return 0, 0, fmt.Errorf("db: %d arguments for %d parameters", len(args), n)
	}
	const static = 0 // SQLITE_STATIC: SQLite reads the value where it is
	for i, a := range args {
		at := int32(i + 1)
		var rc int32
		switch v := a.(type) {
		case nil:
			rc = sqlite3.Xsqlite3_bind_null(c.tls, stmt, at)
		case int64:
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, stmt, at, v)
		case int:
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, stmt, at, int64(v))
		case string:
			p, err := vals.place(unsafe.StringData(v), len(v))
			if err != nil {
				return 0, 0, err
			}
			rc = sqlite3.Xsqlite3_bind_text(c.tls, stmt, at, p, int32(len(v)), static)
		case []byte:
			p, err := vals.place(unsafe.SliceData(v), len(v))
			if err != nil {
				return 0, 0, err
			}
			rc = sqlite3.Xsqlite3_bind_blob(c.tls, stmt, at, p, int32(len(v)), static)
		default:
			return 0, 0, fmt.Errorf("db: cannot bind %T", a)
		}
		if rc != sqlite3.SQLITE_OK {
			return 0, 0, c.err(rc)
		}
	}
	if rc := sqlite3.Xsqlite3_step(c.tls, stmt); rc != sqlite3.SQLITE_DONE {
		return 0, 0, c.err(rc)
	}
	return sqlite3.Xsqlite3_last_insert_rowid(c.tls, c.db), int(sqlite3.Xsqlite3_changes(c.tls, c.db)), nil
}

// reserveRecords lets the C allocator keep, from one frame to the next, the
// memory SQLite builds the records of a frame's two big rows in (the image's
// and the descriptors'), sizes bytes each. modernc.org/memory keeps a freed
// region for reuse only while its pool stays under 4 MiB plus the most it
// ever had mapped at once, and the two records are never mapped at once (one
// INSERT runs after the other). So a keypoint-rich frame's descriptor record,
// a size class above the usual one, was unmapped after each such frame and
// faulted in again, a page at a time, the next time such a frame came.
// Mapping regions of both sizes at once and freeing them raises the mark;
// they stay mapped, untouched until SQLite uses them. Fresh memory is dear
// on a VM that hands freed pages back to its host (docs/PERFORMANCE.md).
func reserveRecords(tls *libc.TLS, sizes ...int) {
	ps := make([]uintptr, 0, len(sizes))
	for _, n := range sizes {
		if p := libc.Xmalloc(tls, libc.Tsize_t(n)); p != 0 {
			ps = append(ps, p)
		}
	}
	for _, p := range ps {
		libc.Xfree(tls, p)
	}
}

// insertKeypoints inserts kps as rows of image id in multi-row INSERTs of
// kpBatch, kpBatch/2, ..., 1 rows (keypointSQL), each prepared at most once
// per call and bound value by value: no driver.Value per field, so nothing
// for the collector per keypoint, where database/sql's prepared statements
// allocated several times per keypoint (BenchmarkStoreBPS measures it).
func (c rawConn) insertKeypoints(id int64, kps []Keypoint) (err error) {
	stmts := make([]uintptr, bits.Len(uint(kpBatch))) // stmts[i] inserts 1<<i rows
	defer func() {
		for _, st := range stmts {
			if st != 0 {
				sqlite3.Xsqlite3_finalize(c.tls, st)
			}
		}
	}()
	for len(kps) > 0 {
		i := len(stmts) - 1
		for 1<<i > len(kps) {
			i--
		}
		n := 1 << i
		if stmts[i] == 0 {
			if stmts[i], err = c.prepare(keypointSQL(n)); err != nil {
				return err
			}
			if rc := sqlite3.Xsqlite3_bind_int64(c.tls, stmts[i], 1, id); rc != sqlite3.SQLITE_OK {
				return c.err(rc)
			}
		}
		st := stmts[i]
		for j, k := range kps[:n] {
			at := int32(2 + 6*j)
			for f, v := range [5]float32{k.X, k.Y, k.Size, k.Angle, k.Response} {
				if rc := sqlite3.Xsqlite3_bind_double(c.tls, st, at+int32(f), float64(v)); rc != sqlite3.SQLITE_OK {
					return c.err(rc)
				}
			}
			if rc := sqlite3.Xsqlite3_bind_int64(c.tls, st, at+5, int64(k.Octave)); rc != sqlite3.SQLITE_OK {
				return c.err(rc)
			}
		}
		if rc := sqlite3.Xsqlite3_step(c.tls, st); rc != sqlite3.SQLITE_DONE {
			return c.err(rc)
		}
		if rc := sqlite3.Xsqlite3_reset(c.tls, st); rc != sqlite3.SQLITE_OK {
			return c.err(rc)
		}
		kps = kps[n:]
	}
	return nil
}

// prepare compiles query into a statement the caller finalizes.
func (c rawConn) prepare(query string) (uintptr, error) {
	zSQL, err := libc.CString(query)
	if err != nil {
		return 0, err
	}
	defer libc.Xfree(c.tls, zSQL)
	pp := c.tls.Alloc(int(unsafe.Sizeof(uintptr(0)))) // SQLite writes the statement here
	defer c.tls.Free(int(unsafe.Sizeof(uintptr(0))))
	if rc := sqlite3.Xsqlite3_prepare_v2(c.tls, c.db, zSQL, -1, pp, 0); rc != sqlite3.SQLITE_OK {
		return 0, c.err(rc)
	}
	return *(*uintptr)(unsafe.Add(nil, pp)), nil
}

// boundValues keeps the values of a statement's parameters where SQLite
// can read them until the statement is finalized.
type boundValues struct {
	tls  *libc.TLS
	pins runtime.Pinner
	cmem []uintptr // copies in C memory
}

// place returns where SQLite reads the n bytes at p: p itself, pinned so
// that the collector neither moves nor frees it. Empty values and, in
// builds that check unsafe pointers (-race), every value are copied into C
// memory instead: SQLite binds a NULL address as NULL (the seed's columns
// are NOT NULL), and the transpiled SQLite's pointer arithmetic on a Go
// address fails checkptr.
func (b *boundValues) place(p *byte, n int) (uintptr, error) {
	if n > math.MaxInt32 {
		return 0, fmt.Errorf("db: cannot bind a value of %d bytes", n)
	}
	if n > 0 && !checkptrBuild {
		b.pins.Pin(p)
		return uintptr(unsafe.Pointer(p)), nil
	}
	m := libc.Xmalloc(b.tls, libc.Tsize_t(max(n, 1)))
	if m == 0 {
		return 0, fmt.Errorf("db: no memory to bind a value of %d bytes", n)
	}
	b.cmem = append(b.cmem, m)
	if n > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Add(nil, m)), n), unsafe.Slice(p, n))
	}
	return m, nil
}

func (b *boundValues) free() {
	b.pins.Unpin()
	for _, m := range b.cmem {
		libc.Xfree(b.tls, m)
	}
}

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

// reserveRecords runs reserveRecords on the transaction's connection.
func (t *rawTx) reserveRecords(sizes ...int) error {
	return withRaw(t.conn, func(c rawConn) error { reserveRecords(c.tls, sizes...); return nil })
}

// insertKeypoints runs rawConn.insertKeypoints on the transaction's connection.
func (t *rawTx) insertKeypoints(id int64, kps []Keypoint) error {
	return withRaw(t.conn, func(c rawConn) error { return c.insertKeypoints(id, kps) })
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
