package db

import (
	"errors"
	"testing"
)

// TestRawConnOf checks the guard around the driver's unexported handle: a
// connection of another shape is refused, never misread.
func TestRawConnOf(t *testing.T) {
	type lookalike struct {
		db  int // wrong kind
		tls *int
	}
	for _, dc := range []any{nil, 42, &struct{}{}, &lookalike{db: 1}, struct{ db uintptr }{1}} {
		if _, err := rawConnOf(dc); !errors.Is(err, errRawUnsupported) {
			t.Errorf("rawConnOf(%T) = %v; want errRawUnsupported", dc, err)
		}
	}
	d, _ := openTest(t)
	conn, err := d.sql.Conn(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = withRaw(conn, func(c rawConn) error {
		_, n, err := c.exec("CREATE TEMP TABLE t (s TEXT NOT NULL, b BLOB NOT NULL, i INTEGER, z)")
		if err != nil || n != 0 {
			t.Errorf("create: %d changes, %v", n, err)
		}
		// Empty values are values, not NULL (the seed's columns are NOT NULL).
		if _, n, err = c.exec("INSERT INTO t VALUES (?, ?, ?, ?)", "", []byte{}, 7, nil); err != nil || n != 1 {
			t.Errorf("insert empty values: %d changes, %v", n, err)
		}
		if _, _, err = c.exec("INSERT INTO t VALUES (?, ?, ?, ?)", "x"); err == nil {
			t.Error("insert with too few arguments succeeded")
		}
		_, _, err = c.exec("INSERT INTO t VALUES (?, ?, ?, ?)", nil, []byte("b"), 1, 2)
		var re *rawError
		if !errors.As(err, &re) || re.code&0xff != 19 { // SQLITE_CONSTRAINT
			t.Errorf("insert NULL into NOT NULL = %v; want a constraint error", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var ts, tb string
	if err := conn.QueryRowContext(testCtx(t), "SELECT typeof(s) || length(s), typeof(b) || length(b) FROM t").Scan(&ts, &tb); err != nil ||
		ts != "text0" || tb != "blob0" {
		t.Errorf("read back %s, %s, %v; want text0, blob0", ts, tb, err)
	}
}
