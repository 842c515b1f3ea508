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
	"syscall"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// ExecKeepingMemory runs the running binary again, in place (execve: same
// PID, arguments and environment), with stage.KeptMemoryTunables in
// GLIBC_TUNABLES, unless they are already there; it returns only then, or
// when exec failed. Set before the process's first allocation, they do what
// KeepMemory cannot do later: mallopt's one-arena limit leaves every thread
// that already has an arena of its own with it, and such an arena hands
// freed memory back to the kernel by itself, so SIFT's pages would be
// faulted in again every frame (docs/PERFORMANCE.md).
//
// This is the fallback for a stage started by hand. A parent should rather
// start the process with stage.WithKeptMemory's environment: a Go program
// execs from whichever thread it is on, and a thread other than the first
// has no parent-death signal, so a supervisor's Pdeathsig would be lost
// here.
//
// Call it first thing, before the process opens files or sockets that are
// not close-on-exec.
func ExecKeepingMemory() error {
	env, changed := stage.WithKeptMemory(os.Environ())
	if !changed {
		return nil // ours, or the user's own choice
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("sift: re-exec with malloc tunables: %w", err)
	}
	return fmt.Errorf("sift: re-exec with malloc tunables: %w", syscall.Exec(exe, os.Args, env))
}

// KeepMemory makes the C allocator keep the memory SIFT frees for the next
// frame instead of returning it to the kernel.
//
// By default glibc serves each large block with its own mmap and unmaps it
// on free. SIFT allocates its scale-space pyramid, tens to hundreds of
// megabytes, afresh for every image, so every frame would fault in and zero
// all of it again, kernel work that can take longer than SIFT itself. The
// price is that the process keeps its peak working set (the memory one
// SIFT run needs per worker) while it lives, which is what a worker needs
// anyway for the next frame.
//
// Call it once, early, in a process that runs SIFT; it affects the whole
// process's C heap. ExecKeepingMemory does it better, from the process's
// start.
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
