package dbcmd

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
)

var statsCmd = &command{
	name:    "stats",
	summary: "row counts, file size, frames per stream, first/last times, missing and retained-away frames",
	about: `Prints the database's row counts, its size on disk and the free space left,
and for each stream its frames, the frames retention deleted (retained away:
stored once, not lost), sequence range, first and last receive time,
how many sequence numbers are missing (the first few gaps as ranges, e.g.
"missing 17-19, 42") and duplicates. Reads indices, not images: fast on a
large database.
`,
	setup: func(fs *flag.FlagSet) func(context.Context, *cmdEnv) error {
		asJSON := fs.Bool("json", false, "print one JSON object instead of text")
		gaps := fs.Int("gaps", 10, "list at most `N` gaps per stream")
		return func(ctx context.Context, c *cmdEnv) error {
			if err := c.noArgs(); err != nil {
				return err
			}
			if *gaps < 0 {
				return c.usagef("--gaps must be 0 or more")
			}
			d, err := openDB(ctx, c.dbPath)
			if err != nil {
				return err
			}
			defer d.Close()
			r, err := collectStats(ctx, d, *gaps)
			if err != nil {
				return fmt.Errorf("db stats: %w", err)
			}
			if *asJSON {
				return writeJSON(c.stdout, r)
			}
			return r.writeText(c.stdout)
		}
	},
}

// statsReport is what stats prints; its JSON form is the --json output.
type statsReport struct {
	Path        string `json:"path"`
	FileBytes   int64  `json:"file_bytes"`      // database + WAL file
	UsedBytes   int64  `json:"used_bytes"`      // pages in use × page size
	DiskFree    int64  `json:"disk_free_bytes"` // -1 if unknown
	PageSize    int64  `json:"page_size"`
	PageCount   int64  `json:"page_count"`
	FreePages   int64  `json:"free_pages"`
	Images      int64  `json:"images"`
	Keypoints   int64  `json:"keypoints"`
	Descriptors int64  `json:"descriptors"`
	// Unsequenced counts frames without stream/seq (from seed peers).
	Unsequenced int64 `json:"unsequenced_frames"`
	// Missing sums the streams' missing sequence numbers.
	Missing int64 `json:"missing"`
	// RetainedAway sums the streams' frames deleted by retention.
	RetainedAway int64 `json:"retained_away"`
	// FirstAt and LastAt are the earliest and latest receive times over all
	// streams; null if unknown.
	FirstAt *time.Time     `json:"first_received_at"`
	LastAt  *time.Time     `json:"last_received_at"`
	Streams []streamReport `json:"streams"`
}

// streamReport describes one stream in stats and verify.
type streamReport struct {
	StreamID uint64 `json:"stream_id"`
	Frames   int64  `json:"frames"`
	// RetainedAway counts the frames retention deleted: stored, then deleted.
	RetainedAway int64      `json:"retained_away"`
	FirstSeq     uint64     `json:"first_seq"`
	LastSeq      uint64     `json:"last_seq"`
	Missing      int64      `json:"missing"`    // sequence numbers between first and last not stored
	Duplicates   int64      `json:"duplicates"` // rows beyond one per sequence number
	Gaps         []gapJSON  `json:"gaps"`       // the first few runs of missing numbers
	MoreGaps     bool       `json:"more_gaps"`  // Gaps is not the whole list
	FirstAt      *time.Time `json:"first_received_at"`
	LastAt       *time.Time `json:"last_received_at"`

	gaps []db.Gap
}

func collectStats(ctx context.Context, d *db.DB, gapLimit int) (*statsReport, error) {
	c, err := d.Counts(ctx)
	if err != nil {
		return nil, err
	}
	streams, err := collectStreams(ctx, d, gapLimit)
	if err != nil {
		return nil, err
	}
	r := &statsReport{
		Path: d.Path(), FileBytes: c.FileBytes, UsedBytes: c.UsedBytes(), DiskFree: c.DiskFree,
		PageSize: c.PageSize, PageCount: c.PageCount, FreePages: c.FreePages,
		Images: c.Images, Keypoints: c.Keypoints, Descriptors: c.Descriptors,
		Unsequenced: c.Images, Streams: streams,
	}
	for _, s := range streams {
		r.Unsequenced -= s.Frames
		r.Missing += s.Missing
		r.RetainedAway += s.RetainedAway
		if s.FirstAt != nil && (r.FirstAt == nil || s.FirstAt.Before(*r.FirstAt)) {
			r.FirstAt = s.FirstAt
		}
		if s.LastAt != nil && (r.LastAt == nil || s.LastAt.After(*r.LastAt)) {
			r.LastAt = s.LastAt
		}
	}
	// Counts and Streams are two snapshots; a frame stored in between must
	// not make the difference negative.
	r.Unsequenced = max(r.Unsequenced, 0)
	return r, nil
}

