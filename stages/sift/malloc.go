package sift

/*
#include <malloc.h>
#include <limits.h>

static int ituiKeepMemory(void) {
	// One arena for every thread (a thread arena gives memory back by
	// itself, whatever the trim threshold), every allocation from it (no
	// mmap per large block), and freed memory never given back.
	return mallopt(M_ARENA_MAX, 1) && mallopt(M_MMAP_MAX, 0) && mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

static void ituiReleaseMemory(void) {
	malloc_trim(0);
}

static void ituiDefaultMemory(void) {
	// glibc's defaults, less the dynamic mmap threshold (which cannot be
	// restored once set).
	mallopt(M_ARENA_MAX, 0);
	mallopt(M_MMAP_MAX, 65536);
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024);
	malloc_trim(0);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// keepTunables are KeepMemory's settings as glibc tunables, and one that
// mallopt does not offer: hugetlb=1 asks for transparent huge pages
// (madvise) on the heap. SIFT's 4000×3000 working set is 2.8 GB; in 4 KB
// pages it was faulted in again by the thousand each frame on this
// project's VM. With huge pages, the limit alone on 4000×3000 PNG frames
// (two workers, 30 s after 15 s of warm-up, two runs each): 38 and 38
// frames at 1.54 CPU s and ~240 faults a frame, against 20 and 35 frames
// at 2.88 and 1.67 CPU s and 9,674 and 3,066 faults without. Where THP is
// off (transparent_hugepage/enabled: never) glibc ignores it.
const keepTunables = "glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1099511627776:glibc.malloc.hugetlb=1"

// ExecKeepingMemory runs the running binary again, in place (execve: same
// PID, arguments and environment), with KeepMemory's settings in
// GLIBC_TUNABLES, unless they are already there; it returns only then, or
// when exec failed. Set before the process's first allocation, they do what
// KeepMemory cannot do later: mallopt's one-arena limit leaves every thread
// that already has an arena of its own with it, and such an arena hands
// freed memory back to the kernel by itself, so SIFT's pages are faulted in
// again every frame (2000×1500 JPEG, two workers, on this project's 2-core
// machine: 77 frames in 27 s with the tunables, 45–53 with mallopt alone).
//
// This is the fallback for a stage started by hand. A parent should rather
// start the process with WithKeptMemory's environment: a Go program execs
// from whichever thread it is on, and a thread other than the first has no
// parent-death signal, so a supervisor's Pdeathsig would be lost here.
//
// Call it first thing, before the process opens files or sockets that are
// not close-on-exec.
func ExecKeepingMemory() error {
	env, changed := keptMemoryEnv(os.Environ())
	if !changed {
		return nil // ours, or the user's own choice
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("sift: re-exec with malloc tunables: %w", err)
	}
	return fmt.Errorf("sift: re-exec with malloc tunables: %w", syscall.Exec(exe, os.Args, env))
}

// WithKeptMemory returns env with KeepMemory's settings added to
// GLIBC_TUNABLES, for a child process that will run SIFT or receive large
// messages; env is returned as it is if it already sets the arena limit.
func WithKeptMemory(env []string) []string {
	out, _ := keptMemoryEnv(env)
	return out
}

func keptMemoryEnv(env []string) (out []string, changed bool) {
	cur := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GLIBC_TUNABLES="); ok {
			cur = v
		}
	}
	if strings.Contains(cur, "glibc.malloc.arena_max=") {
		return env, false
	}
	tun := keepTunables
	if cur != "" {
		tun = cur + ":" + keepTunables
	}
	out = []string{"GLIBC_TUNABLES=" + tun}
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GLIBC_TUNABLES=") {
			out = append(out, kv)
		}
	}
	return out, true
}

// KeepMemory makes the C allocator keep the memory SIFT frees for the next
// frame instead of returning it to the kernel.
//
// By default glibc serves each block over 128 KB to 32 MB with its own
// mmap and unmaps it on free. SIFT allocates its scale-space pyramid, tens
// to hundreds of megabytes, afresh for every image, so every frame faulted
// in and zeroed all of it again: on OpenCV 4.6 that kernel work made a
// 2000×1500 frame take 3.2 s instead of 1.3 s (BenchmarkDetect, one
// thread). The price is that the process keeps its peak working set — the
// memory one SIFT run needs per worker — while it lives, which is what a
// worker needs anyway for the next frame.
//
// Call it once, early, in a process that runs SIFT; it affects the whole
// process's C heap. ExecKeepingMemory does it better.
func KeepMemory() error {
	if C.ituiKeepMemory() == 0 {
		return errors.New("sift: mallopt refused to keep freed memory")
	}
	return nil
}

// defaultMemory undoes KeepMemory, about: benchmarks compare the two.
func defaultMemory() { C.ituiDefaultMemory() }

// ReleaseMemory gives the memory the C heap holds free back to the kernel
// (malloc_trim), as KeepMemory otherwise never does: for a process that
// has finished running SIFT and goes on living.
func ReleaseMemory() { C.ituiReleaseMemory() }
