package dbcmd

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

var verifyCmd = &command{
	name:    "verify",
	summary: "integrity check and per-stream completeness; exits 1 on a problem",
	about: `Runs SQLite's integrity and foreign-key checks, checks that every frame is
whole (keypoint_count keypoint rows and one descriptor blob of that many
descriptors) and that every stream is complete: no sequence number missing
between its first and last frame, none stored twice. Prints a verdict and
exits with status 1 when it found a problem. Missing sequence numbers are
expected after best-effort delivery or retention; --allow-gaps reports them
as warnings instead.
`,
	setup: func(fs *flag.FlagSet) func(context.Context, *cmdEnv) error {
		asJSON := fs.Bool("json", false, "print one JSON object instead of text")
		allowGaps := fs.Bool("allow-gaps", false, "missing sequence numbers are a warning, not a problem")
		return func(ctx context.Context, c *cmdEnv) error {
			if err := c.noArgs(); err != nil {
				return err
			}
			d, err := openDB(ctx, c.dbPath)
			if err != nil {
				return err
			}
			defer d.Close()
			r := &verifyReport{Database: d.Path(), Integrity: []problemJSON{}, Problems: []string{}, Warnings: []string{}}
			ok, problems, err := d.IntegrityCheck(ctx)
			if err != nil {
				return fmt.Errorf("db verify: %w", err)
			}
			counts, err := d.Counts(ctx)
			if err != nil {
				return fmt.Errorf("db verify: %w", err)
			}
			if r.Streams, err = collectStreams(ctx, d, 10); err != nil {
				return fmt.Errorf("db verify: %w", err)
			}
			r.Frames = counts.Images
			for _, p := range problems {
				r.Integrity = append(r.Integrity, problemJSON{p.ImageID, p.What})
			}
			if !ok {
				r.Problems = append(r.Problems, plural(len(problems), "integrity problem", "integrity problems"))
			}
			for _, s := range r.Streams {
				if s.Duplicates > 0 {
					r.Problems = append(r.Problems, fmt.Sprintf("%s: %s", streamName(s.StreamID),
						plural(int(s.Duplicates), "duplicate frame", "duplicate frames")))
				}
				if s.Missing > 0 {
					msg := fmt.Sprintf("%s: %s missing (%s)", streamName(s.StreamID),
						plural(int(s.Missing), "sequence number", "sequence numbers"), fmtGaps(s.gaps, s.MoreGaps))
					if *allowGaps {
						r.Warnings = append(r.Warnings, msg)
					} else {
						r.Problems = append(r.Problems, msg)
					}
				}
			}
			r.OK = len(r.Problems) == 0
			if *asJSON {
				err = writeJSON(c.stdout, r)
			} else {
				err = r.writeText(c.stdout)
			}
			if err != nil {
				return err
			}
			if !r.OK {
				return fmt.Errorf("db verify: %s: %s: %w", d.Path(), strings.Join(r.Problems, "; "), ErrVerify)
			}
			return nil
		}
	},
}

// verifyReport is what verify prints; its JSON form is the --json output.
type verifyReport struct {
	Database string `json:"database"`
	OK       bool   `json:"ok"`
	Frames   int64  `json:"frames"`
	// Integrity lists what IntegrityCheck found (at most 100).
	Integrity []problemJSON  `json:"integrity_problems"`
	Streams   []streamReport `json:"streams"`
	// Problems and Warnings summarise the findings in words.
	Problems []string `json:"problems"`
	Warnings []string `json:"warnings"`
}

type problemJSON struct {
	ImageID int64  `json:"image_id"` // 0 for a problem of the file itself
	What    string `json:"what"`
}

// maxListed bounds the integrity problems listed in text.
const maxListed = 20

func (r *verifyReport) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "database\t%s\n", r.Database)
	fmt.Fprintf(tw, "frames\t%d in %s\n", r.Frames, plural(len(r.Streams), "stream", "streams"))
	if len(r.Integrity) == 0 {
		fmt.Fprintf(tw, "integrity\tok\n")
	} else {
		fmt.Fprintf(tw, "integrity\t%s\n", plural(len(r.Integrity), "problem", "problems"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for i, p := range r.Integrity {
		if i == maxListed {
			fmt.Fprintf(w, "  … and %d more\n", len(r.Integrity)-maxListed)
			break
		}
		if p.ImageID != 0 {
			fmt.Fprintf(w, "  frame %d: %s\n", p.ImageID, p.What)
		} else {
			fmt.Fprintf(w, "  %s\n", p.What)
		}
	}
	if len(r.Streams) > 0 {
		fmt.Fprintln(w)
		if err := writeStreamTable(w, r.Streams); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	for _, m := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", m)
	}
	if r.OK {
		_, err := fmt.Fprintln(w, "verdict: OK")
		return err
	}
	_, err := fmt.Fprintf(w, "verdict: FAILED: %s\n", strings.Join(r.Problems, "; "))
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