// collectStreams returns db.Streams with the first gapLimit gaps of each and
// the frames retention deleted from each; a stream retention deleted whole
// is listed with no frames.
func collectStreams(ctx context.Context, d *db.DB, gapLimit int) ([]streamReport, error) {
	ss, err := d.Streams(ctx)
	if err != nil {
		return nil, err
	}
	ret, err := d.Retained(ctx)
	if err != nil {
		return nil, err
	}
	retained := map[uint64]int64{}
	for _, r := range ret {
		retained[r.StreamID] = r.Frames
	}
	out := make([]streamReport, 0, len(ss)+len(ret))
	for _, s := range ss {
		r := streamReport{
			StreamID: s.StreamID, Frames: s.Frames, RetainedAway: retained[s.StreamID], FirstSeq: s.FirstSeq, LastSeq: s.LastSeq,
			Missing: s.Missing, Duplicates: s.Duplicates,
			FirstAt: jsonTime(s.FirstAt), LastAt: jsonTime(s.LastAt),
			Gaps: []gapJSON{},
		}
		if s.Missing > 0 && gapLimit > 0 {
			gaps, err := d.Gaps(ctx, s.StreamID, gapLimit+1)
			if err != nil {
				return nil, err
			}
			if len(gaps) > gapLimit {
				gaps, r.MoreGaps = gaps[:gapLimit], true
			}
			r.gaps, r.Gaps = gaps, gapsJSON(gaps)
		} else if s.Missing > 0 {
			r.MoreGaps = true
		}
		delete(retained, s.StreamID)
		out = append(out, r)
	}
	for _, r := range ret {
		if n, ok := retained[r.StreamID]; ok {
			out = append(out, streamReport{StreamID: r.StreamID, RetainedAway: n, Gaps: []gapJSON{}})
		}
	}
	slices.SortFunc(out, func(a, b streamReport) int { return cmp.Compare(a.StreamID, b.StreamID) })
	return out, nil
}

func (r *statsReport) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "database\t%s\n", r.Path)
	fmt.Fprintf(tw, "file size\t%s (database + WAL; %s in use, %d free pages of %s)\n",
		fmtBytes(r.FileBytes), fmtBytes(r.UsedBytes), r.FreePages, fmtBytes(r.PageSize))
	fmt.Fprintf(tw, "disk free\t%s\n", fmtBytes(r.DiskFree))
	fmt.Fprintf(tw, "frames\t%d\n", r.Images)
	fmt.Fprintf(tw, "keypoints\t%d\n", r.Keypoints)
	fmt.Fprintf(tw, "descriptors\t%d (rows: one per frame)\n", r.Descriptors)
	first, last := "-", "-"
	if r.FirstAt != nil {
		first = fmtTime(*r.FirstAt)
	}
	if r.LastAt != nil {
		last = fmtTime(*r.LastAt)
	}
	span := ""
	if r.FirstAt != nil && r.LastAt != nil {
		span = " (" + fmtDuration(r.LastAt.Sub(*r.FirstAt)) + ")"
	}
	fmt.Fprintf(tw, "received\t%s … %s%s\n", first, last, span)
	fmt.Fprintf(tw, "streams\t%d", len(r.Streams))
	if r.Unsequenced > 0 {
		fmt.Fprintf(tw, " (+ %d frames without stream/seq)", r.Unsequenced)
	}
	fmt.Fprintf(tw, "\nmissing\t%d\n", r.Missing)
	fmt.Fprintf(tw, "retained\t%d away (frames deleted by retention)\n", r.RetainedAway)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Streams) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	return writeStreamTable(w, r.Streams)
}

// writeStreamTable prints one line per stream, the missing sequence numbers
// (count and first gaps) last so a long list does not widen the columns.
func writeStreamTable(w io.Writer, streams []streamReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tFRAMES\tSEQ\tDUPLICATES\tFIRST RECEIVED\tLAST RECEIVED\tRETAINED AWAY\tMISSING")
	for _, s := range streams {
		first, last := "-", "-"
		if s.FirstAt != nil {
			first = fmtTime(*s.FirstAt)
		}
		if s.LastAt != nil {
			last = fmtTime(*s.LastAt)
		}
		missing := "0"
		if s.Missing > 0 {
			missing = fmt.Sprintf("%d (%s)", s.Missing, fmtGaps(s.gaps, s.MoreGaps))
		}
		seq := "-"
		if s.Frames > 0 {
			seq = fmt.Sprintf("%d-%d", s.FirstSeq, s.LastSeq)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%s\t%s\t%d\t%s\n", s.StreamID, s.Frames, seq,
			s.Duplicates, first, last, s.RetainedAway, missing)
	}
	return tw.Flush()
}

// streamName prints a stream id for messages.
func streamName(id uint64) string { return "stream " + strconv.FormatUint(id, 10) }
