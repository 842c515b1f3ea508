package dbcmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
)

var exportCmd = &command{
	name:    "export",
	summary: "frames and keypoints as JSON lines or CSV, streamed in constant memory",
	about: `Writes every frame, oldest first, with its keypoints. The database is read a
page of rows at a time, so a database of any size exports in constant memory.
Frames stored while the export runs may or may not be included; a frame that
retention deletes meanwhile is left out (or, rarely, cut short).

--format jsonl (default): one JSON object per line and frame:
  {"id":42,"stream_id":7,"seq":17,"timestamp":1714564800000000000,
   "filename":"reef.jpg","width":640,"height":480,"channels":3,
   "data_size":293130,"keypoint_count":2,
   "published_at":"2024-05-01T12:00:00.1Z","extracted_at":"…",
   "received_at":"…","stored_at":"…",
   "keypoints":[{"x":10.5,"y":20.25,"size":3.2,"angle":271.4,
                 "response":0.021,"octave":16777471,"descriptor":[…128]},…],
   "image":"<base64>"}
  stream_id/seq and unknown times are null; "descriptor" is present with
  --descriptors only, "image" with --images only. Times are RFC 3339 in UTC,
  timestamp is the wire timestamp in ns since the Unix epoch.

--format csv: a header row, then one row per keypoint (frames without
keypoints have no rows):
  image_id,stream_id,seq,filename,timestamp,keypoint_index,x,y,size,angle,response,octave
  followed by d0,…,d127 with --descriptors. stream_id/seq are empty for a
  frame without stream/seq. --images is not available with csv.

Keypoint values are float32 printed in the shortest form that reads back
exactly; octave is OpenCV's packed value as stored.
`,
	setup: func(fs *flag.FlagSet) func(context.Context, *cmdEnv) error {
		var o exportOptions
		fs.StringVar(&o.format, "format", "jsonl", "output format: jsonl or csv")
		fs.BoolVar(&o.descriptors, "descriptors", false, "include each keypoint's 128 descriptor values")
		fs.BoolVar(&o.images, "images", false, "include the image bytes, base64 (jsonl only)")
		out := fs.String("out", "", "write to `FILE`, replaced only when the export succeeds (default stdout)")
		return func(ctx context.Context, c *cmdEnv) error {
			if err := c.noArgs(); err != nil {
				return err
			}
			switch o.format {
			case "jsonl", "csv":
			default:
				return c.usagef("--format %q: want jsonl or csv", o.format)
			}
			if o.images && o.format == "csv" {
				return c.usagef("--images needs --format jsonl")
			}
			d, err := openDB(ctx, c.dbPath)
			if err != nil {
				return err
			}
			defer d.Close()
			if *out == "" {
				_, err := export(ctx, d, c.stdout, o)
				return err
			}
			n, err := writeFileAtomic(*out, func(w io.Writer) (exportCounts, error) { return export(ctx, d, w, o) })
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stderr, "exported %d frames, %d keypoints to %s\n", n.frames, n.keypoints, *out)
			return nil
		}
	},
}

type exportOptions struct {
	format      string // "jsonl" or "csv"
	descriptors bool
	images      bool
}

type exportCounts struct{ frames, keypoints int64 }

// exportBufSize is the output buffer; bytes beyond it go straight out.
const exportBufSize = 256 << 10

// export writes every frame of d to w. Memory does not grow with the number
// of frames: frames are listed a page at a time (EachImage) and keypoints
// streamed a page at a time (EachKeypoint); only with --descriptors is one
// whole frame held at a time (db.Image), the descriptors being one blob.
func export(ctx context.Context, d *db.DB, w io.Writer, o exportOptions) (exportCounts, error) {
	e := &exporter{d: d, o: o, w: bufio.NewWriterSize(w, exportBufSize)}
	if o.format == "csv" {
		e.writeCSVHeader()
	}
	// With --descriptors, db.Image brings the image bytes along; otherwise
	// EachImage reads them, one at a time, if they are wanted.
	withBlobs := o.images && !o.descriptors
	err := d.EachImage(ctx, withBlobs, func(r *db.ImageRow) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return e.frame(ctx, r)
	})
	if err == nil {
		err = e.w.Flush()
	}
	if err != nil {
		return e.n, fmt.Errorf("db export: %w", err)
	}
	return e.n, nil
}

