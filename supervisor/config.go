package supervisor

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// MaxReplicas bounds Config.Replicas and Scale.
const MaxReplicas = 16

// Config holds every setting of a supervisor. The zero value is not ready:
// start from DefaultConfig (or RegisterFlags, which sets the same defaults).
type Config struct {
	// Exe is the binary re-executed as `Exe stage KIND ...`. Defaults to
	// os.Executable().
	Exe string
	// Env is added to the environment of every child (tests use it).
	Env []string
	// Notes are lines put in the event log at start, where the console
	// shows them (an edge's join command, say).
	Notes []string

	Images   string         // generator --images; "" = the generator's embedded images
	DB       string         // logger --db. Defaults to imaging.db
	Workers  int            // extractor --workers; 0 = the stage's default (NumCPU)
	Threads  int            // extractor --threads; 0 = the stage's default (1)
	FPS      float64        // generator --fps; 0 = as fast as delivery allows
	Delivery stage.Delivery // Defaults to stage.Reliable
	// Replicas is the number of instances of each replicated kind
	// (Spec.Replicated: the extractor): under reliable delivery they share
	// the generator's work pool, under best-effort each takes --shard i/n.
	// Defaults to 1.
	Replicas int

	// RetainFrames and RetainBytes are the logger's retention: it deletes
	// the oldest frames beyond them. A generator loops over its folder
	// forever, so RetainBytes defaults to 2 GiB: a demo left running all
	// day cannot fill the disk. 0 = keep everything.
	RetainFrames int64
	RetainBytes  int64

	// StatusBind is the status side channel the supervisor SUB-binds; stages
	// get its connect form. Defaults to ipc://RUN/status.sock in the run
	// folder, which only this user can enter: any number of supervisors run
	// side by side, and no other process reports into this one. A tcp://
	// endpoint lets stages on other hosts report (observed only).
	StatusBind string
	// Key is the supervisor's CURVE secret key file and Peers the public
	// keys (a file, or a directory of *.pub) of the stages allowed to report
	// on its tcp:// status endpoints; with a key the supervisor also binds
	// its private ipc:// status endpoint, where its own children report
	// without one. Binding tcp:// beyond loopback without a key fails unless
	// Insecure. Main hands them to the Transport (bus.KeyFiles).
	Key, Peers string
	Insecure   bool
	// RunDir holds the ipc:// endpoints and logs/NAME.log. Defaults to a new
	// temporary directory.
	RunDir string

	RestartBase   time.Duration // first backoff delay. Defaults to 250ms
	RestartCap    time.Duration // longest backoff delay. Defaults to 8s
	MaxRestarts   int           // failures within RestartWindow before a stage ends failed. Defaults to 5
	RestartWindow time.Duration // Defaults to 60s
	QuickExits    int           // exits within MinUptime of start, in a row, before failed. Defaults to 5
	MinUptime     time.Duration // Defaults to 2s
	ResetAfter    time.Duration // a stage up this long has its failure count reset. Defaults to 30s
	// Restart overrides RestartBase, RestartCap, MaxRestarts and
	// RestartWindow for the stages of one kind (generator, extractor,
	// logger); its zero fields keep the values above. Set by the config file.
	Restart map[stage.Kind]RestartPolicy

	StopGrace  time.Duration // SIGTERM → SIGKILL delay for stop and shutdown. Defaults to 10s
	DrainGrace time.Duration // at shutdown, how long a generator may take to drain. Defaults to 5m: it gives up by itself when nothing drains
	StaleAfter time.Duration // no status for this long: stale. Defaults to 1s
	StartWait  time.Duration // in start order, wait this long for a stage's first status before the next. Defaults to 5s

	// Kinds, Host, Expose and Remote spread one pipeline over several hosts
	// (see roles.go: EdgeConfig and JoinConfig fill them).
	//
	// Kinds are the stage kinds this supervisor runs; nil runs every kind.
	Kinds []stage.Kind
	// Host, when set, ends every instance name in "@Host", so that the
	// stages of several hosts reporting to one supervisor keep unique names.
	Host string
	// Expose gives links a tcp:// address that the local stage binding the
	// link binds too, beside its run-folder endpoint: stages on other hosts
	// connect there.
	Expose map[stage.Link]string
	// Remote gives links served by another host: a local stage connects to
	// that address instead of the run folder's. Remote[stage.LinkStatus] is
	// an extra status endpoint every child reports to as well.
	Remote map[stage.Link]string

	// ExtraArgs are appended to the command line of every stage of a kind,
	// e.g. {"logger": {"--retain-frames", "1000"}}.
	ExtraArgs map[stage.Kind][]string

	// Transport carries the status channel and the fault injector's
	// messages (ZeroMQ's: bus.NewTransport). Required: New fails without
	// it. Run closes it, so it serves one supervisor.
	Transport Transport
}

// DefaultRetainBytes is the logger's default retention in bytes.
const DefaultRetainBytes = 2 << 30

// DefaultConfig returns a Config with every default set.
func DefaultConfig() Config {
	return Config{
		DB:            "imaging.db",
		Delivery:      stage.Reliable,
		Replicas:      1,
		RetainBytes:   DefaultRetainBytes,
		RestartBase:   250 * time.Millisecond,
		RestartCap:    8 * time.Second,
		MaxRestarts:   5,
		RestartWindow: 60 * time.Second,
		QuickExits:    5,
		MinUptime:     2 * time.Second,
		ResetAfter:    30 * time.Second,
		StopGrace:     10 * time.Second,
		DrainGrace:    5 * time.Minute,
		StaleAfter:    time.Second,
		StartWait:     5 * time.Second,
	}
}

