package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// File is the content of a configuration file. A nil field is absent from
// the file and keeps the flag's value (or default).
type File struct {
	Images     *string         `yaml:"images,omitempty" toml:"images,omitempty"`
	DB         *string         `yaml:"db,omitempty" toml:"db,omitempty"`
	Delivery   *stage.Delivery `yaml:"delivery,omitempty" toml:"delivery,omitempty"`
	Workers    *int            `yaml:"workers,omitempty" toml:"workers,omitempty"`
	Threads    *int            `yaml:"threads,omitempty" toml:"threads,omitempty"`
	FPS        *float64        `yaml:"fps,omitempty" toml:"fps,omitempty"`
	Replicas   *int            `yaml:"replicas,omitempty" toml:"replicas,omitempty"`
	RunDir     *string         `yaml:"run_dir,omitempty" toml:"run_dir,omitempty"`
	NoTUI      *bool           `yaml:"no_tui,omitempty" toml:"no_tui,omitempty"`
	Endpoints  *Endpoints      `yaml:"endpoints,omitempty" toml:"endpoints,omitempty"`
	Restart    *Restart        `yaml:"restart,omitempty" toml:"restart,omitempty"`
	StopGrace  *Duration       `yaml:"stop_grace,omitempty" toml:"stop_grace,omitempty"`
	DrainGrace *Duration       `yaml:"drain_grace,omitempty" toml:"drain_grace,omitempty"`
	Stages     Stages          `yaml:"stages,omitempty" toml:"stages,omitempty"`
	Headless   *Headless       `yaml:"headless,omitempty" toml:"headless,omitempty"`
}

// Stages holds the settings of each stage kind, under its name: a kind of
// stage.Table. DecodeYAML and DecodeTOML reject other names.
type Stages map[stage.Kind]*Stage

// MarshalYAML writes the stages in stage.Table order.
func (s Stages) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, kind := range stage.Kinds() {
		st, ok := s[kind]
		if !ok {
			continue
		}
		var v yaml.Node
		if err := v.Encode(st); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: string(kind)}, &v)
	}
	return n, nil
}

// unknown returns the names in s that are not stage kinds, sorted.
func (s Stages) unknown() []string {
	var out []string
	for kind := range s {
		if _, ok := stage.Lookup(kind); !ok {
			out = append(out, string(kind))
		}
	}
	slices.Sort(out)
	return out
}

// Endpoints are the supervisor's own endpoints.
type Endpoints struct {
	Status  *string `yaml:"status,omitempty" toml:"status,omitempty"`   // --status-bind
	Metrics *string `yaml:"metrics,omitempty" toml:"metrics,omitempty"` // --metrics; "" = off
}

// Restart is a restart policy: the global one, or one stage kind's.
type Restart struct {
	Base        *Duration `yaml:"base,omitempty" toml:"base,omitempty"`
	Cap         *Duration `yaml:"cap,omitempty" toml:"cap,omitempty"`
	MaxRestarts *int      `yaml:"max_restarts,omitempty" toml:"max_restarts,omitempty"`
	Window      *Duration `yaml:"window,omitempty" toml:"window,omitempty"`
}

// Stage holds the settings of one stage kind.
type Stage struct {
	Args         []string `yaml:"args,omitempty" toml:"args,omitempty"`                   // --KIND-args, one argument per item
	Restart      *Restart `yaml:"restart,omitempty" toml:"restart,omitempty"`             // overrides the global policy for this kind
	RetainFrames *int64   `yaml:"retain_frames,omitempty" toml:"retain_frames,omitempty"` // logger only: --retain-frames
	RetainBytes  *Size    `yaml:"retain_bytes,omitempty" toml:"retain_bytes,omitempty"`   // logger only: --retain-bytes
}

// Headless holds the settings of --no-tui runs.
type Headless struct {
	For    *Duration `yaml:"for,omitempty" toml:"for,omitempty"`
	Frames *int64    `yaml:"frames,omitempty" toml:"frames,omitempty"`
	Chaos  *string   `yaml:"chaos,omitempty" toml:"chaos,omitempty"`
	JSON   *bool     `yaml:"json,omitempty" toml:"json,omitempty"`
}

