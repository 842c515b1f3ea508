package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
)

const joinUsage = `Usage: imaging-tui join EDGE [flags]

Runs extractors on this host for the capture host EDGE (a name or an
address), which runs 'imaging-tui --role edge' and printed this command.
They connect to EDGE's links (ports %s) with CURVE, report to it under
the names extractor-i@NAME, and are restarted here when they crash.
SIGINT or SIGTERM stops them cleanly; the last line on stdout is a JSON
summary (frames processed, restarts).

Keys: 'imaging-tui keys NAME' makes NAME.key (give it as --key) and
NAME.pub (list it in the edge's --peers); --edge-key is the edge's public
key, as a file or as the key itself.

Flags:
`

// joinFlags are the flags of imaging-tui join.
type joinFlags struct {
	key, edgeKey, name, runDir string
	insecure                   bool
	delivery                   stage.Delivery
	replicas, workers, threads int
	extraArgs                  string
}

func (j *joinFlags) register(fs *flag.FlagSet) {
	host, _ := os.Hostname()
	fs.StringVar(&j.key, "key", "", "this host's CURVE secret key `FILE` (its .pub must be in the edge's --peers)")
	fs.StringVar(&j.edgeKey, "edge-key", "", "the edge's public key: a `FILE`, or the key itself (40 characters) as the edge printed it")
	fs.BoolVar(&j.insecure, "insecure", false, "connect without CURVE, to an edge run with --insecure")
	fs.StringVar(&j.name, "name", host, "this host's `NAME`, shown by the edge beside its extractors")
	fs.IntVar(&j.replicas, "replicas", 1, "extractor processes (`N`); each runs --workers SIFT workers")
	fs.IntVar(&j.workers, "workers", 0, "SIFT workers per extractor process (0 = this host's cores / --replicas)")
	fs.IntVar(&j.threads, "threads", 0, "OpenCV threads per worker (0 = the stage's default, 1)")
	fs.StringVar(&j.runDir, "run-dir", "", "`DIR` for the local status channel and logs/NAME.log (default: a new temporary directory, removed after a clean stop)")
	j.delivery = stage.Reliable
	fs.Var(&j.delivery, "delivery", "delivery `MODE`, as the edge's: reliable (the work pool) or best-effort (every host receives every frame)")
	fs.StringVar(&j.extraArgs, "extractor-args", "", "extra `ARGS` (space-separated) for every extractor")
}

// parseJoin parses join's arguments: EDGE and flags, in any order.
func parseJoin(args []string, stderr io.Writer) (j joinFlags, edge string, err error) {
	fs := flag.NewFlagSet("imaging-tui join", flag.ContinueOnError)
	fs.SetOutput(stderr)
	j.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), joinUsage, supervisor.LinkPorts(supervisor.RemoteLinks()))
		fs.PrintDefaults()
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return j, "", flag.ErrHelp
			}
			return j, "", stage.ErrUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	switch {
	case len(pos) != 1:
		fmt.Fprintf(stderr, "imaging-tui join: want one EDGE host, got %d (%q)\n", len(pos), pos)
		return j, "", stage.ErrUsage
	case j.replicas < 1 || j.replicas > supervisor.MaxReplicas:
		fmt.Fprintf(stderr, "imaging-tui join: --replicas %d: want 1..%d\n", j.replicas, supervisor.MaxReplicas)
		return j, "", stage.ErrUsage
	case j.workers < 0 || j.threads < 0:
		fmt.Fprintln(stderr, "imaging-tui join: --workers and --threads must not be negative")
		return j, "", stage.ErrUsage
	}
	if j.workers == 0 {
		j.workers = max(1, runtime.NumCPU()/j.replicas)
	}
	return j, pos[0], nil
}

