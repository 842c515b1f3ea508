package main

import (
	"errors"
	"flag"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imaging-tui/imaging-tui/supervisor"
)

// TestRoleCommandErrors: join and --role edge refuse what cannot work with
// a message that says what to do, before starting anything: exit 2 for a
// command-line mistake, 1 for a missing key.
func TestRoleCommandErrors(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command(binary, "keys", "--out", dir, "edge").CombinedOutput(); err != nil {
		t.Fatalf("keys: %v %s", err, out)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"join", "--help"}, 0, "Usage: imaging-tui join EDGE"},
		{[]string{"join"}, 2, "want one EDGE host, got 0"},
		{[]string{"join", "a", "b"}, 2, "want one EDGE host, got 2"},
		{[]string{"join", "127.0.0.1", "--edge-key", filepath.Join(dir, "edge.pub")}, 1, "--key FILE is missing"},
		{[]string{"join", "127.0.0.1", "--key", filepath.Join(dir, "edge.key")}, 1, "--edge-key is missing"},
		{[]string{"join", "127.0.0.1", "--key", filepath.Join(dir, "none.key"), "--edge-key", filepath.Join(dir, "edge.pub")}, 1, "none.key: no such file"},
		{[]string{"join", "127.0.0.1", "--key", filepath.Join(dir, "edge.key"), "--edge-key", "short"}, 1, "short"},
		{[]string{"join", "127.0.0.1", "--insecure", "--edge-key", filepath.Join(dir, "edge.pub")}, 1, "exclude each other"},
		{[]string{"--role", "edge", "--no-tui"}, 1, "needs --key (the edge's secret key) and --peers"},
		{[]string{"--role", "hub", "--no-tui"}, 2, `unknown --role "hub"`},
		{[]string{"--listen", "0.0.0.0", "--no-tui"}, 2, "--listen needs --role edge"},
	} {
		cmd := exec.Command(binary, c.args...)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		if code != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("imaging-tui %q: exit %d, output:\n%s\nwant exit %d and %q", c.args, code, out, c.code, c.want)
		}
	}
}

// TestEdgeNotesJoinCommand: the join command an edge prints also goes to
// the event log, where the console (which covers the terminal) shows it.
func TestEdgeNotesJoinCommand(t *testing.T) {
	fs := flag.NewFlagSet("imaging-tui", flag.ContinueOnError)
	var r roleFlags
	r.register(fs)
	if err := fs.Parse([]string{"--role", "edge", "--listen", "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	var printed strings.Builder
	cfg, err := r.apply(fs, supervisor.Config{Insecure: true}, &printed)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, printed.String())
	}
	var join string
	for _, n := range cfg.Notes {
		if strings.Contains(n, "imaging-tui join 127.0.0.1") {
			join = n
		}
	}
	if join == "" || !strings.Contains(printed.String(), strings.TrimSpace(join)) {
		t.Fatalf("notes %q lack the printed join command:\n%s", cfg.Notes, printed.String())
	}
}
