package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// Errors returned by the operator API.
var (
	ErrUnknownStage = errors.New("unknown stage")
	ErrRemote       = errors.New("remote stage: observed, not controlled")
	ErrNotRunning   = errors.New("supervisor not running")
	ErrClosed       = errors.New("supervisor shut down")
	ErrNoTransport  = errors.New("supervisor: no Config.Transport")
)

// StageError is an operator command's error about one stage.
type StageError struct {
	Stage string
	Op    string
	Err   error
}

func (e *StageError) Error() string { return fmt.Sprintf("%s %s: %v", e.Op, e.Stage, e.Err) }
func (e *StageError) Unwrap() error { return e.Err }

const (
	maxEvents      = 200
	fpsHistory     = 60
	remoteForget   = 30 * time.Second // a remote stage silent this long is dropped from the list
	statusErrEvery = 5 * time.Second  // at most one status-error event this often
)

// Supervisor runs the pipeline's stage processes. Create it with New, run it
// with Run; every other method is safe for concurrent use and returns at
// once (long work runs in goroutines the supervisor owns and Run waits for).
type Supervisor struct {
	cfg Config
	log *slog.Logger

	opMu sync.Mutex    // serializes bulk operations: start-all, restart-all, scale, shutdown
	quit chan struct{} // closed when shutdown begins: bulk operations abort
	wg   sync.WaitGroup

	mu           sync.Mutex
	insts        []*instance // local stages, in start order
	remotes      []*instance // stages reporting from elsewhere
	replicas     int         // instances wanted of each replicated kind
	events       []Event
	eventSeq     uint64
	statusErrs   uint64
	lastErrEvent time.Time
	dbStats      DBStats
	streams      map[uint64]*StreamSnapshot
	streamOrder  []uint64
	spawned      []int // every child pid (= pgid) ever started, for Leftovers
	running      bool  // Run has begun
	shutting     bool  // shutdown has begun
	closed       bool  // every child is stopped; managers exit
	changed      chan struct{}
	statusConn   string // connect form of the status endpoint, for the children
	totals       totals // per-kind figures of instances scaled away (history.go)
	// Where the generators keep their stream state, and what a previous
	// run left there (streamstate.go).
	stateDir  string
	stateLock *os.File
	resumed   []ResumedStream
}

// instance is one stage instance. Its fields are guarded by Supervisor.mu;
// its manager goroutine (restart.go) owns its process.
type instance struct {
	name   string
	kind   stage.Kind
	index  int  // shard index of a replicated kind
	remote bool // observed only

	wantRun    bool // the operator (or the start order) wants it running
	restartReq bool // stop the current process and start again at once
	failed     bool // gave up; only Start, Restart or clearing crashloop revive it
	removed    bool // scaled away: the manager exits
	stopGrace  time.Duration

	pid          int
	spawning     bool // the manager is starting a process
	startedAt    time.Time
	stopping     bool // SIGTERM sent on request
	operatorKill bool // the current process was SIGKILLed by the operator
	spawns       int

	state        State
	restarts     int
	lastExit     string
	backoffUntil time.Time
	consecutive  int // failures in a row, for the backoff delay
	quick        int // exits within MinUptime of start, in a row
	failTimes    []time.Time

	faults   map[stage.Fault]bool
	paused   bool
	slowStop chan struct{} // closes the slow duty cycle
	kills    int

	status       *wire.Status
	lastStatusAt time.Time
	fps          []float64
	dropPID      int
	dropBase     uint64
	dropLast     uint64

	wake chan struct{} // capacity 1: something changed for the manager
	logs *logSink
	hist history // past processes and states, for the console (history.go)
}

