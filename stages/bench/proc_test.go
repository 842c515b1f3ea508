package bench

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    cpu
		wantErr bool
	}{
		{"plain", "4242 (imaging-tui) S 1 4242 4242 0 -1 4194560 1020 0 0 0 250 75 0 0 20 0 9 0 123 456 789",
			cpu{2500 * time.Millisecond, 750 * time.Millisecond, 1020}, false},
		{"name with spaces and parentheses", "77 (a) b (c d) R 1 77 77 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 6 7",
			cpu{10 * time.Millisecond, 20 * time.Millisecond, 0}, false},
		{"truncated", "77 (x) R 1 77 77 0 -1 0 0 0 0 0 1", cpu{}, true},
		{"no name", "77 x R", cpu{}, true},
		{"not a number", "77 (x) R 1 77 77 0 -1 0 0 0 0 0 ab 2 0", cpu{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.stat))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStatCPU(%q) = %v, %v; want %v, error %v", tt.stat, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestCPUTimeOfSelf(t *testing.T) {
	before, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for {
		for i := range 1_000_000 {
			x += i
		}
		now, err := cpuTime(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if now.total() > before.total() {
			break // a tick of CPU time went by
		}
		if time.Now().After(deadline) {
			t.Fatalf("cpuTime stayed at %+v after 5s of spinning", now)
		}
	}
	_ = x
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
	if n, err := peakRSS(os.Getpid()); err != nil || n <= 0 {
		t.Errorf("peakRSS(self) = %v, %v; want > 0", n, err)
	}
}

func TestParseMachineBusy(t *testing.T) {
	stat := "cpu  100 20 30 5000 40 5 6 7 50 0\ncpu0 50 10 15 2500 20 2 3 3 25 0\nintr 1\n"
	got, err := parseMachineBusy([]byte(stat))
	if want := 168 * time.Second / userHZ; err != nil || got != want { // 100+20+30+5+6+7
		t.Errorf("parseMachineBusy = %v, %v; want %v", got, err, want)
	}
	if _, err := parseMachineBusy([]byte("intr 1\n")); err == nil {
		t.Error("parseMachineBusy without a cpu line: no error")
	}
	if _, err := machineBusy(); err != nil {
		t.Errorf("machineBusy: %v", err)
	}
}
