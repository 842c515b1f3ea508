package config

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
)

// parse runs the supervisor's command line: flags, then the file.
func parse(t *testing.T, args ...string) (Settings, error) {
	t.Helper()
	var s Settings
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	return s, s.ApplyFile(fs)
}

func mustParse(t *testing.T, args ...string) Settings {
	t.Helper()
	s, err := parse(t, args...)
	if err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return s
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The same settings in both formats.
const fullYAML = `
images: /file/images
db: file.db
delivery: best-effort
workers: 2
threads: 3
fps: 4.5
replicas: 2
run_dir: /tmp/file-run
no_tui: true
endpoints:
  status: "@ipc:///tmp/file-status"
  metrics: 127.0.0.1:9999
restart:
  base: 100ms
  cap: 3s
  max_restarts: 9
  window: 2m
stop_grace: 4s
drain_grace: 5s
stages:
  generator:
    args: ["--window", "16"]
  extractor:
    args: ["--max-features", "300"]
    restart: {max_restarts: 20, cap: 1s}
  logger:
    args: ["--quiet"]
    retain_frames: 1000
    retain_bytes: 512MiB
headless:
  for: 45s
  frames: 300
  chaos: "5s kill extractor"
  json: true
`

const fullTOML = `
images = "/file/images"
db = "file.db"
delivery = "best-effort"
workers = 2
threads = 3
fps = 4.5
replicas = 2
run_dir = "/tmp/file-run"
no_tui = true
stop_grace = "4s"
drain_grace = "5s"

[endpoints]
status = "@ipc:///tmp/file-status"
metrics = "127.0.0.1:9999"

[restart]
base = "100ms"
cap = "3s"
max_restarts = 9
window = "2m"

[stages.generator]
args = ["--window", "16"]

[stages.extractor]
args = ["--max-features", "300"]
restart = { max_restarts = 20, cap = "1s" }

[stages.logger]
args = ["--quiet"]
retain_frames = 1000
retain_bytes = "512MiB"

[headless]
for = "45s"
frames = 300
chaos = "5s kill extractor"
json = true
`

// fileSettings is what fullYAML and fullTOML set, over the defaults.
func fileSettings(t *testing.T, path string) Settings {
	s := mustParse(t) // the defaults
	c := &s.Supervisor
	c.Images, c.DB, c.Delivery, c.Workers, c.Threads, c.FPS, c.Replicas = "/file/images", "file.db", "best-effort", 2, 3, 4.5, 2
	c.RunDir, s.NoTUI = "/tmp/file-run", true
	c.StatusBind, s.Metrics = "@ipc:///tmp/file-status", "127.0.0.1:9999"
	c.RestartBase, c.RestartCap, c.MaxRestarts, c.RestartWindow = 100*time.Millisecond, 3*time.Second, 9, 2*time.Minute
	c.StopGrace, c.DrainGrace = 4*time.Second, 5*time.Second
	c.ExtraArgs = map[stage.Kind][]string{"generator": {"--window", "16"}, "extractor": {"--max-features", "300"}, "logger": {"--quiet"}}
	c.Restart = map[stage.Kind]supervisor.RestartPolicy{"extractor": {MaxRestarts: 20, Cap: time.Second}}
	c.RetainFrames, c.RetainBytes = 1000, 512<<20
	s.Headless.For, s.Headless.Frames, s.Headless.Chaos, s.Headless.JSON = 45*time.Second, 300, "5s kill extractor", true
	s.ConfigFile = path
	return s
}

func diff(t *testing.T, what string, got, want Settings) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	var g, w bytes.Buffer
	_ = WriteYAML(&g, got)
	_ = WriteYAML(&w, want)
	t.Errorf("%s:\ngot  %+v\nwant %+v\n--- got as YAML:\n%s--- want as YAML:\n%s", what, got, want, g.String(), w.String())
}

