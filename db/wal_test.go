package db

import (
	"errors"
	"testing"
)

// TestCheckpoint: Checkpoint empties the write-ahead log file, which SQLite
// alone leaves to grow up to 64 MiB, and keeps every frame.
func TestCheckpoint(t *testing.T) {
	d, _ := openTest(t)
	ctx := testCtx(t)
	for seq := uint64(1); seq <= 5; seq++ {
		if _, _, err := d.Store(ctx, makeFrame(seq, 3, seq, 200_000, 10)); err != nil {
			t.Fatal(err)
		}
	}
	free, wal := d.Space()
	if wal < 5*200_000 {
		t.Fatalf("log holds %d bytes after 5 frames of 200 kB; want them all there before a checkpoint", wal)
	}
	if free <= 0 {
		t.Errorf("Space() free = %d; want the file system's free bytes", free)
	}
	if err := d.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, wal := d.Space(); wal != 0 {
		t.Errorf("log holds %d bytes after Checkpoint; want 0", wal)
	}
	if n := mustCounts(t, d); n.Images != 5 {
		t.Errorf("%d images after Checkpoint; want 5", n.Images)
	}
	d.Close()
	if err := d.Checkpoint(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Checkpoint after Close = %v; want ErrClosed", err)
	}
}
