// Package dbcmd implements `imaging-tui db CMD [flags]`, the operator's
// read-only tools for the pipeline's SQLite database:
//
//	imaging-tui db stats   [--json] [--gaps N]
//	imaging-tui db show    ID|latest [--json]
//	imaging-tui db export  [--format jsonl|csv] [--descriptors] [--images] [--out FILE]
//	imaging-tui db draw    ID|latest [--out FILE.png]
//	imaging-tui db verify  [--json] [--allow-gaps]
//
// Every command takes --db PATH (default imaging.db) and --help. Main runs
// them; Draw and DrawLatest are also what the console's draw key calls.
//
// # Export records
//
// JSON lines (the default): one object per frame, oldest first, keys in this
// order:
//
//	id, stream_id, seq, timestamp, filename, width, height, channels,
//	data_size, keypoint_count, published_at, extracted_at, received_at,
//	stored_at, keypoints, image
//
// stream_id and seq are null for a frame sent without them; the *_at times
// are RFC 3339 strings in UTC with nanoseconds, or null when unknown;
// timestamp is the wire timestamp (ns since the Unix epoch). keypoints is an
// array of {"x","y","size","angle","response","octave"} objects in stored
// order, each with "descriptor" (128 numbers, or null if the frame's
// descriptor blob is short) when --descriptors is given. image, with
// --images only, is the stored image bytes in standard base64.
//
// CSV: a header row, then one row per keypoint:
//
//	image_id,stream_id,seq,filename,timestamp,keypoint_index,x,y,size,angle,response,octave
//
// followed by d0 … d127 with --descriptors. A frame without keypoints has
// no row; stream_id and seq are empty for a frame without them.
//
// Floats are float32 values printed in the shortest form that parses back
// to the same float32; octave is OpenCV's packed value as stored.
//
// # What it won't do
//
// It never writes to the database (db.OpenReadOnly), so it is safe to run
// while the logger stores frames; an export or verify then sees frames
// stored meanwhile or not. It does not decode BMP or TIFF images:
// golang.org/x/image is not a dependency, so draw reports
// ErrUnsupportedImage for them.
//
// Nothing here starts a goroutine; every function returns when its work
// is done or ctx ends.
package dbcmd
