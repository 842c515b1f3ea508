package stages

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/imaging-tui/imaging-tui/wire"
)

// Delivery modes.
const (
	DeliveryReliable   = "reliable"
	DeliveryBestEffort = "best-effort"
)

// Signals that toggle faults in a running stage.
var (
	sigSilent = syscall.SIGUSR1 // stop or resume status reports
	sigDBFull = syscall.SIGUSR2 // logger: database refuses to grow, or grows again
)

// Common holds the settings every stage has.
type Common struct {
	Status   string // status channel endpoint; "" = none. Defaults (in the CLI) to >tcp://127.0.0.1:5557
	Instance string // instance name in status reports. Defaults to the stage name
	Delivery string // DeliveryReliable or DeliveryBestEffort. Defaults to reliable
	started  time.Time
}

func (c *Common) setDefaults(stage string) {
	if c.Instance == "" {
		c.Instance = stage
	}
	if c.Delivery == "" {
		c.Delivery = DeliveryReliable
	}
	c.started = time.Now()
}

func (c *Common) baseStatus(stage string) wire.Status {
	host, _ := os.Hostname()
	return wire.Status{
		Stage:     stage,
		Instance:  c.Instance,
		PID:       os.Getpid(),
		Host:      host,
		StartedAt: c.started,
		Delivery:  c.Delivery,
	}
}

func checkDelivery(d string) error {
	switch d {
	case "", DeliveryReliable, DeliveryBestEffort:
		return nil
	}
	return fmt.Errorf("unknown delivery %q (want %s or %s)", d, DeliveryReliable, DeliveryBestEffort)
}
