package bus

/*
#include <malloc.h>
*/
import "C"

import "errors"

// MapLargeMessages makes the C allocator serve every block of n bytes or
// more with a mapping of its own, unmapped as soon as it is freed: ZeroMQ's
// copy of every message a process sends is such a block when the message
// is large.
//
// glibc does that by default only until the first such block is freed:
// then its threshold rises to that block's size (up to 32 MiB), and the
// next large blocks come from its heaps, which keep freed memory for
// reuse. A sender of 30 MB frames, whose copies ZeroMQ frees from its I/O
// thread as they leave while the next are allocated from the sender's,
// then holds a few hundred MB of freed copies besides the ones queued. A
// fixed threshold also turns that adjustment off.
//
// For a process that only sends large messages (the generator). It
// affects the whole process's C heap; a stage that keeps its memory on
// purpose (sift.KeepMemory) must not call it.
func MapLargeMessages(n int) error {
	if C.mallopt(C.M_MMAP_THRESHOLD, C.int(n)) != 1 {
		return errors.New("bus: mallopt refused the mmap threshold")
	}
	return nil
}
