package supervisor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRealSupervisorKilledLeavesNoStage SIGKILLs the real binary's
// supervisor and checks that its real stages die with it. The extractor
// and the logger get their malloc tunables from the supervisor's
// environment: had they re-executed themselves for them, the exec (from a
// thread other than their first) would have dropped their Pdeathsig and
// left them running.
func TestRealSupervisorKilledLeavesNoStage(t *testing.T) {
	exe := realBinary(t)
	dir := shortTempDir(t)
	cmd := exec.Command(exe, "--no-tui", "--images", testImages(t, dir), "--db", filepath.Join(dir, "k.db"),
		"--run-dir", filepath.Join(dir, "run"), "--status-bind", "@ipc://"+filepath.Join(dir, "st"), "--for", "1h")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stages []int
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		for _, p := range stages {
			_ = syscall.Kill(-p, syscall.SIGKILL)
		}
		_ = cmd.Wait()
	})
	tuned := map[string]bool{}
	waitUntil(t, 30*time.Second, "three stages running, the extractor and the logger with malloc tunables", func() bool {
		stages, tuned = childStages(cmd.Process.Pid)
		return len(stages) == 3 && tuned["extractor"] && tuned["logger"]
	})
	time.Sleep(time.Second) // past any start-up work of theirs
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitUntil(t, 5*time.Second, "every stage of the killed supervisor to die", func() bool {
		for _, p := range stages {
			if procAlive(p) {
				return false
			}
		}
		return true
	})
}

// childStages lists the `stage` processes whose parent is pid, and which
// of them (by kind) have the kept-memory malloc tunables in their
// environment.
func childStages(pid int) (pids []int, tuned map[string]bool) {
	tuned = map[string]bool{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil || !strings.Contains(string(status), "\nPPid:\t"+strconv.Itoa(pid)+"\n") {
			continue
		}
		args := strings.Split(readProc(p, "cmdline"), "\x00")
		if len(args) < 3 || args[1] != "stage" {
			continue
		}
		pids = append(pids, p)
		tuned[args[2]] = strings.Contains(readProc(p, "environ"), "glibc.malloc.arena_max=1")
	}
	return pids, tuned
}

func readProc(pid int, name string) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + name)
	return string(b)
}
