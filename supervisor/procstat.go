package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat. Linux fixes it at
// 100 for user space (USER_HZ), whatever the kernel's HZ.
const userHZ = 100

// ProcStat is what the kernel accounts to one process, all its threads
// together, from /proc/PID/stat and /proc/PID/status.
type ProcStat struct {
	User, System time.Duration // CPU time in user space and in the kernel
	// MinorFaults are pages the process touched that the kernel had to map
	// (and zero) first: the cost of an allocator that hands memory back.
	// MajorFaults needed a read from disk.
	MinorFaults, MajorFaults uint64
	RSS, PeakRSS             int64 // resident set size now and at its peak (VmRSS, VmHWM), bytes
}

// CPU is the process's CPU time, user and system.
func (p ProcStat) CPU() time.Duration { return p.User + p.System }

// ReadProcStat reads the accounting of process pid. Linux only.
func ReadProcStat(pid int) (ProcStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcStat{}, fmt.Errorf("read process stat: %w", err)
	}
	p, err := parseStat(b)
	if err != nil {
		return ProcStat{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcStat{}, fmt.Errorf("read process status: %w", err)
	}
	if p.RSS, err = parseStatusKB(b, "VmRSS"); err != nil {
		return ProcStat{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	if p.PeakRSS, err = parseStatusKB(b, "VmHWM"); err != nil {
		return ProcStat{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return p, nil
}

// parseStat returns the CPU times and page faults of the contents of
// /proc/PID/stat. The command name (field 2) is in parentheses and may hold
// spaces and parentheses itself, so fields are counted from the last ')'.
func parseStat(b []byte) (ProcStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ProcStat{}, errors.New("proc stat: no command name")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	const minflt, majflt, utime, stime = 10 - 3, 12 - 3, 14 - 3, 15 - 3
	if len(f) <= stime {
		return ProcStat{}, fmt.Errorf("proc stat: %d fields after the command name, want > %d", len(f), stime)
	}
	var n [4]uint64
	var errs []error
	for j, k := range []int{minflt, majflt, utime, stime} {
		var err error
		n[j], err = strconv.ParseUint(string(f[k]), 10, 64)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return ProcStat{}, fmt.Errorf("proc stat: %w", err)
	}
	return ProcStat{MinorFaults: n[0], MajorFaults: n[1],
		User: time.Duration(n[2]) * time.Second / userHZ, System: time.Duration(n[3]) * time.Second / userHZ}, nil
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

// ReadCmdline returns the command line of process pid, program name first.
func ReadCmdline(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, fmt.Errorf("read process command line: %w", err)
	}
	b = bytes.TrimSuffix(b, []byte{0})
	if len(b) == 0 {
		return nil, fmt.Errorf("pid %d: empty command line (a zombie or a kernel thread)", pid)
	}
	return strings.Split(string(b), "\x00"), nil
}