// New checks cfg, fills its defaults and prepares the stage list in the
// default start order, stage.Table's: one instance of each kind, named as
// the kind, or cfg.Replicas of a replicated kind, named KIND-0..KIND-n-1
// (generator, extractor-0..n-1, logger). It starts nothing.
func New(cfg Config, logger *slog.Logger) (*Supervisor, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("supervisor config: %w", err)
	}
	if cfg.Transport == nil {
		return nil, ErrNoTransport
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Exe == "" {
		if cfg.Exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("supervisor: find own executable: %w", err)
		}
	}
	if cfg.RunDir == "" {
		if cfg.RunDir, err = os.MkdirTemp("", "imaging-tui-"); err != nil {
			return nil, fmt.Errorf("supervisor: run dir: %w", err)
		}
	} else if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil { // its sockets are the pipeline's links
		return nil, fmt.Errorf("supervisor: run dir: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(cfg.RunDir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("supervisor: log dir: %w", err)
	}
	if n := len(ipcAddr(cfg.RunDir, longestEndpointName())); n > 100 {
		return nil, fmt.Errorf("supervisor: run dir %q too long for ipc:// endpoints (unix socket paths stop near 100 bytes)", cfg.RunDir)
	}
	private := stage.Bind(ipcAddr(cfg.RunDir, statusFile))
	switch {
	case cfg.StatusBind == "":
		cfg.StatusBind = private
	case cfg.Key != "" && !strings.Contains(cfg.StatusBind, "ipc://"):
		// The children have no key: they report on the private endpoint.
		cfg.StatusBind = private + "," + cfg.StatusBind
	}
	s := &Supervisor{
		cfg:      cfg,
		log:      logger,
		quit:     make(chan struct{}),
		replicas: cfg.Replicas,
		streams:  map[uint64]*StreamSnapshot{},
		changed:  make(chan struct{}),
	}
	for _, sp := range stage.Table {
		switch {
		case !cfg.runs(sp.Kind):
		case !sp.Replicated:
			s.insts = append(s.insts, s.newInstance(sp.Kind, s.instanceName(sp.Kind, 0), 0))
		default:
			for i := range cfg.Replicas {
				s.insts = append(s.insts, s.newInstance(sp.Kind, s.instanceName(sp.Kind, i), i))
			}
		}
	}
	return s, nil
}

// replicaName names instance i of a replicated kind: "extractor-1".
func replicaName(kind stage.Kind, i int) string { return string(kind) + "-" + strconv.Itoa(i) }

// replicated reports whether stages of kind run as several instances.
func replicated(kind stage.Kind) bool {
	sp, ok := stage.Lookup(kind)
	return ok && sp.Replicated
}

func (s *Supervisor) newInstance(kind stage.Kind, name string, index int) *instance {
	in := &instance{
		name:      name,
		kind:      kind,
		index:     index,
		state:     StateStopped,
		stopGrace: s.cfg.StopGrace,
		faults:    map[stage.Fault]bool{},
		wake:      make(chan struct{}, 1),
	}
	sink, err := newLogSink(filepath.Join(s.cfg.RunDir, "logs", name+".log"))
	if err != nil {
		s.log.Warn("stage log file unavailable", "stage", name, "err", err)
	}
	in.logs = sink
	return in
}

// RunDir returns the directory holding the ipc:// endpoints and logs/.
func (s *Supervisor) RunDir() string { return s.cfg.RunDir }

// Config returns the supervisor's settings, defaults filled in.
func (s *Supervisor) Config() Config { return s.cfg }

// Run binds the status channel, starts the stages in start order, watches and
// restarts them, and serves the operator commands until ctx is done. Then it
// shuts the pipeline down — generators first (they drain), then the others in
// reverse start order — and returns once every child has been reaped. Run may
// be called once.
func (s *Supervisor) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("supervisor: Run called twice")
	}
	s.running = true
	s.mu.Unlock()

	tr := s.cfg.Transport
	defer tr.Close() // after the loops below, the only users of its channels, have returned
	bound, err := tr.BindStatus(s.cfg.StatusBind)
	if err != nil {
		s.closeAll()
		return fmt.Errorf("supervisor: bind status channel %s: %w", s.cfg.StatusBind, err)
	}
	s.statusConn = connectForm(bound)
	s.log.Info("supervisor running", "status", s.statusConn, "run_dir", s.cfg.RunDir)

	s.claimStreamState()
	defer s.releaseStreamState()
	s.mu.Lock()
	for _, n := range s.cfg.Notes {
		s.eventLocked(nil, stage.EventNote, "%s", n)
	}
	s.mu.Unlock()

	bgQuit := make(chan struct{}) // closed after the shutdown: background loops exit
	var bg sync.WaitGroup
	bg.Add(4)
	go func() { defer bg.Done(); s.statusLoop(bgQuit) }()
	go func() { defer bg.Done(); s.monitorLoop(bgQuit) }()
	go func() { defer bg.Done(); s.dbLoop(bgQuit) }()
	go func() { defer bg.Done(); s.injectLoop(bgQuit) }()

	s.mu.Lock()
	for _, in := range s.insts {
		s.startManagerLocked(in)
	}
	s.mu.Unlock()
	_ = s.bulk("start", func(quit <-chan struct{}) {
		s.startInOrder(s.order(nil), quit)
	})

	<-ctx.Done()
	s.shutdown()
	close(bgQuit)
	bg.Wait()
	s.closeAll()
	return nil
}