// TestPrecedence: the file sets every setting; a flag given overrides it,
// even when the flag's value is its default; a flag not given keeps the
// file's value. Both formats.
func TestPrecedence(t *testing.T) {
	for _, tt := range []struct{ name, content string }{{"c.yaml", fullYAML}, {"c.yml", fullYAML}, {"c.toml", fullTOML}} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.name, tt.content)

			got := mustParse(t, "--config", path)
			diff(t, "file only", got, fileSettings(t, path))

			got = mustParse(t, "--config", path,
				"--workers", "7", // file: 2
				"--delivery", "reliable", // file: best-effort; the flag's default value, given
				"--no-tui=false", // file: true
				"--metrics", "",  // file: 127.0.0.1:9999; off
				"--restart-base", "1s", // file: 100ms; the file's cap stays
				"--logger-args", "--a 1", // replaces the file's logger args only
				"--retain-bytes", "1GiB",
				"--for", "5s",
				"--status-bind", "@tcp://127.0.0.1:0",
			)
			want := fileSettings(t, path)
			c := &want.Supervisor
			c.Workers, c.Delivery, want.NoTUI, want.Metrics, c.RestartBase = 7, "reliable", false, "", time.Second
			c.ExtraArgs["logger"] = []string{"--a", "1"}
			c.RetainBytes, want.Headless.For, c.StatusBind = 1<<30, 5*time.Second, "@tcp://127.0.0.1:0"
			diff(t, "file and flags", got, want)
		})
	}
}

func TestNoFileAndEmptyFile(t *testing.T) {
	defaults := mustParse(t)
	if defaults.Supervisor.DB != "imaging.db" || defaults.Supervisor.Replicas != 1 || defaults.Metrics != "" ||
		defaults.Supervisor.RetainBytes != supervisor.DefaultRetainBytes {
		t.Errorf("defaults = %+v", defaults)
	}
	for _, name := range []string{"empty.yaml", "empty.toml"} {
		path := writeFile(t, name, "")
		got := mustParse(t, "--config", path, "--fps", "2")
		want := defaults
		want.ConfigFile, want.Supervisor.FPS = path, 2
		diff(t, name, got, want)
	}
}

// TestPrintRoundTrip: `config print` writes the effective settings as YAML
// that reads back (as a config file) to the same settings.
func TestPrintRoundTrip(t *testing.T) {
	for _, tt := range []struct{ name, content string }{{"c.yaml", fullYAML}, {"c.toml", fullTOML}} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.name, tt.content)
			args := []string{"--config", path, "--workers", "7", "--extractor-args", "--shard-note x", "--chaos", "1s kill logger"}
			var out, errOut bytes.Buffer
			if err := Main(append([]string{"print"}, args...), &out, &errOut); err != nil {
				t.Fatalf("config print: %v\n%s", err, errOut.String())
			}
			if errOut.Len() != 0 {
				t.Errorf("config print wrote on stderr: %s", errOut.String())
			}
			// Plain YAML with the expected shape.
			var m map[string]any
			if err := yaml.Unmarshal(out.Bytes(), &m); err != nil {
				t.Fatalf("output is not YAML: %v\n%s", err, out.String())
			}
			if m["workers"] != 7 || m["images"] != "/file/images" || m["delivery"] != "best-effort" {
				t.Errorf("printed workers/images/delivery = %v/%v/%v; want 7 (flag), /file/images, best-effort (file)\n%s",
					m["workers"], m["images"], m["delivery"], out.String())
			}
			logger := m["stages"].(map[string]any)["logger"].(map[string]any)
			if logger["retain_bytes"] != "512MiB" {
				t.Errorf("printed retain_bytes = %v; want 512MiB", logger["retain_bytes"])
			}
			// Read back as a config file: the same settings.
			printed := writeFile(t, "printed.yaml", out.String())
			back := mustParse(t, "--config", printed)
			want := mustParse(t, args...)
			back.ConfigFile, want.ConfigFile = "", ""
			diff(t, "printed and read back", back, want)
		})
	}
}

