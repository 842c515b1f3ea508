package supervisor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestBinaryConfigFileAndMetrics runs the real binary headless with a YAML
// config file plus flags that override some of it, and scrapes its
// --metrics endpoint (from the file, on a port the system picks) over HTTP
// while the real pipeline runs: stages up, frames counted, database rows
// growing. The flag --for beats the file's 1h; the file's run_dir and
// workers reach the stages. `config print` shows the same merge.
func TestBinaryConfigFileAndMetrics(t *testing.T) {
	exe := realBinary(t)
	dir := shortTempDir(t)
	images := testImages(t, dir)
	runDir := filepath.Join(dir, "run")
	cfgPath := filepath.Join(dir, "c.yaml")
	content := fmt.Sprintf(`# written by TestBinaryConfigFileAndMetrics
images: %s
db: %s
run_dir: %s
workers: 1
threads: 2
endpoints:
  status: "@ipc://%s"
  metrics: 127.0.0.1:0
stages:
  extractor:
    restart: {max_restarts: 9}
headless:
  for: 1h
`, images, filepath.Join(dir, "it.db"), runDir, filepath.Join(dir, "st"))
	if err := os.WriteFile(cfgPath, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}

	// config print: the file, then the flags.
	out, err := exec.Command(exe, "config", "print", "--config", cfgPath, "--workers", "2").Output()
	if err != nil {
		t.Fatalf("config print: %v", err)
	}
	var printed struct {
		Workers, Threads int
		RunDir           string `yaml:"run_dir"`
		Headless         struct{ For string }
		Stages           struct {
			Extractor struct{ Restart map[string]any }
		}
	}
	if err := yaml.Unmarshal(out, &printed); err != nil {
		t.Fatalf("config print output is not YAML: %v\n%s", err, out)
	}
	if printed.Workers != 2 || printed.Threads != 2 || printed.RunDir != runDir || printed.Headless.For != "1h0m0s" ||
		printed.Stages.Extractor.Restart["max_restarts"] != 9 {
		t.Errorf("config print = %+v; want workers 2 (flag), threads 2, run_dir, for 1h, extractor max_restarts 9 (file)\n%s", printed, out)
	}

	cmd := exec.Command(exe, "--no-tui", "--config", cfgPath, "--for", "6s")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	urls := make(chan string, 1)
	var errText syncBuffer
	go func() { // owns the stderr pipe until EOF
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(&errText, line)
			if rest, ok := strings.CutPrefix(line, "imaging-tui: metrics on "); ok {
				urls <- rest
			}
		}
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // a no-op once it has exited
	})
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatalf("imaging-tui exited early: %v\nstderr:\n%s\nstdout:\n%s", err, errText.String(), stdout.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("no metrics address on stderr after 20s:\n%s", errText.String())
	}

	want := map[string]map[string]string{
		"generator":   {"stage": "generator", "instance": "generator"},
		"extractor-0": {"stage": "extractor", "instance": "extractor-0"},
		"logger":      {"stage": "logger", "instance": "logger"},
	}
	var lastText string
	waitUntil(t, 20*time.Second, "the real pipeline up and storing frames, per the metrics", func() bool {
		fams := scrapeMetrics(t, url)
		lastText = fmt.Sprint(len(fams), " families")
		for _, l := range want {
			if v, ok := promValue(fams, "imaging_stage_up", l); !ok || v != 1 {
				return false
			}
		}
		stored, _ := promValue(fams, "imaging_frames_total", want["logger"])
		extracted, _ := promValue(fams, "imaging_frames_total", want["extractor-0"])
		images, _ := promValue(fams, "imaging_db_images", nil)
		keypoints, _ := promValue(fams, "imaging_db_keypoints", nil)
		bytes, _ := promValue(fams, "imaging_db_file_bytes", nil)
		lastText = fmt.Sprintf("stored %v extracted %v images %v keypoints %v bytes %v", stored, extracted, images, keypoints, bytes)
		return stored >= 1 && extracted >= stored && images >= 1 && keypoints > 0 && bytes > 0
	})
	t.Logf("metrics: %s", lastText)

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("imaging-tui --no-tui: %v\nstderr:\n%s\nstdout:\n%s", err, errText.String(), stdout.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("imaging-tui still running 40s after start (--for 6s should beat the file's 1h)")
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var sum Summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("last line is not the summary: %v\n%s", err, stdout.String())
	}
	if sum.StopReason != "ran for 6s" || !sum.OK || sum.RunDir != runDir {
		t.Errorf("summary stop %q ok %v run_dir %q; want ran for 6s (the flag), ok, %s (the file)\n%s",
			sum.StopReason, sum.OK, sum.RunDir, runDir, lines[len(lines)-1])
	}
	log, err := os.ReadFile(filepath.Join(runDir, "logs", "extractor-0.log"))
	if err != nil || !strings.Contains(string(log), "--workers 1 --threads 2") {
		t.Errorf("extractor-0.log in the file's run_dir (%v) lacks the file's --workers 1 --threads 2", err)
	}
}