// RegisterFlags defines the supervisor's flags on fs, with c's fields as their
// destinations, and sets c to DefaultConfig first.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	*c = DefaultConfig()
	fs.StringVar(&c.Images, "images", c.Images, "image `DIR` for the generator (default: the embedded sample images)")
	fs.StringVar(&c.DB, "db", c.DB, "SQLite database `PATH` the logger writes")
	fs.IntVar(&c.Workers, "workers", c.Workers, "SIFT worker goroutines per extractor (0 = number of CPUs)")
	fs.IntVar(&c.Threads, "threads", c.Threads, "OpenCV threads per extractor worker (0 = the stage's default, 1)")
	fs.Float64Var(&c.FPS, "fps", c.FPS, "generator frames per second (0 = as fast as delivery allows; best-effort: 30)")
	fs.Var(&c.Delivery, "delivery", "delivery `MODE`: reliable or best-effort")
	fs.IntVar(&c.Replicas, "replicas", c.Replicas, "extractor replicas (reliable: sharing the generator's work pool; best-effort: each takes --shard i/n)")
	fs.Int64Var(&c.RetainFrames, "retain-frames", c.RetainFrames, "logger: keep only the newest `N` frames (0 = no frame limit)")
	fs.Func("retain-bytes", "logger: keep only the newest frames within `SIZE` of images, e.g. 500MiB, 0 = no limit (default 2GiB)", func(v string) error {
		n, err := stage.ParseSize(v)
		c.RetainBytes = n
		return err
	})
	fs.StringVar(&c.StatusBind, "status-bind", c.StatusBind, "status channel `ENDPOINT` the supervisor binds, stages connect to (default: RUN/status.sock, private to this run; a tcp:// endpoint lets stages on other hosts report)")
	fs.StringVar(&c.Key, "key", c.Key, "CURVE secret key `FILE` (from 'imaging-tui keys') for a tcp:// --status-bind: only --peers may report there")
	fs.StringVar(&c.Peers, "peers", c.Peers, "public keys of the remote stages allowed to report: a `FILE` of keys, one a line, or a directory of *.pub")
	fs.BoolVar(&c.Insecure, "insecure", c.Insecure, "allow a --status-bind beyond loopback without --key: anyone who can reach it may report, unauthenticated and unencrypted")
	fs.StringVar(&c.RunDir, "run-dir", c.RunDir, "`DIR` for ipc:// endpoints and logs/NAME.log (default: a new temporary directory)")
	fs.DurationVar(&c.RestartBase, "restart-base", c.RestartBase, "first restart backoff delay")
	fs.DurationVar(&c.RestartCap, "restart-cap", c.RestartCap, "longest restart backoff delay")
	fs.IntVar(&c.MaxRestarts, "max-restarts", c.MaxRestarts, "failures within --restart-window after which a stage ends failed")
	fs.DurationVar(&c.RestartWindow, "restart-window", c.RestartWindow, "window for --max-restarts")
	fs.DurationVar(&c.StopGrace, "stop-grace", c.StopGrace, "how long a stopped stage may take before SIGKILL")
	fs.DurationVar(&c.DrainGrace, "drain-grace", c.DrainGrace, "at shutdown, how long the generator may take to drain unacknowledged frames")
	for _, kind := range stage.Kinds() {
		fs.Func(string(kind)+"-args", "extra `ARGS` (space-separated) passed to every "+string(kind)+", e.g. \"--window 16\"", func(s string) error {
			if c.ExtraArgs == nil {
				c.ExtraArgs = map[stage.Kind][]string{}
			}
			c.ExtraArgs[kind] = append(c.ExtraArgs[kind], strings.Fields(s)...)
			return nil
		})
	}
}

// withDefaults fills zero fields from DefaultConfig and checks the rest.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.DB == "" {
		c.DB = d.DB
	}
	if c.Delivery == "" {
		c.Delivery = d.Delivery
	}
	if c.Replicas == 0 {
		c.Replicas = d.Replicas
	}
	durs := []struct {
		p *time.Duration
		d time.Duration
	}{
		{&c.RestartBase, d.RestartBase}, {&c.RestartCap, d.RestartCap}, {&c.RestartWindow, d.RestartWindow},
		{&c.MinUptime, d.MinUptime}, {&c.ResetAfter, d.ResetAfter}, {&c.StopGrace, d.StopGrace},
		{&c.DrainGrace, d.DrainGrace}, {&c.StaleAfter, d.StaleAfter}, {&c.StartWait, d.StartWait},
	}
	for _, x := range durs {
		if *x.p <= 0 {
			*x.p = x.d
		}
	}
	if c.MaxRestarts <= 0 {
		c.MaxRestarts = d.MaxRestarts
	}
	if c.QuickExits <= 0 {
		c.QuickExits = d.QuickExits
	}
	var errs []error
	if _, err := stage.ParseDelivery(string(c.Delivery)); err != nil {
		errs = append(errs, fmt.Errorf("delivery %q: want %s or %s", c.Delivery, stage.Reliable, stage.BestEffort))
	}
	if c.Replicas < 1 || c.Replicas > MaxReplicas {
		errs = append(errs, fmt.Errorf("replicas %d: want 1..%d", c.Replicas, MaxReplicas))
	}
	if c.Workers < 0 || c.Threads < 0 || c.FPS < 0 {
		errs = append(errs, errors.New("workers, threads and fps must not be negative"))
	}
	if c.RestartCap < c.RestartBase {
		c.RestartCap = c.RestartBase
	}
	switch {
	case strings.HasPrefix(c.StatusBind, ">"):
		errs = append(errs, fmt.Errorf("status-bind %q: the supervisor binds; use @ENDPOINT", c.StatusBind))
	case c.StatusBind != "" && !strings.HasPrefix(c.StatusBind, "@"):
		c.StatusBind = "@" + c.StatusBind
	}
	return c, errors.Join(errs...)
}