// runJoin runs `imaging-tui join EDGE`: a supervisor of this host's
// extractors, wired to EDGE's links (supervisor.JoinConfig).
func runJoin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	j, edge, err := parseJoin(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	runDir, temp := j.runDir, j.runDir == ""
	if temp {
		runDir, err = os.MkdirTemp("", "imaging-tui-join-")
	} else {
		err = os.MkdirAll(runDir, 0o700)
	}
	if err != nil {
		return err
	}
	cfg, err := j.config(ctx, edge, runDir)
	if err != nil {
		if temp {
			os.RemoveAll(runDir)
		}
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sup, err := supervisor.New(cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "imaging-tui: joining %s as %q: %d extractor(s) of %d worker(s); run folder %s\n",
		edge, j.name, j.replicas, j.workers, runDir)
	defer killOnSecondSignal(sup, stderr, false)() // the second SIGINT/SIGTERM kills at once
	sum, err := superviseJoin(ctx, sup, stderr)
	sum.Host, sum.Edge = j.name, edge
	line, _ := json.Marshal(sum)
	fmt.Fprintf(stdout, "%s\n", line)
	if err == nil && temp && sum.Failed == 0 {
		os.RemoveAll(runDir)
	}
	return err
}

// config checks the keys and that the edge can be reached, then builds the
// supervisor's configuration.
func (j joinFlags) config(ctx context.Context, edge, runDir string) (supervisor.Config, error) {
	cfg := supervisor.DefaultConfig()
	cfg.Replicas, cfg.Workers, cfg.Threads, cfg.RunDir = j.replicas, j.workers, j.threads, runDir
	cfg.Delivery = j.delivery
	cfg.DB = filepath.Join(runDir, "none.db") // no logger here: nothing to read
	// A frame in hand beyond one per worker hides the network's round trip
	// to the edge (a flag in --extractor-args, later, wins).
	cfg.ExtraArgs = map[stage.Kind][]string{stage.Extractor: append([]string{"--prefetch", "1"}, strings.Fields(j.extraArgs)...)}
	edgeKey, err := j.edgeKeyFile(runDir)
	if err != nil {
		return cfg, err
	}
	if !j.insecure {
		files := bus.KeyFiles{Key: j.key, ServerKey: edgeKey}
		if j.key == "" {
			return cfg, errors.New("join: --key FILE is missing: make one with 'imaging-tui keys NAME' and list NAME.pub in the edge's --peers")
		}
		if _, err := files.Load(); err != nil {
			return cfg, fmt.Errorf("join: keys: %w", err)
		}
	}
	if err := reachable(ctx, edge); err != nil {
		return cfg, err
	}
	cfg.Transport = bus.NewTransport() // the status channel is local (ipc://): no key
	return supervisor.JoinConfig(cfg, supervisor.Join{Edge: edge, Host: j.name, Key: j.key, EdgeKey: edgeKey, Insecure: j.insecure})
}

// edgeKeyFile returns --edge-key as a file: as given, or the key itself
// written into the run folder.
func (j joinFlags) edgeKeyFile(runDir string) (string, error) {
	switch {
	case j.insecure && j.edgeKey == "":
		return "", nil
	case j.insecure:
		return "", errors.New("join: --insecure and --edge-key exclude each other")
	case j.edgeKey == "":
		return "", errors.New("join: --edge-key is missing: the edge's public key, as printed by 'imaging-tui --role edge' (or its .pub file)")
	}
	if _, err := os.Stat(j.edgeKey); err == nil || len(j.edgeKey) != 40 {
		return j.edgeKey, nil // a file, or a mistake ReadPublicKey will name
	}
	path := filepath.Join(runDir, "edge.pub")
	if err := os.WriteFile(path, []byte("# the edge's public key, from --edge-key\n"+j.edgeKey+"\n"), 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// reachable checks that EDGE resolves and accepts TCP on its status port,
// so that a typo or a closed firewall is an error now, not extractors
// retrying in silence.
func reachable(ctx context.Context, edge string) error {
	addr := strings.TrimPrefix(supervisor.LinkAddr(edge, stage.LinkStatus), "tcp://")
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("join: cannot reach the edge at %s: %w (is 'imaging-tui --role edge' running there, listening on an address this host can reach, with ports %s open?)",
			addr, err, supervisor.LinkPorts(supervisor.RemoteLinks()))
	}
	return c.Close()
}

// joinSummary is the last line join prints on stdout.
type joinSummary struct {
	Host     string `json:"host"`
	Edge     string `json:"edge"`
	Frames   uint64 `json:"frames"`   // frames its extractors sent on, over every process of each
	Restarts int    `json:"restarts"` // restarts after crashes or kills
	Failed   int    `json:"failed"`   // extractors given up on (too many quick exits)
	Refused  uint64 `json:"refused"`  // CURVE handshakes refused, as its extractors last reported
}

// superviseJoin runs sup until ctx is done, or until every extractor has
// failed: it prints the supervisor's events on w and warns when the edge
// refuses this host's key.
func superviseJoin(ctx context.Context, sup *supervisor.Supervisor, w io.Writer) (joinSummary, error) {
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- sup.Run(runCtx) }()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var seen uint64
	var failedErr error
	warned := false
	for {
		var runErr error
		finished := false
		select {
		case runErr = <-done:
			finished = true
		case <-tick.C:
		}
		snap := sup.Snapshot()
		printEvents(snap, &seen, w)
		sum := summarize(snap)
		if finished {
			return sum, errors.Join(runErr, failedErr)
		}
		if sum.Refused > 0 && !warned {
			warned = true
			fmt.Fprintf(w, "imaging-tui: the edge refused this host's key (%d handshake(s)): is its .pub in the edge's --peers, and --edge-key the edge's public key?\n", sum.Refused)
		}
		if sum.Failed == len(snap.Stages) && sum.Failed > 0 && failedErr == nil {
			failedErr = fmt.Errorf("join: every extractor failed; their logs are in %s", filepath.Join(sup.RunDir(), "logs"))
			stop()
		}
	}
}

// summarize counts the frames sent on (over every process, scaled-away
// instances included: Snapshot.Kinds), restarts, failed extractors and
// refused handshakes of snap.
func summarize(snap supervisor.Snapshot) joinSummary {
	var sum joinSummary
	for _, k := range snap.Kinds {
		sum.Frames += k.FramesOut
	}
	for _, st := range snap.Stages {
		sum.Restarts += st.Restarts
		if st.State == supervisor.StateFailed {
			sum.Failed++
		}
		if st.Status != nil {
			sum.Refused += st.Status.Refused
		}
	}
	return sum
}

// printEvents prints the events after *seen on w.
func printEvents(snap supervisor.Snapshot, seen *uint64, w io.Writer) {
	for _, e := range snap.Events {
		if e.Seq > *seen {
			*seen = e.Seq
			fmt.Fprintf(w, "imaging-tui: %s %s %s: %s\n", e.At.Format("15:04:05"), e.Stage, e.Kind, e.Text)
		}
	}
}
