package stages

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"
	"sync"

	"github.com/imaging-tui/imaging-tui/stages/sift"
)

// siftBytesPerPixel estimates OpenCV SIFT's working set per input pixel:
// its scale-space pyramid of float images, measured on OpenCV 4.6 at about
// 2.8 GB peak for one 4000×3000 frame (233 B/pixel), rounded up.
const siftBytesPerPixel = 240

// siftWorkingSet estimates the memory one SIFT run takes on a w×h image.
func siftWorkingSet(w, h uint32) int64 { return int64(w) * int64(h) * siftBytesPerPixel }

// defaultMaxPixels is the largest image the extractor takes by default: no
// bigger than one SIFT run can take within siftMemory, the memory all its
// runs may share, and at most sift.DefaultMaxPixels.
func defaultMaxPixels(siftMemory int64) int64 {
	if siftMemory <= 0 {
		return sift.DefaultMaxPixels
	}
	return min(sift.DefaultMaxPixels, siftMemory/siftBytesPerPixel)
}

// memBudget bounds the memory that concurrent SIFT runs may take together:
// a worker reserves its frame's estimated working set before it starts and
// waits while the others hold too much. One run bigger than the whole
// budget still runs, alone. Worker goroutines therefore never make the
// machine swap or the kernel kill the extractor, whatever the frame size.
type memBudget struct {
	mu    sync.Mutex
	cond  sync.Cond
	total int64
	used  int64
}

func newMemBudget(total int64) *memBudget {
	b := &memBudget{total: total}
	b.cond.L = &b.mu
	return b
}

// acquire reserves n bytes (at most the whole budget), waiting for room,
// and returns what it reserved, for release.
func (b *memBudget) acquire(n int64) int64 {
	n = min(n, b.total)
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.used+n > b.total {
		b.cond.Wait()
	}
	b.used += n
	return n
}

func (b *memBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

// defaultSIFTMemory is the budget when none is given: 80 % of the memory
// available now (MemAvailable), leaving room for the other stages and the
// page cache.
func defaultSIFTMemory() (int64, error) {
	avail, err := memAvailable()
	if err != nil {
		return 0, err
	}
	return avail / 5 * 4, nil
}

// memAvailable reads MemAvailable from /proc/meminfo, in bytes.
func memAvailable() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("MemAvailable:"))
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
		if err != nil {
			return 0, errors.New("/proc/meminfo: bad MemAvailable line")
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("/proc/meminfo: no MemAvailable line")
}
