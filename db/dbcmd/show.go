package dbcmd

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
	"github.com/imaging-tui/imaging-tui/wire/probe"
)

var showCmd = &command{
	name:    "show",
	args:    "ID|latest",
	summary: "one frame's metadata and a summary of its keypoints",
	about: `Prints one frame's metadata — file name, format, size, channels, bytes,
stream and sequence number, the times it was published, extracted, received
and stored, and the latencies between them — and a summary of its SIFT
keypoints: count, response and size (min, median, max) and how many fall in
each octave (OpenCV's packed octave: its low byte, signed; -1 is the
upsampled first octave). "latest" is the newest frame.
`,
	setup: func(fs *flag.FlagSet) func(context.Context, *cmdEnv) error {
		asJSON := fs.Bool("json", false, "print one JSON object instead of text")
		return func(ctx context.Context, c *cmdEnv) error {
			arg, err := c.idArg()
			if err != nil {
				return err
			}
			d, err := openDB(ctx, c.dbPath)
			if err != nil {
				return err
			}
			defer d.Close()
			id, err := frameArg(ctx, d, arg)
			if err != nil {
				return err
			}
			f, err := d.Image(ctx, id)
			if err != nil {
				return notFound(err, id, d.Path())
			}
			r := summarize(f)
			r.Database = d.Path()
			if *asJSON {
				return writeJSON(c.stdout, r)
			}
			return r.writeText(c.stdout)
		}
	},
}

