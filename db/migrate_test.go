package db

import (
	"bytes"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// seedSchema returns the seed design's CREATE statements, taken from the
// first migration (which keeps them verbatim), without IF NOT EXISTS.
func seedSchema(t *testing.T) string {
	t.Helper()
	b, err := fs.ReadFile(migrationFS, "migrations/0001_seed.sql")
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), " IF NOT EXISTS", "")
}

// rawOpen opens path with plain driver defaults (no WAL, no migration), as
// a seed-era tool would.
func rawOpen(t *testing.T, path string) *sql.DB {
	t.Helper()
	sdb, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	return sdb
}

func TestMigrateEmptyFile(t *testing.T) {
	d, path := openTest(t)
	ctx := testCtx(t)
	if v, err := userVersion(ctx, d.sql); err != nil || v != SchemaVersion {
		t.Fatalf("user_version = %d, %v; want %d", v, err, SchemaVersion)
	}
	var mode string
	if err := d.sql.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	// The seed's columns, in the seed's order, then ours.
	want := map[string][]string{
		"images": {"id", "timestamp", "filename", "width", "height", "channels", "data_size", "image_data", "created_at",
			"stream_id", "seq", "keypoint_count", "published_at", "extracted_at", "received_at", "stored_at"},
		"keypoints":   {"id", "image_id", "x", "y", "size", "angle", "response", "octave"},
		"descriptors": {"id", "image_id", "descriptor_data"},
	}
	for table, cols := range want {
		if got := columns(t, d.sql, table); !slices.Equal(got, cols) {
			t.Errorf("%s columns = %v; want %v", table, got, cols)
		}
	}
	for _, idx := range []string{"idx_keypoints_image_id", "idx_descriptors_image_id", "idx_images_filename",
		"idx_images_stream_seq", "idx_images_stats"} {
		var n int
		if err := d.sql.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?", idx).Scan(&n); err != nil || n != 1 {
			t.Errorf("index %s: %d, %v; want present", idx, n, err)
		}
	}
	d.Close()
	// Opening again is a no-op.
	d2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	d2.Close()
}

func columns(t *testing.T, sdb *sql.DB, table string) []string {
	t.Helper()
	rows, err := sdb.Query("SELECT name FROM pragma_table_info(?)", table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	return cols
}

func TestMigrateSeedFile(t *testing.T) {
	ctx := testCtx(t)
	path := filepath.Join(t.TempDir(), "seed.db")
	raw := rawOpen(t, path)
	if _, err := raw.Exec(seedSchema(t)); err != nil {
		t.Fatalf("create seed schema: %v", err)
	}
	// A seed row, written the way the seed logger writes it.
	blob := encodeDescriptors(make([]float32, 2*DescriptorSize))
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO images (timestamp, filename, width, height, channels, data_size, image_data)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, []any{int64(1700000000000000000), "seed.jpg", 64, 48, 3, 4, []byte{1, 2, 3, 4}}},
		{`INSERT INTO keypoints (image_id, x, y, size, angle, response, octave) VALUES (1, 1.5, 2.5, 3, 90, 0.01, 1), (1, 4, 5, 6, 7, 0.02, 2)`, nil},
		{`INSERT INTO descriptors (image_id, descriptor_data) VALUES (1, ?)`, []any{blob}},
	} {
		if _, err := raw.Exec(q.sql, q.args...); err != nil {
			t.Fatalf("seed insert: %v", err)
		}
	}
	raw.Close()

	d, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open(seed file): %v", err)
	}
	defer d.Close()
	if v, _ := userVersion(ctx, d.sql); v != SchemaVersion {
		t.Errorf("user_version = %d; want %d", v, SchemaVersion)
	}
	f, err := d.Image(ctx, 1)
	if err != nil {
		t.Fatalf("Image(1) of the seed row: %v", err)
	}
	if f.Filename != "seed.jpg" || f.Width != 64 || string(f.Image) != "\x01\x02\x03\x04" ||
		len(f.Keypoints) != 2 || f.Keypoints[0].X != 1.5 || len(f.Descriptors) != 2*DescriptorSize ||
		f.StreamID != 0 || f.Seq != 0 || !f.ReceivedAt.IsZero() {
		t.Errorf("seed row read back as %+v", f)
	}
	if c := mustCounts(t, d); c.Images != 1 || c.Keypoints != 2 || c.Descriptors != 1 {
		t.Errorf("counts = %+v; want the seed row (keypoint_count backfilled)", c)
	}
	if id, ins, err := d.Store(ctx, makeFrame(1, 1, 1, 100, 10)); err != nil || !ins || id != 2 {
		t.Errorf("Store after migration = %d, %v, %v; want 2, true, nil", id, ins, err)
	}
	checkConsistent(t, d.sql)
}