type exporter struct {
	d   *db.DB
	o   exportOptions
	w   *bufio.Writer
	n   exportCounts
	buf []byte       // scratch for one keypoint's record
	pre bytes.Buffer // scratch for a frame's part of a record
}

// frame writes one frame's record(s).
func (e *exporter) frame(ctx context.Context, r *db.ImageRow) error {
	var (
		written bool // the frame's head is out
		emit    func(i int, k db.Keypoint, desc []float32) error
	)
	switch e.o.format {
	case "csv":
		e.csvPrefix(r)
		emit = func(i int, k db.Keypoint, desc []float32) error {
			e.buf = appendCSVKeypoint(append(e.buf[:0], e.pre.Bytes()...), i, k, desc, e.o.descriptors)
			_, err := e.w.Write(e.buf)
			return err
		}
	default:
		if err := e.jsonHead(r); err != nil {
			return err
		}
		emit = func(i int, k db.Keypoint, desc []float32) error {
			if !written {
				written = true
				if _, err := e.w.Write(e.pre.Bytes()); err != nil {
					return err
				}
			}
			e.buf = e.buf[:0]
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = appendJSONKeypoint(e.buf, k, desc, e.o.descriptors)
			_, err := e.w.Write(e.buf)
			return err
		}
	}

	var img []byte
	n := 0
	if e.o.descriptors {
		f, err := e.d.Image(ctx, r.ID)
		if errors.Is(err, db.ErrNotFound) {
			return nil // deleted (retention) since it was listed
		}
		if err != nil {
			return err
		}
		for i, k := range f.Keypoints {
			if err := emit(i, k, descriptorOf(f.Descriptors, i)); err != nil {
				return err
			}
		}
		n, img = len(f.Keypoints), f.Image
	} else {
		err := e.d.EachKeypoint(ctx, r.ID, func(i int, k db.Keypoint) error {
			n++
			return emit(i, k, nil)
		})
		if errors.Is(err, db.ErrNotFound) && n == 0 {
			return nil // deleted since it was listed
		}
		if err != nil {
			return err
		}
		img = r.Image
	}
	e.n.frames++
	e.n.keypoints += int64(n)
	if e.o.format == "csv" {
		return nil
	}
	if !written {
		if _, err := e.w.Write(e.pre.Bytes()); err != nil {
			return err
		}
	}
	e.w.WriteByte(']')
	if e.o.images {
		e.w.WriteString(`,"image":"`)
		enc := base64.NewEncoder(base64.StdEncoding, e.w)
		enc.Write(img)
		enc.Close()
		e.w.WriteByte('"')
	}
	_, err := e.w.WriteString("}\n")
	return err
}

// descriptorOf returns descriptor i, or nil when the blob is short (a
// damaged frame).
func descriptorOf(desc []float32, i int) []float32 {
	if (i+1)*db.DescriptorSize > len(desc) {
		return nil
	}
	return desc[i*db.DescriptorSize : (i+1)*db.DescriptorSize]
}

// frameJSON is a JSON lines record without its keypoints and image.
type frameJSON struct {
	ID            int64      `json:"id"`
	StreamID      *uint64    `json:"stream_id"`
	Seq           *uint64    `json:"seq"`
	Timestamp     int64      `json:"timestamp"`
	Filename      string     `json:"filename"`
	Width         int        `json:"width"`
	Height        int        `json:"height"`
	Channels      int        `json:"channels"`
	DataSize      int64      `json:"data_size"`
	KeypointCount int        `json:"keypoint_count"`
	PublishedAt   *time.Time `json:"published_at"`
	ExtractedAt   *time.Time `json:"extracted_at"`
	ReceivedAt    *time.Time `json:"received_at"`
	StoredAt      *time.Time `json:"stored_at"`
}

