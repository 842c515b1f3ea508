package dbcmd

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	path := newDB(t, testFrame(t, 1, 1, 8, 8, 1))
	tests := []struct {
		args   []string
		stderr string // part of the message printed
	}{
		{nil, "Usage: imaging-tui db CMD"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"stats", "--nope"}, "flag provided but not defined: -nope"},
		{[]string{"stats", "extra"}, `unexpected argument "extra"`},
		{[]string{"stats", "--gaps", "-1"}, "--gaps must be 0 or more"},
		{[]string{"show"}, "missing frame ID"},
		{[]string{"show", "abc"}, `"abc" is not a frame id`},
		{[]string{"show", "0"}, `"0" is not a frame id`},
		{[]string{"show", "1", "2"}, `unexpected argument "2"`},
		{[]string{"draw"}, "missing frame ID"},
		{[]string{"export", "--format", "xml"}, `--format "xml": want jsonl or csv`},
		{[]string{"export", "--format", "csv", "--images"}, "--images needs --format jsonl"},
		{[]string{"verify", "--json=maybe"}, "invalid boolean value"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := tt.args
			if len(args) > 0 && args[0] != "frobnicate" {
				args = append(args, "--db", path)
			}
			stdout, stderr, err := run(t, args...)
			if !errors.Is(err, ErrUsage) {
				t.Errorf("Main(%q) = %v; want ErrUsage", args, err)
			}
			if !strings.Contains(stderr, tt.stderr) || stdout != "" {
				t.Errorf("Main(%q): stdout %q, stderr %q; want stderr with %q", args, stdout, stderr, tt.stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"help", "draw"}, {"stats", "--help"}, {"show", "-h"},
		{"export", "--help"}, {"draw", "--help"}, {"verify", "--help"}} {
		stdout, stderr, err := run(t, args...)
		if err != nil || stderr != "" || !strings.HasPrefix(stdout, "Usage: imaging-tui db ") {
			t.Errorf("Main(%q) = %v, stdout %q, stderr %q; want usage on stdout", args, err, stdout, stderr)
		}
		if len(args) == 2 && !strings.Contains(stdout, "-db path") {
			t.Errorf("Main(%q) does not list --db:\n%s", args, stdout)
		}
	}
}

func TestMissingDatabase(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nothing.db")
	for _, args := range [][]string{{"stats"}, {"show", "1"}, {"export"}, {"draw", "latest"}, {"verify"}} {
		_, _, err := run(t, append(args, "--db", missing)...)
		if err == nil || err.Error() != "no database at "+missing || errors.Is(err, ErrUsage) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Main(%q) on a missing database = %v; want no database at %s", args, err, missing)
		}
	}
}

func TestDefaultDBPath(t *testing.T) {
	t.Chdir(t.TempDir())
	if _, _, err := run(t, "stats"); err == nil || err.Error() != "no database at imaging.db" {
		t.Errorf("stats without --db = %v; want no database at imaging.db", err)
	}
}