func TestSchemaTooNew(t *testing.T) {
	ctx := testCtx(t)
	path := filepath.Join(t.TempDir(), "new.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.sql.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	d.Close()

	_, err = Open(ctx, path)
	if !errors.Is(err, ErrSchemaTooNew) || !regexp.MustCompile(`schema version 99 .*only up to `+strconv.Itoa(SchemaVersion)).MatchString(err.Error()) {
		t.Errorf("Open(v99) = %v; want ErrSchemaTooNew naming both versions", err)
	}
	if _, err := OpenReadOnly(ctx, path); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("OpenReadOnly(v99) = %v; want ErrSchemaTooNew", err)
	}
	// Refusing changed nothing.
	raw := rawOpen(t, path)
	defer raw.Close()
	if v, _ := userVersion(ctx, raw); v != 99 {
		t.Errorf("user_version after refusal = %d; want 99", v)
	}
}

func TestOpenReadOnlyErrors(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	if _, err := OpenReadOnly(ctx, missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly(missing) = %v; want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly created %s", missing)
	}
	seed := filepath.Join(dir, "seed.db")
	raw := rawOpen(t, seed)
	if _, err := raw.Exec(seedSchema(t)); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if _, err := OpenReadOnly(ctx, seed); !errors.Is(err, ErrSchemaTooOld) {
		t.Errorf("OpenReadOnly(seed file) = %v; want ErrSchemaTooOld", err)
	}
	if _, err := OpenReadOnly(ctx, dir); err == nil {
		t.Errorf("OpenReadOnly(directory) succeeded")
	}
}

func TestMigrationFiles(t *testing.T) {
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != SchemaVersion {
		t.Fatalf("%d migrations; SchemaVersion = %d", len(ms), SchemaVersion)
	}
}

// TestOpenOddPath: characters that SQLite URIs reserve end up in the file
// name, not in the query string.
func TestOpenOddPath(t *testing.T) {
	ctx := testCtx(t)
	path := filepath.Join(t.TempDir(), "a b?mode=ro#x%20y.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	defer d.Close()
	if _, _, err := d.Store(ctx, makeFrame(1, 1, 1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at %q: %v", path, err)
	}
	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatalf("OpenReadOnly(%q): %v", path, err)
	}
	defer r.Close()
	c, err := r.Counts(ctx)
	if err != nil || c.Images != 1 || c.FileBytes <= 0 || c.DiskFree <= 0 || c.PageSize != int64(pageSize) {
		t.Errorf("Counts = %+v, %v; want 1 image and sizes", c, err)
	}
}

// TestEncodeDescriptorsLayout pins the blob layout, whichever way the
// machine is built: little-endian float32 values in order.
func TestEncodeDescriptorsLayout(t *testing.T) {
	d := []float32{1, -2.5, 0x1p-20}
	want := []byte{0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0, 0x00, 0x00, 0x80, 0x35}
	if got := encodeDescriptors(d); !bytes.Equal(got, want) {
		t.Errorf("encodeDescriptors(%v) = % x; want % x", d, got, want)
	}
	if got := appendDescriptors(nil, want); !slices.Equal(got, d) {
		t.Errorf("appendDescriptors = %v; want %v", got, d)
	}
	if got := encodeDescriptors(nil); got == nil || len(got) != 0 {
		t.Errorf("encodeDescriptors(nil) = %#v; want an empty, non-nil blob", got)
	}
}