// connectForm turns the bound status endpoints into the connect form the
// children get: ">tcp://127.0.0.1:5557", with a wildcard host made loopback.
// When an ipc:// endpoint is bound they get only those: it is private to
// the run, and a tcp one may be CURVE, for which they have no key.
func connectForm(eps []string) string {
	if slices.ContainsFunc(eps, isIPC) {
		eps = slices.DeleteFunc(slices.Clone(eps), func(ep string) bool { return !isIPC(ep) })
	}
	out := make([]string, 0, len(eps))
	for _, ep := range eps {
		ep = strings.TrimLeft(ep, "@>")
		if rest, ok := strings.CutPrefix(ep, "tcp://"); ok {
			if h, port, ok := strings.Cut(rest, ":"); ok && (h == "*" || h == "0.0.0.0" || h == "") {
				ep = "tcp://127.0.0.1:" + port
			}
		}
		out = append(out, ">"+ep)
	}
	return strings.Join(out, ",")
}

func isIPC(ep string) bool { return strings.HasPrefix(strings.TrimLeft(ep, "@>"), "ipc://") }

func (s *Supervisor) startManagerLocked(in *instance) {
	s.wg.Add(1)
	go s.manage(in)
}

// shutdown stops every child: faults cleared, generators first (each may
// drain for DrainGrace), then the others in reverse start order.
func (s *Supervisor) shutdown() {
	s.mu.Lock()
	s.shutting = true
	close(s.quit)
	s.mu.Unlock()
	s.opMu.Lock() // wait for a running bulk operation to abort

	s.mu.Lock()
	s.eventLocked(nil, stage.EventShutdown, "stopping the pipeline")
	for _, in := range s.insts {
		s.clearAllFaultsLocked(in, "shutdown")
	}
	order := slices.Clone(s.insts)
	s.mu.Unlock()

	s.stopAll(order, nil)
	s.opMu.Unlock() // bulk operations queued behind us see quit and return
	s.mu.Lock()
	s.closed = true
	for _, in := range s.insts {
		s.wakeLocked(in)
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	s.eventLocked(nil, stage.EventShutdown, "all stages stopped")
	s.mu.Unlock()
}

// stopAll stops the stages of order: the generators first, each draining
// its frames in flight while everything downstream still runs, then the rest
// in reverse start order.
func (s *Supervisor) stopAll(order []*instance, quit <-chan struct{}) {
	for _, in := range order {
		if in.kind == stage.Generator {
			s.stopAndWait(in, s.cfg.DrainGrace, quit)
		}
	}
	for _, in := range slices.Backward(order) {
		if in.kind != stage.Generator {
			s.stopAndWait(in, s.cfg.StopGrace, quit)
		}
	}
}

// closeAll marks the supervisor finished (also after a failed start, so
// later commands get ErrClosed) and closes the stage logs.
func (s *Supervisor) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.shutting {
		s.shutting = true
		close(s.quit)
	}
	s.closed = true
	for _, in := range s.insts {
		in.logs.close()
	}
}

// Leftovers returns the process groups of children this supervisor started
// that still have a live process. After Run returns it should be empty.
func (s *Supervisor) Leftovers() []int {
	s.mu.Lock()
	pids := slices.Clone(s.spawned)
	s.mu.Unlock()
	var out []int
	for _, p := range pids {
		if groupAlive(p) {
			out = append(out, p)
		}
	}
	return out
}

// ---- helpers under s.mu ----

func (s *Supervisor) wakeLocked(in *instance) {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// notifyLocked tells waiters (waitFor) that some state changed.
func (s *Supervisor) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Supervisor) setStateLocked(in *instance, st State) {
	if in.state == st {
		return
	}
	in.state = st
	in.hist.recordState(st, time.Now())
	s.notifyLocked()
}

