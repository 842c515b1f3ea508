package db

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Helper-process mode (os/exec's pattern): with helperEnv set, the test
// binary becomes a writer that never stops until it is killed.
const (
	helperEnv     = "IMAGING_TUI_DB_HELPER"
	helperPathEnv = "IMAGING_TUI_DB_HELPER_PATH"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "store" {
		os.Exit(helperStore(os.Getenv(helperPathEnv)))
	}
	os.Exit(m.Run())
}

// helperStore opens path and stores frames with many keypoints forever,
// printing "begin" before each write and "stored N" after each commit; every
// few frames it also runs Retain, so kills land in deletes too.
func helperStore(path string) int {
	ctx := context.Background()
	d, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	stream := rand.Uint64() | 1
	out := bufio.NewWriter(os.Stdout)
	// Frames are made once: generating them dominates under -race and the
	// kills should land in Store, not here.
	var frames []*Frame
	for i := range 5 {
		frames = append(frames, makeFrame(uint64(i), stream, 0, 64<<10+i*1000, 2000+i*333))
	}
	for seq := uint64(1); ; seq++ {
		f := frames[seq%uint64(len(frames))]
		f.Seq = seq
		fmt.Fprintln(out, "begin")
		out.Flush()
		if _, _, err := d.Store(ctx, f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintf(out, "stored %d\n", seq)
		out.Flush()
		if seq%4 == 0 {
			fmt.Fprintln(out, "begin")
			out.Flush()
			if _, err := d.Retain(ctx, 10, 0); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Fprintln(out, "retained")
			out.Flush()
		}
	}
}

// TestStoreSIGKILL kills a writing process at random moments and checks
// after each kill that every frame in the file is whole.
func TestStoreSIGKILL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	const rounds = 6
	total, midWrite := 0, 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=store", helperPathEnv+"="+path)
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) // no-ops once reaped

		lines := make(chan string)
		go func() { // ends when the child's stdout closes
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Wait for 1–3 commits, then kill after a random delay of up to a
		// frame's time, so the kill lands anywhere in a transaction.
		want := 1 + rand.IntN(3)
		deadline := time.After(30 * time.Second)
		last := ""
		for got := 0; got < want; {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: helper exited early", round)
				}
				if strings.HasPrefix(line, "stored") {
					got++
				}
				last = line
			case <-deadline:
				t.Fatalf("round %d: helper stored nothing in 30s", round)
			}
		}
		jitter := time.NewTimer(time.Duration(rand.IntN(40)) * time.Millisecond)
	drain:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: helper exited early", round)
				}
				last = line
			case <-jitter.C:
				break drain
			}
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		if last == "begin" {
			midWrite++
		}
		go func() {
			for range lines {
			}
		}()
		if err := cmd.Wait(); err == nil {
			t.Fatalf("round %d: helper exited cleanly; want killed", round)
		}

		d, err := Open(testCtx(t), path) // recovers the WAL
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		checkConsistent(t, d.sql)
		c := mustCounts(t, d)
		if c.Images == 0 {
			t.Errorf("round %d: no frames after the helper reported a commit", round)
		}
		total = int(c.Images)
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Informational: the kill lands inside a write most of the time.
	t.Logf("%d kills, %d of them during a write transaction; %d frames at the end", rounds, midWrite, total)
}