// jsonHead puts the record up to and including `"keypoints":[` in e.pre.
func (e *exporter) jsonHead(r *db.ImageRow) error {
	h := frameJSON{
		ID: r.ID, Timestamp: r.Timestamp, Filename: r.Filename,
		Width: r.Width, Height: r.Height, Channels: r.Channels,
		DataSize: r.DataSize, KeypointCount: r.KeypointCount,
		PublishedAt: jsonTime(r.PublishedAt), ExtractedAt: jsonTime(r.ExtractedAt),
		ReceivedAt: jsonTime(r.ReceivedAt), StoredAt: jsonTime(r.StoredAt),
	}
	if r.StreamID != 0 || r.Seq != 0 {
		h.StreamID, h.Seq = &r.StreamID, &r.Seq
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	e.pre.Reset()
	e.pre.Write(b[:len(b)-1]) // without the closing brace
	e.pre.WriteString(`,"keypoints":[`)
	return nil
}

// appendJSONKeypoint appends one keypoint object.
func appendJSONKeypoint(b []byte, k db.Keypoint, desc []float32, withDesc bool) []byte {
	b = append(b, `{"x":`...)
	b = appendJSONFloat(b, k.X)
	b = append(b, `,"y":`...)
	b = appendJSONFloat(b, k.Y)
	b = append(b, `,"size":`...)
	b = appendJSONFloat(b, k.Size)
	b = append(b, `,"angle":`...)
	b = appendJSONFloat(b, k.Angle)
	b = append(b, `,"response":`...)
	b = appendJSONFloat(b, k.Response)
	b = append(b, `,"octave":`...)
	b = strconv.AppendInt(b, int64(k.Octave), 10)
	if withDesc {
		b = append(b, `,"descriptor":`...)
		if desc == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for j, v := range desc {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendJSONFloat(b, v)
			}
			b = append(b, ']')
		}
	}
	return append(b, '}')
}

// appendJSONFloat appends v in its shortest exact form; JSON has no NaN or
// infinity, so those become null.
func appendJSONFloat(b []byte, v float32) []byte {
	if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, float64(v), 'g', -1, 32)
}

// csvColumns are the CSV columns before the descriptor values.
var csvColumns = []string{"image_id", "stream_id", "seq", "filename", "timestamp",
	"keypoint_index", "x", "y", "size", "angle", "response", "octave"}

func (e *exporter) writeCSVHeader() {
	cols := csvColumns
	if e.o.descriptors {
		cols = append(cols[:len(cols):len(cols)], make([]string, db.DescriptorSize)...)
		for i := range db.DescriptorSize {
			cols[len(csvColumns)+i] = "d" + strconv.Itoa(i)
		}
	}
	cw := csv.NewWriter(e.w)
	cw.Write(cols)
	cw.Flush()
}

// csvPrefix puts the frame's columns of each row, quoted as CSV needs, in
// e.pre.
func (e *exporter) csvPrefix(r *db.ImageRow) {
	stream, seq := "", ""
	if r.StreamID != 0 || r.Seq != 0 {
		stream, seq = strconv.FormatUint(r.StreamID, 10), strconv.FormatUint(r.Seq, 10)
	}
	e.pre.Reset()
	cw := csv.NewWriter(&e.pre)
	cw.Write([]string{strconv.FormatInt(r.ID, 10), stream, seq, r.Filename, strconv.FormatInt(r.Timestamp, 10)})
	cw.Flush()
	e.pre.Truncate(e.pre.Len() - 1) // the newline
}

// appendCSVKeypoint appends the keypoint's columns and the row's newline.
func appendCSVKeypoint(b []byte, i int, k db.Keypoint, desc []float32, withDesc bool) []byte {
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(i), 10)
	for _, v := range [...]float32{k.X, k.Y, k.Size, k.Angle, k.Response} {
		b = append(b, ',')
		b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
	}
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(k.Octave), 10)
	if withDesc {
		for j := range db.DescriptorSize {
			b = append(b, ',')
			if desc != nil {
				b = strconv.AppendFloat(b, float64(desc[j]), 'g', -1, 32)
			}
		}
	}
	return append(b, '\n')
}

// writeFileAtomic calls write with a temporary file next to path and
// renames it to path if write succeeds, so path never holds a partial
// result; on failure the temporary file is removed.
func writeFileAtomic[T any](path string, write func(io.Writer) (T, error)) (T, error) {
	var zero T
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return zero, err
	}
	defer os.Remove(f.Name()) // a no-op after the rename
	v, err := write(f)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return zero, err
	}
	return v, nil
}
