package stages

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// TestLogFormatFollowsTheTerminal: a stage logs text to a terminal and JSON
// to anything else (the supervisor reads its children's logs as JSON), and
// --log-format says which when given.
func TestLogFormatFollowsTheTerminal(t *testing.T) {
	firstLine := func(t *testing.T, stderr *os.File, read io.Reader, extra ...string) string {
		t.Helper()
		dir, err := os.MkdirTemp("", "lf")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		args := append([]string{"generator", "--delivery", "best-effort", "--fps", "1",
			"--images", "../testdata/images",
			"--pub", "@ipc://" + filepath.Join(dir, "p"), "--status", "ipc://" + filepath.Join(dir, "s"),
			"--ack", "ipc://" + filepath.Join(dir, "a")}, extra...)
		go func() { done <- Main(ctx, args, nil, stderr) }()
		lines := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(read).ReadString('\n')
			lines <- line
		}()
		var line string
		select {
		case line = <-lines:
		case <-time.After(20 * time.Second):
			t.Error("no log line in 20s")
		}
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, stage.ErrUsage) {
			t.Errorf("generator: %v", err)
		}
		return line
	}
	t.Run("terminal", func(t *testing.T) {
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer ptmx.Close()
		defer tty.Close()
		if line := firstLine(t, tty, ptmx); !strings.HasPrefix(line, "time=") || !strings.Contains(line, `msg="generator starting"`) {
			t.Errorf("on a terminal the log reads %q; want text", line)
		}
	})
	t.Run("pipe", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		if line := firstLine(t, w, r); !strings.HasPrefix(line, `{"time":`) {
			t.Errorf("into a pipe the log reads %q; want JSON", line)
		}
	})
	t.Run("flag", func(t *testing.T) {
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer ptmx.Close()
		defer tty.Close()
		if line := firstLine(t, tty, ptmx, "--log-format", "json"); !strings.HasPrefix(line, `{"time":`) {
			t.Errorf("--log-format json on a terminal reads %q; want JSON", line)
		}
	})
}
