package config

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
	"github.com/imaging-tui/imaging-tui/supervisor/metrics"
)

// Settings are everything the supervisor's command line sets.
type Settings struct {
	Supervisor supervisor.Config
	Headless   supervisor.HeadlessOptions // Out is left to the caller
	Metrics    string                     // --metrics ADDR; "" = no metrics endpoint
	NoTUI      bool                       // --no-tui
	NoConfirm  bool                       // --no-confirm: the console's destructive keys act at once
	Tour       bool                       // --tour: the console plays its guided walkthrough
	ConfigFile string                     // --config FILE; "" = none
}

// RegisterFlags defines every flag of the supervisor's command line on fs,
// with s's fields as their destinations, and sets s to the defaults first.
func (s *Settings) RegisterFlags(fs *flag.FlagSet) {
	*s = Settings{}
	s.Supervisor.RegisterFlags(fs)
	s.Headless.RegisterFlags(fs)
	fs.BoolVar(&s.NoTUI, "no-tui", false, "run headless: status lines on stdout, then one JSON summary (for CI and scripts)")
	fs.BoolVar(&s.NoConfirm, "no-confirm", false, "console: destructive keys (K, x, r, R, -) act at once instead of asking y/n first (for demos)")
	fs.BoolVar(&s.Tour, "tour", false, "console: play a guided walkthrough (a kill, a pause, a fault, a reorder), narrated in the event pane")
	fs.StringVar(&s.Metrics, "metrics", "", "serve Prometheus metrics on http://`ADDR`/metrics, e.g. 127.0.0.1:9464 (default: off)")
	fs.StringVar(&s.ConfigFile, "config", "", "read settings from `FILE` (.yaml, .yml or .toml); flags given on the command line override it")
}

// ApplyFile reads s.ConfigFile, if set, and applies each of its settings
// whose flag was not given on fs, which must have been parsed.
func (s *Settings) ApplyFile(fs *flag.FlagSet) error {
	if s.ConfigFile == "" {
		return nil
	}
	f, err := Load(s.ConfigFile)
	if err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	f.Apply(s, given)
	return nil
}

// apply sets *dst to *v unless v is nil or the flag was given.
func apply[T any](given map[string]bool, flag string, dst *T, v *T) {
	if v != nil && !given[flag] {
		*dst = *v
	}
}

func applyDuration(given map[string]bool, flag string, dst *time.Duration, v *Duration) {
	if v != nil && !given[flag] {
		*dst = time.Duration(*v)
	}
}

// Apply sets s from f: every setting present in f whose flag is not in
// given (flag names, without dashes).
func (f *File) Apply(s *Settings, given map[string]bool) {
	c := &s.Supervisor
	apply(given, "images", &c.Images, f.Images)
	apply(given, "db", &c.DB, f.DB)
	apply(given, "delivery", &c.Delivery, f.Delivery)
	apply(given, "workers", &c.Workers, f.Workers)
	apply(given, "threads", &c.Threads, f.Threads)
	apply(given, "fps", &c.FPS, f.FPS)
	apply(given, "replicas", &c.Replicas, f.Replicas)
	apply(given, "run-dir", &c.RunDir, f.RunDir)
	apply(given, "no-tui", &s.NoTUI, f.NoTUI)
	if e := f.Endpoints; e != nil {
		apply(given, "status-bind", &c.StatusBind, e.Status)
		apply(given, "metrics", &s.Metrics, e.Metrics)
	}
	if r := f.Restart; r != nil {
		applyDuration(given, "restart-base", &c.RestartBase, r.Base)
		applyDuration(given, "restart-cap", &c.RestartCap, r.Cap)
		apply(given, "max-restarts", &c.MaxRestarts, r.MaxRestarts)
		applyDuration(given, "restart-window", &c.RestartWindow, r.Window)
	}
	applyDuration(given, "stop-grace", &c.StopGrace, f.StopGrace)
	applyDuration(given, "drain-grace", &c.DrainGrace, f.DrainGrace)
	for _, kind := range stage.Kinds() {
		st := f.Stages[kind]
		if st == nil {
			continue
		}
		if st.Args != nil && !given[string(kind)+"-args"] {
			if c.ExtraArgs == nil {
				c.ExtraArgs = map[stage.Kind][]string{}
			}
			c.ExtraArgs[kind] = slices.Clone(st.Args)
			if len(st.Args) == 0 {
				delete(c.ExtraArgs, kind)
			}
		}
		if r := st.Restart; r != nil { // no flag: the file's per-kind policy always applies
			var p supervisor.RestartPolicy
			applyDuration(nil, "", &p.Base, r.Base)
			applyDuration(nil, "", &p.Cap, r.Cap)
			apply(nil, "", &p.MaxRestarts, r.MaxRestarts)
			applyDuration(nil, "", &p.Window, r.Window)
			if c.Restart == nil {
				c.Restart = map[stage.Kind]supervisor.RestartPolicy{}
			}
			c.Restart[kind] = p
		}
		apply(given, "retain-frames", &c.RetainFrames, st.RetainFrames)
		if st.RetainBytes != nil && !given["retain-bytes"] {
			c.RetainBytes = int64(*st.RetainBytes)
		}
	}
	if h := f.Headless; h != nil {
		applyDuration(given, "for", &s.Headless.For, h.For)
		apply(given, "frames", &s.Headless.Frames, h.Frames)
		apply(given, "chaos", &s.Headless.Chaos, h.Chaos)
		apply(given, "json", &s.Headless.JSON, h.JSON)
	}
}

