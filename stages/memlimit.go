package stages

import "runtime/debug"

// frameMemory keeps the Go heap of a stage that holds whole messages (the
// generator its window, the logger the frame it stores) in proportion to
// the largest message it has handled, so that the stage stays within
// 200 MB + 4 × that message whatever the load: without a limit the
// collector lets the heap grow to twice what is live and hands freed
// memory back to the kernel only slowly, and 20 MB frames then took a
// generator past 300 MB. The limit is soft (debug.SetMemoryLimit): it
// raises itself with the largest message, so live data never exceeds it
// and the collector never thrashes. It belongs to the stage's main loop.
//
// (Switching the collector off below the limit, so that it ran only there,
// spared the logger faulting in new message buffers; reusing its receive
// buffer does that too, and keeps its heap small.)
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