// TestPrintDefaults: with no file and no flag, print shows the defaults,
// and reading them back changes nothing.
func TestPrintDefaults(t *testing.T) {
	var out bytes.Buffer
	if err := Main([]string{"print"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"db: imaging.db\n", "delivery: reliable\n", "  status: \"\"\n",
		"  metrics: \"\"\n", "  base: 250ms\n", "    retain_bytes: 2GiB\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config print lacks %q:\n%s", want, out.String())
		}
	}
	back := mustParse(t, "--config", writeFile(t, "d.yaml", out.String()))
	back.ConfigFile = ""
	diff(t, "defaults read back", back, mustParse(t))
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"typo.yaml", "worker: 2\n", "field worker not found"},
		{"typo.toml", "worker = 2\n", "unknown keys: worker"},
		{"nested-typo.yaml", "restart:\n  maxrestarts: 3\n", "field maxrestarts not found"},
		{"nested-typo.toml", "[stages.logger]\nretain = 3\n", "unknown keys: stages.logger.retain"},
		{"kind.yaml", "stages:\n  sifter: {}\n", "field sifter not found"},
		{"kind.toml", "[stages.sifter]\n", "unknown keys: stages.sifter"},
		{"bare-duration.yaml", "restart:\n  base: 5\n", `duration "5"`},
		{"bare-duration.toml", "[restart]\nbase = 5\n", `duration "5"`},
		{"bad-duration.yaml", "stop_grace: soon\n", `duration "soon"`},
		{"bad-size.yaml", "stages:\n  logger:\n    retain_bytes: lots\n", "lots"},
		{"retain-extractor.yaml", "stages:\n  extractor:\n    retain_frames: 3\n", "retain_frames and retain_bytes are the logger's"},
		{"delivery.toml", "delivery = \"maybe\"\n", `delivery "maybe"`},
		{"type.yaml", "workers: many\n", "cannot unmarshal"},
		{"syntax.toml", "workers = \n", "toml"},
		{"c.json", "{}", "unknown config file format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.name, tt.content)
			_, err := parse(t, "--config", path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("--config %s (%q) = %v; want an error containing %q", tt.name, tt.content, err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if _, err := parse(t, "--config", filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v; want os.ErrNotExist", err)
	}
	if _, err := parse(t, "--config", writeFile(t, "c.txt", "")); !errors.Is(err, ErrFormat) {
		t.Errorf("c.txt: %v; want ErrFormat", err)
	}
}

func TestSizesAndDurations(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{{"retain_bytes = 1048576", 1 << 20}, {`retain_bytes = "2GiB"`, 2 << 30}, {`retain_bytes = "1.5KiB"`, 1536}} {
		f, err := DecodeTOML([]byte("[stages.logger]\n" + tt.in))
		if err != nil || int64(*f.Stages[stage.Logger].RetainBytes) != tt.want {
			t.Errorf("DecodeTOML(%q) = %v, %v; want %d", tt.in, f, err, tt.want)
		}
	}
	for _, tt := range []struct {
		in   string
		want int64
	}{{"1048576", 1 << 20}, {"2GiB", 2 << 30}, {"0", 0}} {
		f, err := DecodeYAML([]byte("stages: {logger: {retain_bytes: " + tt.in + "}}"))
		if err != nil || int64(*f.Stages[stage.Logger].RetainBytes) != tt.want {
			t.Errorf("DecodeYAML(retain_bytes: %s) = %v; want %d", tt.in, err, tt.want)
		}
	}
	for _, tt := range []struct {
		s    Size
		want string
	}{{2 << 30, "2GiB"}, {500 << 20, "500MiB"}, {1000, "1000"}, {0, "0"}, {1536, "1536"}, {3 << 40, "3TiB"}} {
		if b, _ := tt.s.MarshalText(); string(b) != tt.want {
			t.Errorf("Size(%d).MarshalText() = %s; want %s", int64(tt.s), b, tt.want)
		}
	}
	f, err := DecodeYAML([]byte("restart: {base: 0, window: 1m30s}"))
	if err != nil || *f.Restart.Base != 0 || time.Duration(*f.Restart.Window) != 90*time.Second {
		t.Errorf("DecodeYAML(base: 0, window: 1m30s) = %+v, %v", f.Restart, err)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{nil, nil},
		{[]string{"--metrics", "127.0.0.1:9464"}, nil},
		{[]string{"--metrics", "localhost:0", "--status-bind", "@ipc:///tmp/st"}, nil},
		{[]string{"--metrics", ":9464"}, []string{"--metrics :9464 is not a loopback address"}},
		{[]string{"--metrics", "0.0.0.0:9464"}, []string{"--metrics 0.0.0.0:9464 is not a loopback address"}},
		{[]string{"--status-bind", "@tcp://*:5557"}, []string{"--status-bind tcp://*:5557 is not a loopback address"}},
		{[]string{"--status-bind", "@tcp://*:5557", "--key", "sup.key", "--peers", "peers"}, nil}, // CURVE: only peers get in
		{[]string{"--status-bind", "tcp://127.0.0.1:5557,@tcp://10.1.2.3:5557", "--metrics", "[::]:1"},
			[]string{"--metrics [::]:1 is not", "--status-bind tcp://10.1.2.3:5557 is not"}},
	}
	for _, tt := range tests {
		w := mustParse(t, tt.args...).Warnings()
		if len(w) != len(tt.want) {
			t.Errorf("Warnings() for %q = %q; want %d warnings", tt.args, w, len(tt.want))
			continue
		}
		for i := range w {
			if !strings.HasPrefix(w[i], tt.want[i]) {
				t.Errorf("Warnings() for %q [%d] = %q; want it to start with %q", tt.args, i, w[i], tt.want[i])
			}
		}
	}
	// config print shows them on stderr, the YAML stays clean on stdout.
	var out, errOut bytes.Buffer
	if err := Main([]string{"print", "--metrics", ":9464"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "warning: --metrics :9464") || strings.Contains(out.String(), "warning") {
		t.Errorf("stderr %q, stdout %q; want the warning on stderr only", errOut.String(), out.String())
	}
}

func TestMainUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"show"}, {"print", "extra"}, {"print", "--no-such-flag"}} {
		if err := Main(args, io.Discard, io.Discard); !errors.Is(err, stage.ErrUsage) {
			t.Errorf("config %q = %v; want ErrUsage", args, err)
		}
	}
	var out bytes.Buffer
	if err := Main([]string{"--help"}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "config print") {
		t.Errorf("config --help = %v, %q", err, out.String())
	}
	if err := Main([]string{"print", "--help"}, io.Discard, io.Discard); err != nil {
		t.Errorf("config print --help = %v; want nil", err)
	}
}