func (s *Supervisor) eventLocked(in *instance, kind stage.EventKind, format string, args ...any) {
	s.eventSeq++
	e := Event{Seq: s.eventSeq, At: time.Now(), Kind: kind, Text: fmt.Sprintf(format, args...)}
	if in != nil {
		e.Stage = in.name
	}
	if len(s.events) >= maxEvents {
		copy(s.events, s.events[1:])
		s.events = s.events[:len(s.events)-1]
	}
	s.events = append(s.events, e)
	s.log.Info(e.Text, "stage", e.Stage, "event", string(kind))
}

// lookupLocked finds a stage by instance name, local first.
func (s *Supervisor) lookupLocked(name string) *instance {
	for _, in := range s.insts {
		if in.name == name {
			return in
		}
	}
	for _, in := range s.remotes {
		if in.name == name {
			return in
		}
	}
	return nil
}

// controlLocked finds a local stage the operator may command.
func (s *Supervisor) controlLocked(op, name string) (*instance, error) {
	if !s.running {
		return nil, &StageError{name, op, ErrNotRunning}
	}
	if s.shutting {
		return nil, &StageError{name, op, ErrClosed}
	}
	in := s.lookupLocked(name)
	switch {
	case in == nil:
		return nil, &StageError{name, op, ErrUnknownStage}
	case in.remote:
		return nil, &StageError{name, op, ErrRemote}
	}
	return in, nil
}

// order returns the local stages in start order, those matching keep only.
func (s *Supervisor) order(keep func(*instance) bool) []*instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*instance
	for _, in := range s.insts {
		if keep == nil || keep(in) {
			out = append(out, in)
		}
	}
	return out
}

// waitFor waits until cond (evaluated under s.mu) holds, timeout passes
// (0 = none) or quit closes. It reports whether cond held.
func (s *Supervisor) waitFor(cond func() bool, timeout time.Duration, quit <-chan struct{}) bool {
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-tc:
			return false
		case <-quit:
			return false
		}
	}
}

// bulk runs f in a goroutine, one bulk operation at a time. f should return
// soon after quit closes.
func (s *Supervisor) bulk(what string, f func(quit <-chan struct{})) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return fmt.Errorf("%s: %w", what, ErrNotRunning)
	}
	if s.shutting {
		return fmt.Errorf("%s: %w", what, ErrClosed)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.opMu.Lock()
		defer s.opMu.Unlock()
		select {
		case <-s.quit:
			return
		default:
		}
		f(s.quit)
	}()
	return nil
}

// startInOrder starts each stage in turn and waits (up to StartWait) for its
// first status, or for it to fail, before the next.
func (s *Supervisor) startInOrder(list []*instance, quit <-chan struct{}) {
	for _, in := range list {
		s.mu.Lock()
		if in.removed {
			s.mu.Unlock()
			continue
		}
		n0 := in.spawns
		s.reviveLocked(in)
		s.mu.Unlock()
		s.waitFor(func() bool {
			return !in.wantRun || in.removed || in.state == StateRunning || in.state == StateFailed ||
				(in.spawns > n0 && in.pid == 0)
		}, s.cfg.StartWait, quit)
		select {
		case <-quit:
			return
		default:
		}
	}
}

// reviveLocked asks for in to run now, forgetting failures and backoff.
func (s *Supervisor) reviveLocked(in *instance) {
	in.wantRun = true
	in.failed = false
	in.backoffUntil = time.Time{}
	in.consecutive, in.quick, in.failTimes = 0, 0, nil
	s.wakeLocked(in)
}

// stopAndWait asks in to stop (SIGTERM, SIGKILL after grace) and waits until
// it has. quit may be nil.
func (s *Supervisor) stopAndWait(in *instance, grace time.Duration, quit <-chan struct{}) {
	s.mu.Lock()
	in.wantRun = false
	in.restartReq = false
	in.stopGrace = grace
	s.wakeLocked(in)
	s.mu.Unlock()
	s.waitFor(func() bool {
		return in.pid == 0 && !in.spawning && (in.state == StateStopped || in.state == StateFailed)
	}, 0, quit)
}
