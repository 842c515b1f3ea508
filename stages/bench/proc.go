package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat. Linux fixes it at
// 100 for user space (USER_HZ), whatever the kernel's HZ.
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
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpu{}, err
	}
	return parseStatCPU(b)
}

// parseStatCPU returns utime, stime and minflt from the contents of /proc/PID/stat.
// The command name (field 2) is in parentheses and may hold spaces and
// parentheses itself, so fields are counted from the last ')'.
func parseStatCPU(b []byte) (cpu, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return cpu{}, errors.New("proc stat: no command name")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	const minflt, utime, stime = 10 - 3, 14 - 3, 15 - 3
	if len(f) <= stime {
		return cpu{}, fmt.Errorf("proc stat: %d fields after the command name, want > %d", len(f), stime)
	}
	u, err1 := strconv.ParseUint(string(f[utime]), 10, 64)
	s, err2 := strconv.ParseUint(string(f[stime]), 10, 64)
	m, err3 := strconv.ParseUint(string(f[minflt]), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return cpu{}, fmt.Errorf("proc stat: %w", err)
	}
	return cpu{time.Duration(u) * time.Second / userHZ, time.Duration(s) * time.Second / userHZ, m}, nil
}

// peakRSS reads the peak resident set size (VmHWM) of process pid, in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusKB(b, "VmHWM")
}

// parseStatusKB returns the value of a "Key:   123 kB" line of
// /proc/PID/status, in bytes.
func parseStatusKB(b []byte, key string) (int64, error) {
	for line := range bytes.Lines(b) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || string(k) != key {
			continue
		}
		f := bytes.Fields(v)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("proc status: %s: unexpected %q", key, bytes.TrimSpace(v))
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc status: %s: %w", key, err)
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("proc status: no %s line", key)
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
