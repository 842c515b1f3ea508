// Package config reads the supervisor's configuration file and merges it
// with the command line: `imaging-tui --config FILE [flags]` and
// `imaging-tui config print [--config FILE] [flags]`.
//
// The file holds the same settings as the flags of `imaging-tui` (console
// and --no-tui), as YAML (.yaml, .yml) or TOML (.toml), chosen by the file's
// extension. Every key is optional; an unknown key is an error, so a typo
// does not pass silently. Durations are strings such as "250ms" or "1m30s";
// sizes are a number of bytes or a string such as "512MiB".
//
//	images: /data/survey          # --images
//	workers: 2                    # --workers
//	endpoints:
//	  status: "@tcp://10.0.0.5:5557"    # --status-bind ("" = RUN/status.sock, private)
//	  metrics: 127.0.0.1:9464           # --metrics ("" = off)
//	restart:                      # every stage, unless overridden below
//	  base: 250ms                 # --restart-base
//	  max_restarts: 5             # --max-restarts
//	stages:
//	  extractor:
//	    args: ["--max-features", "500"]       # --extractor-args
//	    restart: {max_restarts: 10, cap: 2s}  # this kind only (no flag)
//	  logger:
//	    retain_bytes: 2GiB        # --retain-bytes
//	headless:
//	  for: 30s                    # --for
//
// The same in TOML:
//
//	images = "/data/survey"
//	workers = 2
//	[endpoints]
//	metrics = "127.0.0.1:9464"
//	[restart]
//	base = "250ms"
//	[stages.extractor.restart]
//	max_restarts = 10
//	[headless]
//	for = "30s"
//
// testdata/example.yaml and testdata/example.toml have every key.
//
// # Precedence
//
// Defaults, then the file, then the flags given on the command line: the
// flags are parsed first, then each setting of the file is applied unless
// its flag was given (flag.Visit). A stage kind's args given as a flag
// replace the file's args for that kind. The per-kind restart policy
// (stages.KIND.restart) has no flag; it overrides the global one, whether
// that comes from the file or from a flag.
//
// `config print` writes the effective configuration as YAML in the same
// format, every setting included, so its output is itself a config file.
package config
