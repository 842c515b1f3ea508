package db

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// TestReaderWhileWriting polls a read-only handle while the writer stores
// frames: neither side may ever see "database is locked".
func TestReaderWhileWriting(t *testing.T) {
	w, path := openTest(t)
	ctx := testCtx(t)
	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatalf("OpenReadOnly while the writer is open: %v", err)
	}
	defer r.Close()

	const frames = 40
	writerDone := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	wg.Add(1)
	go func() { // writer; ends after frames stores
		defer wg.Done()
		defer close(writerDone)
		for i := range frames {
			if _, _, err := w.Store(ctx, makeFrame(uint64(i), 1, uint64(i+1), 100<<10, 1000)); err != nil {
				errc <- err
				return
			}
			if i%10 == 9 {
				if _, err := w.Retain(ctx, 25, 0); err != nil {
					errc <- err
					return
				}
			}
		}
	}()
	polls := make([]int, 2)
	for g := range polls {
		wg.Add(1)
		go func() { // reader; ends when the writer is done
			defer wg.Done()
			for {
				select {
				case <-writerDone:
					return
				default:
				}
				if _, err := r.Counts(ctx); err != nil {
					errc <- err
					return
				}
				if _, err := r.Streams(ctx); err != nil {
					errc <- err
					return
				}
				if id, err := r.LatestImageID(ctx); err == nil {
					if _, err := r.Image(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
						errc <- err
						return
					}
				} else if !errors.Is(err, ErrNotFound) {
					errc <- err
					return
				}
				polls[g]++
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if errors.Is(err, ErrBusy) || strings.Contains(err.Error(), "locked") {
			t.Errorf("database locked: %v", err)
		} else {
			t.Errorf("unexpected error: %v", err)
		}
	}
	c, err := r.Counts(ctx)
	if err != nil || c.Images != 25 {
		t.Errorf("reader Counts = %+v, %v; want 25 images", c, err)
	}
	t.Logf("reader polls: %v", polls)
	if polls[0] == 0 || polls[1] == 0 {
		t.Errorf("a reader never completed a poll while the writer ran")
	}
	if _, _, err := r.Store(ctx, makeFrame(1, 1, 1000, 10, 0)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Store through OpenReadOnly = %v; want ErrReadOnly", err)
	}
	if err := r.SetFull(ctx, true); !errors.Is(err, ErrReadOnly) {
		t.Errorf("SetFull through OpenReadOnly = %v; want ErrReadOnly", err)
	}
}

// TestReadOnlyAfterWriterClosed opens a reader when no writer is around (the
// WAL and shared-memory files are gone) and while one reopens.
func TestReadOnlyAfterWriterClosed(t *testing.T) {
	w, path := openTest(t)
	ctx := testCtx(t)
	if _, _, err := w.Store(ctx, makeFrame(1, 1, 1, 100, 10)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer r.Close()
	if c, err := r.Counts(ctx); err != nil || c.Images != 1 {
		t.Fatalf("Counts = %+v, %v; want 1 image", c, err)
	}
	w2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open while a reader is open: %v", err)
	}
	defer w2.Close()
	if _, _, err := w2.Store(ctx, makeFrame(2, 1, 2, 100, 10)); err != nil {
		t.Fatal(err)
	}
	if c, err := r.Counts(context.Background()); err != nil || c.Images != 2 {
		t.Errorf("reader Counts after a new write = %+v, %v; want 2 images", c, err)
	}
}
