package sift

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// hugePagesChildEnv makes the test binary run one SIFT call on a 2000×1500
// frame and print how much of its memory is in transparent huge pages.
const hugePagesChildEnv = "SIFT_TEST_HUGE_PAGES_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(hugePagesChildEnv) == "1" {
		if err := hugePagesChild(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func hugePagesChild() error {
	data, err := os.ReadFile("../../testdata/images/bps_P1000361_rocky-reef_transect-line.jpg")
	if err != nil {
		return err
	}
	d, err := New(Options{})
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.Detect(data); err != nil {
		return err
	}
	kb, err := anonHugeKB()
	if err != nil {
		return err
	}
	fmt.Println(kb)
	return nil
}

// anonHugeKB reads AnonHugePages of this process, in kB.
func anonHugeKB() (int64, error) {
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "AnonHugePages:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no AnonHugePages in /proc/self/smaps_rollup")
}

// TestKeptMemoryHugePages: with stage.WithKeptMemory's tunables, SIFT's working
// set sits in transparent huge pages; with glibc's defaults, where THP is
// left to madvise (Debian's default), it does not.
func TestKeptMemoryHugePages(t *testing.T) {
	thp, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || bytes.Contains(thp, []byte("[never]")) {
		t.Skipf("transparent huge pages are off here (%q, %v)", bytes.TrimSpace(thp), err)
	}
	huge := func(env []string) int64 {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(env, hugePagesChildEnv+"=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		kb, err := strconv.ParseInt(string(bytes.TrimSpace(out)), 10, 64)
		if err != nil {
			t.Fatalf("child printed %q: %v", out, err)
		}
		return kb
	}
	var plain []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GLIBC_TUNABLES=") {
			plain = append(plain, kv)
		}
	}
	// One SIFT run on 2000×1500 takes ~700 MB; most of it should be huge.
	kept, _ := stage.WithKeptMemory(plain)
	if kb := huge(kept); kb < 128<<10 {
		t.Errorf("with the kept-memory tunables: %d kB in huge pages after one 2000×1500 frame; want ≥ 128 MB", kb)
	}
	// Where THP is "always", every large heap gets huge pages anyway.
	if kb := huge(plain); kb >= 128<<10 && bytes.Contains(thp, []byte("[madvise]")) {
		t.Errorf("with glibc's defaults: %d kB in huge pages; want < 128 MB (THP is madvise here)", kb)
	}
}
