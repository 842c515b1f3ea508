package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/imaging-tui/imaging-tui/supervisor"
)

// userHZ is the unit of the CPU times in /proc/stat. Linux fixes it at 100
// for user space (USER_HZ), whatever the kernel's HZ.
const userHZ = 100

// cpu is the CPU time a process has used, user and system (kernel), and
// the minor page faults it took: memory it touched that the kernel had to
// map (and zero) first, the cost of an allocator that hands memory back.
type cpu struct {
	user, sys time.Duration
	faults    uint64
}

func (c cpu) total() time.Duration { return c.user + c.sys }

func (c cpu) sub(d cpu) cpu { return cpu{c.user - d.user, c.sys - d.sys, c.faults - d.faults} }

func (c cpu) add(d cpu) cpu { return cpu{c.user + d.user, c.sys + d.sys, c.faults + d.faults} }

// cpuTime reads the CPU time of every thread of process pid.
func cpuTime(pid int) (cpu, error) {
	p, err := supervisor.ReadProcStat(pid)
	if err != nil {
		return cpu{}, err
	}
	return cpu{p.User, p.System, p.MinorFaults}, nil
}

// peakRSS reads the peak resident set size (VmHWM) of process pid, in bytes.
func peakRSS(pid int) (int64, error) {
	p, err := supervisor.ReadProcStat(pid)
	return p.PeakRSS, err
}

// machineBusy reads the CPU time all CPUs have spent busy since boot
// (everything but idle and iowait; steal included), from /proc/stat.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseMachineBusy(b)
}

func parseMachineBusy(b []byte) (time.Duration, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	// cpu user nice system idle iowait irq softirq steal [guest guest_nice]:
	// guest time is already counted in user.
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, errors.New("proc stat: no aggregate cpu line")
	}
	var busy uint64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc stat: %w", err)
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / userHZ, nil
}

// startBusy starts measuring the CPU time the machine is busy, but for this
// process; the function returned reads it.
func startBusy() func() time.Duration {
	all0, _ := machineBusy()
	self0, _ := cpuTime(os.Getpid())
	return func() time.Duration {
		all1, _ := machineBusy()
		self1, _ := cpuTime(os.Getpid())
		return all1 - all0 - self1.sub(self0).total()
	}
}
