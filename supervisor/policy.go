package supervisor

import (
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// RestartPolicy is the part of the restart policy that Config.Restart can
// set per stage kind. Zero fields keep the global values.
type RestartPolicy struct {
	Base        time.Duration // first backoff delay (Config.RestartBase)
	Cap         time.Duration // longest backoff delay (Config.RestartCap)
	MaxRestarts int           // failures within Window before the stage ends failed (Config.MaxRestarts)
	Window      time.Duration // (Config.RestartWindow)
}

// restartPolicy returns the policy of the stages of kind: the global
// values, overridden by the positive fields of c.Restart[kind].
func (c *Config) restartPolicy(kind stage.Kind) RestartPolicy {
	p := RestartPolicy{Base: c.RestartBase, Cap: c.RestartCap, MaxRestarts: c.MaxRestarts, Window: c.RestartWindow}
	o := c.Restart[kind]
	if o.Base > 0 {
		p.Base = o.Base
	}
	if o.Cap > 0 {
		p.Cap = o.Cap
	}
	if o.MaxRestarts > 0 {
		p.MaxRestarts = o.MaxRestarts
	}
	if o.Window > 0 {
		p.Window = o.Window
	}
	p.Cap = max(p.Cap, p.Base)
	return p
}
