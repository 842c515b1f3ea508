package supervisor

import (
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

func TestRestartPolicyPerKind(t *testing.T) {
	c := DefaultConfig()
	c.Restart = map[stage.Kind]RestartPolicy{
		stage.Extractor: {MaxRestarts: 20, Cap: time.Second},
		stage.Logger:    {Base: 5 * time.Second}, // above the global cap: the cap rises to the base
	}
	global := RestartPolicy{Base: 250 * time.Millisecond, Cap: 8 * time.Second, MaxRestarts: 5, Window: time.Minute}
	tests := []struct {
		kind stage.Kind
		want RestartPolicy
	}{
		{stage.Generator, global},
		{stage.Extractor, RestartPolicy{Base: 250 * time.Millisecond, Cap: time.Second, MaxRestarts: 20, Window: time.Minute}},
		{stage.Logger, RestartPolicy{Base: 5 * time.Second, Cap: 8 * time.Second, MaxRestarts: 5, Window: time.Minute}},
	}
	for _, tt := range tests {
		if got := c.restartPolicy(tt.kind); got != tt.want {
			t.Errorf("restartPolicy(%s) = %+v; want %+v", tt.kind, got, tt.want)
		}
	}
	c.Restart[stage.Logger] = RestartPolicy{Base: 20 * time.Second}
	if got := c.restartPolicy(stage.Logger); got.Cap != 20*time.Second {
		t.Errorf("restartPolicy with base 20s over cap 8s: cap %v; want 20s", got.Cap)
	}
}

// TestPerKindRestartPolicyApplies: a crashing logger with its own
// max_restarts of 1 ends failed after its second failure, while the global
// policy (5) would have restarted it longer.
func TestPerKindRestartPolicyApplies(t *testing.T) {
	r := startFake(t, func(c *Config) {
		c.Restart = map[stage.Kind]RestartPolicy{stage.Logger: {MaxRestarts: 1}}
		c.ExtraArgs = map[stage.Kind][]string{stage.Logger: {"--fake-exit-after", "300ms"}}
	})
	st := r.waitState(t, "logger", StateFailed, 15*time.Second)
	if st.Restarts != 1 {
		t.Errorf("logger restarts = %d when it failed; want 1 (max_restarts 1: the second failure gives up)", st.Restarts)
	}
	if ev := lastEvent(r.sup.Snapshot(), "logger", "failed"); ev == "" || ev != "2 failures within 1m0s: giving up" {
		t.Errorf("logger failed event %q; want the max-restarts rule", ev)
	}
}

func lastEvent(snap Snapshot, name string, kind stage.EventKind) string {
	text := ""
	for _, e := range snap.Events {
		if e.Stage == name && e.Kind == kind {
			text = e.Text
		}
	}
	return text
}
