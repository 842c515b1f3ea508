package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered file of migrations/: NNNN_name.sql moves the
// schema from version NNNN-1 to NNNN.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations holds the embedded migrations in order; migrations[i] has
// version i+1. Loaded once at package initialisation.
var migrations = mustLoadMigrations(migrationFS)

// SchemaVersion is the schema version this binary writes: the number of the
// newest embedded migration, kept in the database's PRAGMA user_version.
const SchemaVersion = 5

func mustLoadMigrations(fsys fs.FS) []migration {
	ms, err := loadMigrations(fsys)
	if err != nil {
		panic(err) // a build defect, caught by any test
	}
	return ms
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	ms := make([]migration, 0, len(names))
	for i, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != i+1 {
			return nil, fmt.Errorf("db: migration %s: want a name starting %04d_", base, i+1)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	if len(ms) != SchemaVersion {
		return nil, fmt.Errorf("db: %d migrations embedded, SchemaVersion is %d", len(ms), SchemaVersion)
	}
	return ms, nil
}

// userVersion reads PRAGMA user_version.
func userVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// tooNew is the error for a file written by a newer binary.
func tooNew(path string, v int) error {
	return fmt.Errorf("db: %s has schema version %d but this binary knows only up to %d; use a newer imaging-tui: %w",
		path, v, SchemaVersion, ErrSchemaTooNew)
}

// migrate applies the pending migrations, each in its own IMMEDIATE
// transaction together with its user_version bump, so a crash leaves the file
// at one version or the next. The version is re-read inside the transaction:
// two processes opening the same new file migrate it once.
func migrate(ctx context.Context, sdb *sql.DB, path string) error {
	for {
		done, err := migrateStep(ctx, sdb, path)
		if err != nil || done {
			return err
		}
	}
}

func migrateStep(ctx context.Context, sdb *sql.DB, path string) (done bool, err error) {
	tx, err := sdb.BeginTx(ctx, nil) // BEGIN IMMEDIATE (DSN _txlock)
	if err != nil {
		return false, wrapErr("migrate: begin", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	v, err := userVersion(ctx, tx)
	if err != nil {
		return false, wrapErr("migrate: read user_version", err)
	}
	if v > SchemaVersion {
		return false, tooNew(path, v)
	}
	if v == SchemaVersion {
		return true, tx.Rollback()
	}
	m := migrations[v]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, wrapErr("migrate: "+m.name, err)
	}
	// PRAGMA takes no parameters; m.version is an int we control.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.version)); err != nil {
		return false, wrapErr("migrate: set user_version", err)
	}
	if err := tx.Commit(); err != nil {
		return false, wrapErr("migrate: commit "+m.name, err)
	}
	return false, nil
}
