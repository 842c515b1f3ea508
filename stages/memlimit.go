package stages

import "runtime/debug"

// frameMemory keeps the Go heap of a stage that holds whole messages (the
// generator its window, the logger the frame it stores) in proportion to
// the largest message it has handled: goMemoryBase plus frames of them,
// whatever the load.
// Without a limit the collector lets the heap grow to twice what is live
// and hands freed memory back to the kernel only slowly, so large frames
// would take a stage far past what it holds. The limit is soft
// (debug.SetMemoryLimit) and rises with the largest message, so live data
// never exceeds it and the collector never thrashes. docs/PERFORMANCE.md
// has the memory bounds measured. It belongs to the stage's main loop.
type frameMemory struct {
	frames  int // messages the stage holds at once, at most
	largest int
}

const goMemoryBase = 64 << 20 // runtime, buffers, status, SQLite's Go side

// saw notes a message of n bytes.
func (m *frameMemory) saw(n int) {
	if n <= m.largest {
		return
	}
	m.largest = n
	debug.SetMemoryLimit(goMemoryBase + int64(m.frames)*int64(n))
}
