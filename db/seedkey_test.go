package db

import (
	"path/filepath"
	"testing"
)

// seedFrame is a frame without stream and seq, as a seed stage passes it
// on, deduplicated by its seed key.
func seedFrame(seed uint64, ts int64) *Frame {
	f := makeFrame(seed, 0, 0, 100, 2)
	f.Timestamp, f.KeyBySeed = ts, true
	return f
}

func TestStoreKeyBySeed(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	first := seedFrame(1, 1000)
	id1, ins1, err := d.Store(ctx, first)
	if err != nil || !ins1 {
		t.Fatalf("Store(seed frame) = %d, %v, %v; want inserted", id1, ins1, err)
	}
	// The same seed fields again (a resend through a seed extractor, whose
	// SIFT run may even differ): the first row's id, nothing written.
	again := seedFrame(2, 1000)
	if id, ins, err := d.Store(ctx, again); err != nil || ins || id != id1 {
		t.Errorf("Store(same seed key) = %d, %v, %v; want %d, false, nil", id, ins, err, id1)
	}
	// Any seed field differing is another frame.
	for name, mutate := range map[string]func(*Frame){
		"timestamp": func(f *Frame) { f.Timestamp++ },
		"filename":  func(f *Frame) { f.Filename = "other.jpg" },
		"width":     func(f *Frame) { f.Width++ },
		"height":    func(f *Frame) { f.Height++ },
		"channels":  func(f *Frame) { f.Channels = 1 },
		"data size": func(f *Frame) { f.Image = f.Image[:50] },
	} {
		f := seedFrame(1, 1000)
		mutate(f)
		if _, ins, err := d.Store(ctx, f); err != nil || !ins {
			t.Errorf("Store(seed key with another %s) = %v, %v; want inserted", name, ins, err)
		}
	}
	// Without KeyBySeed, as before: never deduplicated.
	plain := seedFrame(1, 1000)
	plain.KeyBySeed = false
	if id, ins, err := d.Store(ctx, plain); err != nil || !ins || id == id1 {
		t.Errorf("Store(same fields, no KeyBySeed) = %d, %v, %v; want a new row", id, ins, err)
	}
	// A frame with stream and seq is known by those, KeyBySeed or not.
	seq := makeFrame(3, 9, 1, 100, 2)
	seq.Timestamp, seq.KeyBySeed = 1000, true
	idA, _, errA := d.Store(ctx, seq)
	idB, insB, errB := d.Store(ctx, seq)
	if errA != nil || errB != nil || insB || idA != idB {
		t.Errorf("sequenced frame twice = %d, (%d %v %v); want the first id, not inserted", idA, idB, insB, errB)
	}
	var keys int
	if err := d.sql.QueryRowContext(ctx, "SELECT count(*) FROM seed_keys").Scan(&keys); err != nil || keys != 7 {
		t.Errorf("seed_keys rows = %d, %v; want 7 (one a KeyBySeed frame stored)", keys, err)
	}
	if c := mustCounts(t, d); c.Images != 9 {
		t.Errorf("images = %d; want 9", c.Images)
	}
	checkConsistent(t, d.sql)
}

// TestRetainDeletesSeedKeys: a frame retention deleted leaves no key behind,
// so that it could be stored again, and the foreign keys hold.
func TestRetainDeletesSeedKeys(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	for i := range int64(5) {
		if _, ins, err := d.Store(ctx, seedFrame(uint64(i), 1000+i)); err != nil || !ins {
			t.Fatalf("Store(%d) = %v, %v", i, ins, err)
		}
	}
	if n, err := d.Retain(ctx, 2, 0); err != nil || n != 3 {
		t.Fatalf("Retain(2 frames) = %d, %v; want 3 deleted", n, err)
	}
	var keys int
	if err := d.sql.QueryRowContext(ctx, "SELECT count(*) FROM seed_keys WHERE image_id NOT IN (SELECT id FROM images)").Scan(&keys); err != nil || keys != 0 {
		t.Errorf("%d seed keys of deleted frames, %v; want 0", keys, err)
	}
	if _, ins, err := d.Store(ctx, seedFrame(0, 1000)); err != nil || !ins {
		t.Errorf("Store(a deleted frame again) = %v, %v; want inserted", ins, err)
	}
	if ok, problems, err := d.IntegrityCheck(ctx); !ok || err != nil {
		t.Errorf("IntegrityCheck = %v, %v, %v", ok, problems, err)
	}
}

// TestMigrateSeedKeys: a version 2 file whose logger stored copies of a
// trailer-less frame keeps its rows; the first copy takes the key, so a
// copy arriving after the upgrade is recognised.
func TestMigrateSeedKeys(t *testing.T) {
	ctx := testCtx(t)
	path := filepath.Join(t.TempDir(), "v2.db")
	raw := rawOpen(t, path)
	for _, m := range migrations[:2] {
		if _, err := raw.Exec(m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	if _, err := raw.Exec("PRAGMA user_version = 2"); err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO images (timestamp, filename, width, height, channels, data_size, image_data, stream_id, seq, keypoint_count)
		VALUES (?, ?, 64, 48, 3, 4, x'01020304', ?, ?, 0)`
	for _, r := range []struct {
		ts          int64
		name        string
		stream, seq any
	}{{5, "a.jpg", nil, nil}, {5, "a.jpg", nil, nil}, {6, "a.jpg", nil, nil}, {5, "a.jpg", int64(7), int64(1)}} {
		if _, err := raw.Exec(insert, r.ts, r.name, r.stream, r.seq); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.Exec("INSERT INTO descriptors (image_id, descriptor_data) SELECT id, x'' FROM images"); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	d, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open(v2 file): %v", err)
	}
	defer d.Close()
	var ids []int64
	rows, err := d.sql.QueryContext(ctx, "SELECT image_id FROM seed_keys ORDER BY image_id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) != 2 || ids[0] != 1 || ids[1] != 3 {
		t.Errorf("seed_keys image ids = %v; want [1 3]: the first copy of each trailer-less frame", ids)
	}
	if c := mustCounts(t, d); c.Images != 4 {
		t.Errorf("images = %d after migration; want the 4 rows kept", c.Images)
	}
	f := &Frame{Timestamp: 5, Filename: "a.jpg", Width: 64, Height: 48, Channels: 3, Image: []byte{1, 2, 3, 4},
		Descriptors: []float32{}, KeyBySeed: true}
	if id, ins, err := d.Store(ctx, f); err != nil || ins || id != 1 {
		t.Errorf("Store(copy of a migrated frame) = %d, %v, %v; want 1, false, nil", id, ins, err)
	}
}
