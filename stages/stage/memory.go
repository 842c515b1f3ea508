package stage

import "strings"

// KeptMemoryTunables are the glibc malloc settings under which a stage that
// receives frames (Spec.KeepsMemory) runs: one arena for every thread (a
// thread arena gives memory back by itself), no mmap per large block, freed
// memory never trimmed, and the heap in transparent huge pages where THP is
// on. SIFT builds its scale-space pyramid, hundreds of megabytes, afresh
// for every image, and libzmq allocates a buffer for every message it
// receives; with glibc's defaults each frame faulted all of that in again.
// The price is that the process keeps its peak working set, which the next
// frame needs anyway. docs/PERFORMANCE.md has the measurements.
const KeptMemoryTunables = "glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1099511627776:glibc.malloc.hugetlb=1"

// WithKeptMemory returns env with KeptMemoryTunables added to
// GLIBC_TUNABLES, and whether it changed anything: env is returned as it is
// when it already sets the arena limit (ours, or the user's own choice).
// Tunables act only from a process's start, so a parent sets them for its
// child, or a stage re-executes itself with them.
func WithKeptMemory(env []string) (out []string, changed bool) {
	cur := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GLIBC_TUNABLES="); ok {
			cur = v
		}
	}
	if strings.Contains(cur, "glibc.malloc.arena_max=") {
		return env, false
	}
	tun := KeptMemoryTunables
	if cur != "" {
		tun = cur + ":" + KeptMemoryTunables
	}
	out = []string{"GLIBC_TUNABLES=" + tun}
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GLIBC_TUNABLES=") {
			out = append(out, kv)
		}
	}
	return out, true
}
