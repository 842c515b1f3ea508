package stages

import (
	"log/slog"

	"github.com/imaging-tui/imaging-tui/stages/bus"
)

// largeMessage is the size from which the generator's C allocations — in
// practice ZeroMQ's copy of each frame it sends or resends — are mapped on
// their own and unmapped when freed (bus.MapLargeMessages). Smaller frames
// are sent too often to pay a mapping each; a large one costs a fault per
// page, which is little beside reading and sending it.
const largeMessage = 1 << 20

// mapLargeMessages keeps the generator's memory within its bound with
// large frames: without it, glibc keeps the freed copies of 30 MB messages
// in its heaps, and a generator whose window holds three frames grew past
// 400 MiB (docs/PERFORMANCE.md, Memory).
func mapLargeMessages(log *slog.Logger) {
	if err := bus.MapLargeMessages(largeMessage); err != nil {
		log.Warn("large messages stay in the C heap", "err", err)
	}
}