func ptr[T any](v T) *T { return &v }

func dur(d time.Duration) *Duration { return ptr(Duration(d)) }

// FileOf returns s as a File with every setting present: the effective
// configuration, which Apply turns back into s.
func FileOf(s Settings) File {
	c := s.Supervisor
	f := File{
		Images:     ptr(c.Images),
		DB:         ptr(c.DB),
		Delivery:   ptr(c.Delivery),
		Workers:    ptr(c.Workers),
		Threads:    ptr(c.Threads),
		FPS:        ptr(c.FPS),
		Replicas:   ptr(c.Replicas),
		RunDir:     ptr(c.RunDir),
		NoTUI:      ptr(s.NoTUI),
		Endpoints:  &Endpoints{Status: ptr(c.StatusBind), Metrics: ptr(s.Metrics)},
		Restart:    &Restart{Base: dur(c.RestartBase), Cap: dur(c.RestartCap), MaxRestarts: ptr(c.MaxRestarts), Window: dur(c.RestartWindow)},
		StopGrace:  dur(c.StopGrace),
		DrainGrace: dur(c.DrainGrace),
		Stages:     Stages{},
		Headless: &Headless{For: dur(s.Headless.For), Frames: ptr(s.Headless.Frames), Chaos: ptr(s.Headless.Chaos),
			JSON: ptr(s.Headless.JSON)},
	}
	for _, kind := range stage.Kinds() {
		st := &Stage{Args: slices.Clone(c.ExtraArgs[kind])}
		if p, ok := c.Restart[kind]; ok {
			r := &Restart{}
			if p.Base != 0 {
				r.Base = dur(p.Base)
			}
			if p.Cap != 0 {
				r.Cap = dur(p.Cap)
			}
			if p.MaxRestarts != 0 {
				r.MaxRestarts = ptr(p.MaxRestarts)
			}
			if p.Window != 0 {
				r.Window = dur(p.Window)
			}
			st.Restart = r
		}
		if kind == stage.Logger {
			st.RetainFrames = ptr(c.RetainFrames)
			st.RetainBytes = ptr(Size(c.RetainBytes))
		}
		f.Stages[kind] = st
	}
	return f
}

// WriteYAML writes s as a YAML configuration file.
func WriteYAML(w io.Writer, s Settings) error {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(FileOf(s)); err != nil {
		return fmt.Errorf("config: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("config: encode: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// Warnings returns what the operator should know about s before it runs:
// endpoints bound beyond loopback, which anyone who can reach them may use.
func (s Settings) Warnings() []string {
	var out []string
	if s.Metrics != "" && !metrics.IsLoopback(s.Metrics) {
		out = append(out, fmt.Sprintf("--metrics %s is not a loopback address: anyone who can reach it can read the "+
			"pipeline's metrics (stage names and states, frame counts, database sizes), without authentication", s.Metrics))
	}
	for _, ep := range strings.Split(s.Supervisor.StatusBind, ",") {
		ep = strings.TrimLeft(strings.TrimSpace(ep), "@>")
		hostPort, ok := strings.CutPrefix(ep, "tcp://")
		if !ok || metrics.IsLoopback(hostPort) || s.Supervisor.Key != "" {
			continue // loopback, or CURVE: only --peers get in
		}
		out = append(out, fmt.Sprintf("--status-bind %s is not a loopback address: any host that can reach it can "+
			"report as a stage (shown as remote, observed only; it cannot command the pipeline), unauthenticated and unencrypted", ep))
	}
	return out
}