// showReport is what show prints; its JSON form is the --json output.
type showReport struct {
	ID       int64  `json:"id"`
	Database string `json:"database"`
	Filename string `json:"filename"`
	// Format is what the image bytes are (jpeg, png, bmp, tiff), or "" when
	// unrecognised.
	Format   string `json:"format"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Channels int    `json:"channels"`
	Bytes    int    `json:"bytes"`
	// StreamID and Seq are null for a frame without stream/seq.
	StreamID    *uint64         `json:"stream_id"`
	Seq         *uint64         `json:"seq"`
	Timestamp   int64           `json:"timestamp"` // the wire timestamp, ns since the Unix epoch
	PublishedAt *time.Time      `json:"published_at"`
	ExtractedAt *time.Time      `json:"extracted_at"`
	ReceivedAt  *time.Time      `json:"received_at"`
	StoredAt    *time.Time      `json:"stored_at"`
	Latency     latencies       `json:"latency_ns"`
	Keypoints   keypointSummary `json:"keypoints"`
	// Descriptors is the number of 128-value descriptors stored.
	Descriptors int `json:"descriptors"`
}

// latencies are the times between pipeline steps in ns; null if either end
// is unknown.
type latencies struct {
	Extract *int64 `json:"extract"` // published → extracted
	Deliver *int64 `json:"deliver"` // extracted → received by the logger
	Store   *int64 `json:"store"`   // received → committed
	Total   *int64 `json:"total"`   // published → committed
}

// keypointSummary summarises a frame's keypoints.
type keypointSummary struct {
	Count    int           `json:"count"`
	Response *valueRange   `json:"response"` // null without keypoints
	Size     *valueRange   `json:"size"`     // null without keypoints
	Octaves  []octaveCount `json:"octaves"`  // ascending octave
}

type valueRange struct {
	Min    float32 `json:"min"`
	Median float32 `json:"median"`
	Max    float32 `json:"max"`
}

type octaveCount struct {
	Octave int `json:"octave"`
	Count  int `json:"count"`
}

// octaveOf returns the octave OpenCV's SIFT packs into the low byte of
// KeyPoint.octave (signed: -1 is the upsampled first octave). Plain octave
// numbers below 128 pass through unchanged.
func octaveOf(packed int32) int { return int(int8(packed & 0xff)) }

func summarize(f *db.Frame) *showReport {
	r := &showReport{
		ID: f.ID, Filename: f.Filename, Width: f.Width, Height: f.Height, Channels: f.Channels,
		Bytes: len(f.Image), Timestamp: f.Timestamp,
		PublishedAt: jsonTime(f.PublishedAt), ExtractedAt: jsonTime(f.ExtractedAt),
		ReceivedAt: jsonTime(f.ReceivedAt), StoredAt: jsonTime(f.StoredAt),
		Descriptors: len(f.Descriptors) / db.DescriptorSize,
	}
	if info, err := probe.Probe(f.Image); err == nil {
		r.Format = info.Format
	}
	if f.StreamID != 0 || f.Seq != 0 {
		r.StreamID, r.Seq = &f.StreamID, &f.Seq
	}
	r.Latency = latencies{
		Extract: between(f.PublishedAt, f.ExtractedAt),
		Deliver: between(f.ExtractedAt, f.ReceivedAt),
		Store:   between(f.ReceivedAt, f.StoredAt),
		Total:   between(f.PublishedAt, f.StoredAt),
	}
	r.Keypoints = summarizeKeypoints(f.Keypoints)
	return r
}

func between(a, b time.Time) *int64 {
	if a.IsZero() || b.IsZero() {
		return nil
	}
	d := int64(b.Sub(a))
	return &d
}

func summarizeKeypoints(kps []db.Keypoint) keypointSummary {
	s := keypointSummary{Count: len(kps), Octaves: []octaveCount{}}
	if len(kps) == 0 {
		return s
	}
	resp := make([]float32, len(kps))
	size := make([]float32, len(kps))
	octaves := map[int]int{}
	for i, k := range kps {
		resp[i], size[i] = k.Response, k.Size
		octaves[octaveOf(k.Octave)]++
	}
	s.Response, s.Size = rangeOf(resp), rangeOf(size)
	for o, n := range octaves {
		s.Octaves = append(s.Octaves, octaveCount{o, n})
	}
	slices.SortFunc(s.Octaves, func(a, b octaveCount) int { return a.Octave - b.Octave })
	return s
}

// rangeOf returns min, median and max of v (not empty), sorting v. The
// median of an even count is the mean of the middle two.
func rangeOf(v []float32) *valueRange {
	slices.Sort(v)
	n := len(v)
	med := v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return &valueRange{Min: v[0], Median: med, Max: v[n-1]}
}

func (r *showReport) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "frame\t%d (%s)\n", r.ID, r.Database)
	fmt.Fprintf(tw, "file\t%s\n", r.Filename)
	format := r.Format
	if format == "" {
		format = "unrecognised format"
	}
	fmt.Fprintf(tw, "image\t%s, %dx%d, %s, %s (%d bytes)\n",
		format, r.Width, r.Height, plural(r.Channels, "channel", "channels"), fmtBytes(int64(r.Bytes)), r.Bytes)
	if r.StreamID != nil {
		fmt.Fprintf(tw, "stream/seq\t%d/%d\n", *r.StreamID, *r.Seq)
	} else {
		fmt.Fprintf(tw, "stream/seq\t- (sent without stream/seq)\n")
	}
	fmt.Fprintf(tw, "timestamp\t%s (%d ns)\n", fmtTime(time.Unix(0, r.Timestamp)), r.Timestamp)
	for _, t := range []struct {
		name string
		at   *time.Time
	}{{"published", r.PublishedAt}, {"extracted", r.ExtractedAt}, {"received", r.ReceivedAt}, {"stored", r.StoredAt}} {
		v := "-"
		if t.at != nil {
			v = fmtTime(*t.at)
		}
		fmt.Fprintf(tw, "%s\t%s\n", t.name, v)
	}
	fmt.Fprintf(tw, "latency\textract %s, deliver %s, store %s, total %s\n",
		fmtNS(r.Latency.Extract), fmtNS(r.Latency.Deliver), fmtNS(r.Latency.Store), fmtNS(r.Latency.Total))
	k := r.Keypoints
	fmt.Fprintf(tw, "keypoints\t%d (%d descriptors)\n", k.Count, r.Descriptors)
	if k.Count > 0 {
		fmt.Fprintf(tw, "  response\tmin %s  median %s  max %s\n", fmtG(k.Response.Min), fmtG(k.Response.Median), fmtG(k.Response.Max))
		fmt.Fprintf(tw, "  size\tmin %s  median %s  max %s\n", fmtG(k.Size.Min), fmtG(k.Size.Median), fmtG(k.Size.Max))
		parts := make([]string, len(k.Octaves))
		for i, o := range k.Octaves {
			parts[i] = fmt.Sprintf("%d: %d", o.Octave, o.Count)
		}
		fmt.Fprintf(tw, "  octaves\t%s\n", strings.Join(parts, "  "))
	}
	return tw.Flush()
}

func fmtNS(ns *int64) string {
	if ns == nil {
		return "-"
	}
	return fmtDuration(time.Duration(*ns))
}

// fmtG prints a summary value with 4 significant digits.
func fmtG(v float32) string { return fmt.Sprintf("%.4g", v) }