// TestExamples: the documented examples load, and say the same thing.
func TestExamples(t *testing.T) {
	y := mustParse(t, "--config", filepath.Join("testdata", "example.yaml"))
	tm := mustParse(t, "--config", filepath.Join("testdata", "example.toml"))
	y.ConfigFile, tm.ConfigFile = "", ""
	diff(t, "example.toml against example.yaml", tm, y)
	if y.Supervisor.Replicas != 2 || y.Metrics != "127.0.0.1:9464" || y.Supervisor.Restart["extractor"].MaxRestarts != 10 ||
		y.Headless.Chaos != "5s kill extractor; 9s restart logger" {
		t.Errorf("example.yaml = %+v", y)
	}
}

// TestStagesFollowTheTable: the stages section is printed in stage.Table
// order and names every kind; a kind the table does not have is an error
// in both formats.
func TestStagesFollowTheTable(t *testing.T) {
	var out bytes.Buffer
	if err := WriteYAML(&out, mustParse(t)); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	last := -1
	for _, kind := range stage.Kinds() {
		i := strings.Index(text, "\n  "+string(kind)+":")
		if i < 0 || i < last {
			t.Errorf("stages.%s printed at %d, after the previous kind at %d; want table order:\n%s", kind, i, last, text)
		}
		last = i
	}
	if _, err := DecodeYAML([]byte("stages:\n  painter: {}\n  logger: {}\n")); err == nil || !strings.Contains(err.Error(), "painter") {
		t.Errorf("DecodeYAML with stages.painter = %v; want an error naming it", err)
	}
	if _, err := DecodeTOML([]byte("[stages.painter]\n")); err == nil || !strings.Contains(err.Error(), "stages.painter") {
		t.Errorf("DecodeTOML with stages.painter = %v; want an error naming it", err)
	}
}