// ErrFormat is returned (wrapped) for a file whose extension is neither
// .yaml, .yml nor .toml.
var ErrFormat = errors.New("unknown config file format: want .yaml, .yml or .toml")

// Load reads and checks the configuration file at path, as YAML or TOML by
// its extension.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var f *File
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		f, err = DecodeYAML(b)
	case ".toml":
		f, err = DecodeTOML(b)
	default:
		err = ErrFormat
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return f, nil
}

// DecodeYAML decodes and checks a YAML configuration. Unknown keys are errors.
func DecodeYAML(b []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) { // EOF: an empty file
		return nil, err
	}
	if bad := f.Stages.unknown(); len(bad) > 0 {
		// As the decoder says of the other unknown keys.
		return nil, fmt.Errorf("stages: field %s not found: the stage kinds are %s", strings.Join(bad, ", "), kindList())
	}
	return &f, f.check()
}

// DecodeTOML decodes and checks a TOML configuration. Unknown keys are errors.
func DecodeTOML(b []byte) (*File, error) {
	var f File
	md, err := toml.Decode(string(b), &f)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, kind := range f.Stages.unknown() {
		keys = append(keys, "stages."+kind)
	}
	for _, k := range md.Undecoded() {
		keys = append(keys, k.String())
	}
	if len(keys) > 0 {
		return nil, fmt.Errorf("unknown keys: %s", strings.Join(keys, ", "))
	}
	return &f, f.check()
}

// check rejects what the flags would reject at once, plus keys that have
// no meaning for a stage kind.
func (f *File) check() error {
	var errs []error
	if f.Delivery != nil {
		if _, err := stage.ParseDelivery(string(*f.Delivery)); err != nil {
			errs = append(errs, fmt.Errorf("delivery %q: want %s or %s", *f.Delivery, stage.Reliable, stage.BestEffort))
		}
	}
	for _, kind := range stage.Kinds() {
		if st := f.Stages[kind]; kind != stage.Logger && st != nil && (st.RetainFrames != nil || st.RetainBytes != nil) {
			errs = append(errs, fmt.Errorf("stages.%s: retain_frames and retain_bytes are the logger's", kind))
		}
	}
	return errors.Join(errs...)
}

// kindList names the stage kinds: "generator, extractor or logger".
func kindList() string {
	var names []string
	for _, k := range stage.Kinds() {
		names = append(names, string(k))
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Duration is a time.Duration written as a string such as "250ms" or "1m".
type Duration time.Duration

func parseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("duration %q: want a number with a unit, e.g. \"250ms\" or \"1m30s\"", s)
	}
	return Duration(d), nil
}

// UnmarshalYAML reads a duration string. A bare number is an error (its
// unit would be a guess), except 0.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a string such as \"250ms\"", n.Line)
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// UnmarshalText reads a duration string (TOML).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	*d = v
	return err
}

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Size is a byte count, written as a number or a string such as "512MiB".
type Size int64

// UnmarshalYAML reads a byte count: an integer or a size string.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a size must be a number or a string such as \"512MiB\"", n.Line)
	}
	v, err := stage.ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: size %w", n.Line, err)
	}
	*s = Size(v)
	return nil
}

// UnmarshalText reads a byte count (TOML: an integer or a size string).
func (s *Size) UnmarshalText(b []byte) error {
	v, err := stage.ParseSize(string(b))
	if err != nil {
		return fmt.Errorf("size %w", err)
	}
	*s = Size(v)
	return nil
}

// MarshalText writes the size in the largest binary unit that divides it
// exactly: 2GiB, 500MiB, 1000.
func (s Size) MarshalText() ([]byte, error) {
	v := int64(s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v != 0 && v%u.mult == 0 {
			return []byte(strconv.FormatInt(v/u.mult, 10) + u.suffix), nil
		}
	}
	return []byte(strconv.FormatInt(v, 10)), nil
}
