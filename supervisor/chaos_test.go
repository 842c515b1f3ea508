package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

func TestParseChaos(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   []ChaosStep
	}{
		{"empty", "", nil},
		{"blank steps", " ; ;\n", nil},
		{"issue example", "5s kill extractor; 8s pause logger; 12s resume logger; 20s restart-all", []ChaosStep{
			{At: 5 * time.Second, Verb: "kill", Stage: "extractor", Text: "5s kill extractor"},
			{At: 8 * time.Second, Verb: "pause", Stage: "logger", Text: "8s pause logger"},
			{At: 12 * time.Second, Verb: "resume", Stage: "logger", Text: "12s resume logger"},
			{At: 20 * time.Second, Verb: "restart-all", Text: "20s restart-all"},
		}},
		{"sorted by time, stable", "2s stop logger\n1s start generator; 2s up extractor-1", []ChaosStep{
			{At: time.Second, Verb: "start", Stage: "generator", Text: "1s start generator"},
			{At: 2 * time.Second, Verb: "stop", Stage: "logger", Text: "2s stop logger"},
			{At: 2 * time.Second, Verb: "up", Stage: "extractor-1", Text: "2s up extractor-1"},
		}},
		{"scale and faults", "1m30s scale +2; 500ms scale -1; 3s corrupt extractor-0; 4s dbfull logger; 5s clear slow generator; 6s down logger", []ChaosStep{
			{At: 500 * time.Millisecond, Verb: "scale", Delta: -1, Text: "500ms scale -1"},
			{At: 3 * time.Second, Verb: "fault", Stage: "extractor-0", Fault: stage.FaultCorrupt, Text: "3s corrupt extractor-0"},
			{At: 4 * time.Second, Verb: "fault", Stage: "logger", Fault: stage.FaultDBFull, Text: "4s dbfull logger"},
			{At: 5 * time.Second, Verb: "clear", Stage: "generator", Fault: stage.FaultSlow, Text: "5s clear slow generator"},
			{At: 6 * time.Second, Verb: "down", Stage: "logger", Text: "6s down logger"},
			{At: 90 * time.Second, Verb: "scale", Delta: 2, Text: "1m30s scale +2"},
		}},
		{"every fault verb", "1s truncate logger; 1s slow extractor; 1s crashloop generator; 1s silent logger; # comment\n1s restart logger", []ChaosStep{
			{At: time.Second, Verb: "fault", Stage: "logger", Fault: stage.FaultTruncate, Text: "1s truncate logger"},
			{At: time.Second, Verb: "fault", Stage: "extractor", Fault: stage.FaultSlow, Text: "1s slow extractor"},
			{At: time.Second, Verb: "fault", Stage: "generator", Fault: stage.FaultCrashLoop, Text: "1s crashloop generator"},
			{At: time.Second, Verb: "fault", Stage: "logger", Fault: stage.FaultSilent, Text: "1s silent logger"},
			{At: time.Second, Verb: "restart", Stage: "logger", Text: "1s restart logger"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChaos(tt.script)
			if err != nil {
				t.Fatalf("ParseChaos(%q) error %v", tt.script, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("ParseChaos(%q) = %+v; want %+v", tt.script, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("ParseChaos(%q)[%d] = %+v; want %+v", tt.script, i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseChaosErrors(t *testing.T) {
	tests := []struct {
		script   string
		step     int
		col      int
		contains string
	}{
		{"kill extractor", 1, 1, "bad time"},
		{"5s", 1, 3, "missing verb"},
		{"5s kil extractor", 1, 4, `unknown verb "kil"`},
		{"1s kill logger; 5s kil extractor", 2, 20, `unknown verb "kil"`},
		{"1s kill logger;\n  -5s stop logger", 2, 19, "bad time"},
		{"1s kill", 1, 8, "kill needs a STAGE"},
		{"1s kill logger now", 1, 16, `unexpected "now"`},
		{"1s kill camera", 1, 9, `bad stage "camera"`},
		{"1s scale 2", 1, 10, "want +N or -N"},
		{"1s scale +0", 1, 10, "want +N or -N"},
		{"1s scale", 1, 9, "scale needs +N or -N"},
		{"1s restart-all logger", 1, 16, "restart-all takes no arguments"},
		{"1s dbfull extractor", 1, 11, "logger only"},
		{"1s clear kill logger", 1, 10, `bad fault "kill"`},
		{"1s clear slow", 1, 14, "clear needs FAULT STAGE"},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			_, err := ParseChaos(tt.script)
			var ce *ChaosError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseChaos(%q) = %v; want a *ChaosError", tt.script, err)
			}
			if ce.Step != tt.step || ce.Col != tt.col || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("ParseChaos(%q) = step %d col %d %q; want step %d col %d containing %q",
					tt.script, ce.Step, ce.Col, err, tt.step, tt.col, tt.contains)
			}
		})
	}
}

// TestHeadlessWithFakes runs the headless mode on fake stages: status lines,
// chaos steps, and the summary as the last line. The fakes store nothing, so
// the progress invariant fails and RunHeadless says so.
func TestHeadlessWithFakes(t *testing.T) {
	cfg := fakeConfig(shortTempDir(t))
	sup, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum, err := RunHeadless(context.Background(), sup, HeadlessOptions{
		For:   3 * time.Second,
		Chaos: "1s kill extractor; 1.2s pause logger; 1.5s resume logger; 1.6s silent generator; 1.7s bogus-verb-is-caught-at-parse",
		Out:   &out,
	})
	var ce *ChaosError
	if !errors.As(err, &ce) {
		t.Fatalf("RunHeadless with a bad script = %v; want a *ChaosError before starting", err)
	}

	sum, err = RunHeadless(context.Background(), sup, HeadlessOptions{
		For:   9 * time.Second, // fakes may take a few seconds to start on a loaded machine
		Chaos: "3s kill extractor; 3s pause logger; 7s resume logger; 4s stop extractor-7",
		Out:   &out,
	})
	t.Logf("output:\n%s", out.String())
	if !errors.Is(err, ErrInvariant) {
		t.Fatalf("RunHeadless = %v; want ErrInvariant (the fakes store no frames)", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var last Summary
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &last); jerr != nil {
		t.Fatalf("last line %q is not the summary: %v", lines[len(lines)-1], jerr)
	}
	if last.OK || last.Kills != 1 || last.Restarts["extractor-0"] != 1 || last.FramesPublished == 0 ||
		last.FPS["generator"] <= 0 || last.StopReason != "ran for 9s" {
		t.Errorf("summary = %+v; want not ok, 1 kill, extractor-0 restarted once, frames published, generator fps > 0", last)
	}
	if last.OK != sum.OK || last.Kills != sum.Kills {
		t.Errorf("printed summary %+v differs from the returned one %+v", last, sum)
	}
	inv := map[string]bool{}
	for _, i := range last.Invariants {
		inv[i.Name] = i.OK
	}
	if ok, found := inv["progress"]; !found || ok {
		t.Errorf("invariants %+v; want progress failing", last.Invariants)
	}
	if !inv["no_orphans"] {
		t.Errorf("invariants %+v; want no_orphans ok", last.Invariants)
	}
	text := out.String()
	for _, want := range []string{"chaos 3s kill extractor", "chaos 3s pause logger", "logger stale: no status", "extractor-0 kill: SIGKILL",
		"generator running 10.0fps", "stopping: ran for 9s", "4s stop extractor-7: stop extractor-7: unknown stage"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestChaosWaitsForBackoff: a step aimed at a stage that has no process at
// that moment (killed, in backoff) is applied once it has one again, and a
// step that can never apply (resume of a stage not paused) is skipped with
// its reason; neither is a chaos error.
func TestChaosWaitsForBackoff(t *testing.T) {
	cfg := fakeConfig(shortTempDir(t))
	cfg.RestartBase, cfg.RestartCap = time.Second, time.Second // a backoff long enough to meet
	sup, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum, _ := RunHeadless(context.Background(), sup, HeadlessOptions{
		For:   9 * time.Second,
		Chaos: "3s kill extractor; 3.1s kill extractor; 3.2s pause extractor; 3.3s resume extractor; 3.4s resume logger",
		Out:   &out,
	})
	t.Logf("output:\n%s", out.String())
	if len(sum.ChaosErrors) > 0 {
		t.Errorf("chaos errors %q; want none", sum.ChaosErrors)
	}
	if sum.Kills != 2 || sum.Restarts["extractor-0"] != 2 {
		t.Errorf("%d kills, extractor-0 restarted %d times; want the second kill applied after the restart: 2, 2",
			sum.Kills, sum.Restarts["extractor-0"])
	}
	want := "3.4s resume logger: logger is not paused"
	if !slices.Contains(sum.ChaosSkipped, want) || len(sum.ChaosSkipped) != 1 {
		t.Errorf("skipped %q; want only %q", sum.ChaosSkipped, want)
	}
	if !strings.Contains(out.String(), "chaos 3.1s kill extractor: waiting: extractor-0 has no process to act on (backoff)") {
		t.Errorf("no line says the second kill waits for the extractor's backoff")
	}
}

// TestSummaryKeepsScaledAway: an extractor replica killed and then scaled
// away stays in the summary with its kill and restart.
func TestSummaryKeepsScaledAway(t *testing.T) {
	cfg := fakeConfig(shortTempDir(t))
	sup, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum, _ := RunHeadless(context.Background(), sup, HeadlessOptions{
		For:   8 * time.Second,
		Chaos: "2s scale +1; 4s kill extractor-1; 6s scale -1",
		Out:   &out,
	})
	t.Logf("output:\n%s", out.String())
	if sum.Kills != 1 || sum.Restarts["extractor-1"] != 1 {
		t.Errorf("summary: %d kills, restarts %v; want extractor-1's kill and restart kept after it was scaled away",
			sum.Kills, sum.Restarts)
	}
	if _, ok := sum.FPS["extractor-1"]; !ok {
		t.Errorf("summary fps %v lacks extractor-1", sum.FPS)
	}
}
