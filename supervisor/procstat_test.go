package supervisor

import (
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    ProcStat
		wantErr bool
	}{
		{"plain", "4242 (imaging-tui) S 1 4242 4242 0 -1 4194560 1020 0 3 0 250 75 0 0 20 0 9 0 123 456 789",
			ProcStat{User: 2500 * time.Millisecond, System: 750 * time.Millisecond, MinorFaults: 1020, MajorFaults: 3}, false},
		{"name with spaces and parentheses", "77 (a) b (c d) R 1 77 77 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 6 7",
			ProcStat{User: 10 * time.Millisecond, System: 20 * time.Millisecond}, false},
		{"truncated", "77 (x) R 1 77 77 0 -1 0 0 0 0 0 1", ProcStat{}, true},
		{"no name", "77 x R", ProcStat{}, true},
		{"not a number", "77 (x) R 1 77 77 0 -1 0 0 0 0 0 ab 2 0", ProcStat{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.stat))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStat(%q) = %+v, %v; want %+v, error %v", tt.stat, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\timaging-tui\nVmPeak:\t 2000000 kB\nVmHWM:\t  186800 kB\nVmRSS:\t  100000 kB\nThreads:\t9\n"
	got, err := parseStatusKB([]byte(status), "VmHWM")
	if err != nil || got != 186800<<10 {
		t.Errorf("parseStatusKB(VmHWM) = %v, %v; want %v", got, err, 186800<<10)
	}
	if _, err := parseStatusKB([]byte(status), "VmSwap"); err == nil {
		t.Error("parseStatusKB(VmSwap) on a status without it: no error")
	}
	if _, err := parseStatusKB([]byte("VmHWM:\t12 MB\n"), "VmHWM"); err == nil {
		t.Error("parseStatusKB with a unit other than kB: no error")
	}
}

// TestReadProcStat reads a real child process that spins: its CPU time
// grows, it has resident memory and has faulted pages in; once it is
// reaped, reading it fails.
func TestReadProcStat(t *testing.T) {
	argv := []string{"/bin/sh", "-c", "while :; do :; done"}
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	reaped := false
	defer func() {
		if !reaped {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	first, err := ReadProcStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	last := first
	for last.CPU() <= first.CPU() { // a tick of CPU time (10 ms) goes by
		if time.Now().After(deadline) {
			t.Fatalf("the spinner's CPU time stayed at %v for 5s", last.CPU())
		}
		time.Sleep(20 * time.Millisecond)
		if last, err = ReadProcStat(pid); err != nil {
			t.Fatal(err)
		}
	}
	if last.RSS <= 0 || last.PeakRSS < last.RSS || last.MinorFaults == 0 {
		t.Errorf("ReadProcStat(spinner) = %+v; want RSS > 0, peak RSS ≥ RSS and minor faults > 0", last)
	}
	if got, err := ReadCmdline(pid); err != nil || !slices.Equal(got, argv) {
		t.Errorf("ReadCmdline(spinner) = %q, %v; want %q", got, err, argv)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	reaped = true
	if p, err := ReadProcStat(pid); err == nil {
		t.Errorf("ReadProcStat of a reaped process = %+v; want an error", p)
	}
}
