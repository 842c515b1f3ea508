package tui

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an output the program writes from its own goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runAsync runs Run and returns a channel with its result.
func runAsync(ctx context.Context, c Controller, opts Options) <-chan error {
	done := make(chan error, 1)
	go func() { done <- Run(ctx, c, opts) }()
	return done
}

func waitRun(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s")
	}
}

func TestRunQuitsOnQ(t *testing.T) {
	f := newFake(fixture(0))
	out := &syncBuffer{}
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	done := runAsync(context.Background(), f, Options{Input: pr, Output: out, Now: fixedNow})

	deadline := time.Now().Add(10 * time.Second)
	for f.snapshotCalls() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("Run took no snapshots")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := pw.Write([]byte("qy")); err != nil {
		t.Fatal(err)
	}
	waitRun(t, done)
	s := out.String()
	if !strings.Contains(s, "\x1b[?1049h") || !strings.Contains(s, "\x1b[?1049l") {
		t.Error("Run did not enter and leave the alternate screen")
	}
	if !strings.Contains(s, "extractor-1") {
		t.Errorf("Run did not draw the pipeline:\n%q", s)
	}
	if got := f.commands(); len(got) != 0 {
		t.Fatalf("Run issued commands: %q", got)
	}
}

func TestRunReturnsWhenContextDone(t *testing.T) {
	f := newFake(fixture(0))
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(ctx, f, Options{Input: pr, Output: &syncBuffer{}})
	deadline := time.Now().Add(10 * time.Second)
	for f.snapshotCalls() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("Run took no snapshots")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	waitRun(t, done)
}
