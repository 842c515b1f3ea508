package supervisor

import (
	"io"
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
	sup := startRealSupervisor(t, exe, nil, "--no-tui", "--images", testImages(t, dir), "--db", filepath.Join(dir, "k.db"),
		"--run-dir", filepath.Join(dir, "run"), "--status-bind", "@ipc://"+filepath.Join(dir, "st"), "--for", "1h")
	tuned := map[string]bool{}
	waitUntil(t, 30*time.Second, "three stages running, the extractor and the logger with malloc tunables", func() bool {
		sup.stages, tuned = childStages(sup.cmd.Process.Pid)
		return len(sup.stages) == 3 && tuned["extractor"] && tuned["logger"]
	})
	time.Sleep(time.Second) // past any start-up work of theirs
	sup.kill(t, 5*time.Second)
}

// realSupervisor is the real binary's supervisor, run in its own process
// group, with the stages it spawned as the test last saw them.
type realSupervisor struct {
	cmd    *exec.Cmd
	stages []int
}

// startRealSupervisor starts exe with args (output to out, if not nil) and
// kills it and every stage seen, by process group, when the test ends.
func startRealSupervisor(t *testing.T, exe string, out io.Writer, args ...string) *realSupervisor {
	t.Helper()
	sup := &realSupervisor{cmd: exec.Command(exe, args...)}
	sup.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	sup.cmd.Stdout, sup.cmd.Stderr = out, out
	if err := sup.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-sup.cmd.Process.Pid, syscall.SIGKILL)
		for _, p := range sup.stages {
			_ = syscall.Kill(-p, syscall.SIGKILL)
		}
		_ = sup.cmd.Wait()
	})
	return sup
}

// kill SIGKILLs the supervisor and waits up to timeout for every stage it
// spawned to die with it.
func (sup *realSupervisor) kill(t *testing.T, timeout time.Duration) {
	t.Helper()
	if err := sup.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = sup.cmd.Wait()
	waitUntil(t, timeout, "every stage of the killed supervisor to die", func() bool {
		for _, p := range sup.stages {
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
