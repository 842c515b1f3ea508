package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"unsafe"
)

// Type is a message's first byte.
type Type uint8

// Message types. Heartbeat and Shutdown are reserved by the seed design and
// never sent by this implementation; Ack is ours (reliable delivery), and
// so is Ready (pool.go, the work pool).
const (
	TypeImage     Type = 1
	TypeProcessed Type = 2
	TypeHeartbeat Type = 3
	TypeShutdown  Type = 4
	TypeAck       Type = 0x10
)

func (t Type) String() string {
	switch t {
	case TypeImage:
		return "IMAGE_DATA"
	case TypeProcessed:
		return "PROCESSED_DATA"
	case TypeHeartbeat:
		return "HEARTBEAT"
	case TypeShutdown:
		return "SHUTDOWN"
	case TypeAck:
		return "ACK"
	case TypeReady:
		return "READY"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Limits that every decoder enforces before it allocates or slices.
const (
	// MaxFilename is the longest filename in bytes, as in the seed design.
	MaxFilename = 255
	// MaxImageBytes is the largest encoded image a frame may carry (256 MiB).
	MaxImageBytes = 256 << 20
	// MaxKeypoints is the most keypoints a PROCESSED_DATA frame may carry.
	MaxKeypoints = 1 << 20
	// DescriptorSize is the number of float32 values in one SIFT descriptor.
	DescriptorSize = 128
	// MaxMessageBytes bounds a whole message: the largest image plus the
	// largest feature set. Receiving sockets use it as ZMQ_MAXMSGSIZE.
	MaxMessageBytes = 1 << 30
)

const (
	headerSize   = 1 + 8 + 4*5 // type, timestamp, width, height, channels, data size, filename length
	keypointSize = 6 * 4       // x, y, size, angle, response, octave
	trailerMagic = "ITUI"      // first bytes of the extension trailer
	trailerV1    = 1           // trailer version written by this package
	trailerBody  = 4 * 8       // v1 body: stream, seq, published, extracted
	trailerSize  = len(trailerMagic) + 2 + trailerBody
)

// Errors returned (wrapped in a *DecodeError) by the decoders.
var (
	ErrTruncated = errors.New("wire: message truncated")
	ErrType      = errors.New("wire: unexpected message type")
	ErrTooLarge  = errors.New("wire: declared size over limit")
	ErrFilename  = errors.New("wire: bad filename")
	ErrTrailer   = errors.New("wire: bad extension trailer")
	ErrMismatch  = errors.New("wire: inconsistent frame")
)

// DecodeError says which field of a message was wrong and where.
type DecodeError struct {
	Field  string // the field being read, e.g. "filename length"
	Offset int    // byte offset of that field in the message
	Err    error  // one of the Err* sentinels
	Detail string // human detail, e.g. "declares 4096 bytes, 12 remain"
}

func (e *DecodeError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("%v: %s at byte %d", e.Err, e.Field, e.Offset)
	}
	return fmt.Sprintf("%v: %s at byte %d: %s", e.Err, e.Field, e.Offset, e.Detail)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Keypoint is one SIFT keypoint as carried on the wire.
type Keypoint struct {
	X, Y     float32
	Size     float32
	Angle    float32
	Response float32
	Octave   int32
}

// Trailer is our extension after the seed content.
type Trailer struct {
	StreamID    uint64 // random id a generator picks at start
	Seq         uint64 // sequence number within the stream, from 1
	PublishedNS uint64 // when the generator first published the frame
	ExtractedNS uint64 // when the extractor finished SIFT; 0 before
}

// Frame is one IMAGE_DATA or PROCESSED_DATA message.
type Frame struct {
	Type      Type   // TypeImage or TypeProcessed
	Timestamp uint64 // ns since the Unix epoch
	Width     uint32
	Height    uint32
	Channels  uint32
	Filename  string
	// Data is the encoded image file (JPEG, PNG, ...). A decoded frame's Data
	// slices into the decoded buffer.
	Data []byte
	// Keypoints and Descriptors are set for TypeProcessed only. Descriptors
	// holds len(Keypoints)×128 values for SIFT, row after row.
	Keypoints   []Keypoint
	Descriptors []float32
	// DescriptorsLE replaces Descriptors in a frame from
	// DecodeProcessedInPlace: the same values as little-endian binary32,
	// in the decoded message's own buffer. Encoding uses it when
	// Descriptors is empty.
	DescriptorsLE []byte
	// Trailer is nil for a message without our extension (a seed peer's).
	Trailer *Trailer
}

// Size returns the encoded size of f in bytes.
func (f *Frame) Size() int {
	n := headerSize + len(f.Filename) + len(f.Data)
	if f.Type == TypeProcessed {
		n += 4 + len(f.Keypoints)*keypointSize + 4 + f.descriptorCount()*4
	}
	if f.Trailer != nil {
		n += trailerSize
	}
	return n
}

// DataOffset returns where Data begins in f's encoding. A sender that reads
// an image straight into buf[DataOffset():] of a buffer of Size() bytes,
// sets Data to that slice and calls AppendBinary(buf[:0]) gets the message
// in buf with no copy of the image (see AppendBinary).
func (f *Frame) DataOffset() int { return headerSize + len(f.Filename) }

// MarshalBinary encodes f into a new buffer of exactly f.Size() bytes.
func (f *Frame) MarshalBinary() ([]byte, error) {
	return f.AppendBinary(make([]byte, 0, f.Size()))
}

// AppendBinary appends the encoding of f to b. When f.Data already sits in
// b's spare capacity exactly where it would be appended, it stays there.
func (f *Frame) AppendBinary(b []byte) ([]byte, error) {
	if err := f.check(); err != nil {
		return b, err
	}
	b = append(b, byte(f.Type))
	b = binary.BigEndian.AppendUint64(b, f.Timestamp)
	b = binary.BigEndian.AppendUint32(b, f.Width)
	b = binary.BigEndian.AppendUint32(b, f.Height)
	b = binary.BigEndian.AppendUint32(b, f.Channels)
	b = binary.BigEndian.AppendUint32(b, uint32(len(f.Data)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(f.Filename)))
	b = append(b, f.Filename...)
	b = appendInPlace(b, f.Data)
	if f.Type == TypeProcessed {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f.Keypoints)))
		for _, k := range f.Keypoints {
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(k.X))
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(k.Y))
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(k.Size))
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(k.Angle))
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(k.Response))
			b = binary.BigEndian.AppendUint32(b, uint32(k.Octave))
		}
		b = binary.BigEndian.AppendUint32(b, uint32(f.descriptorCount()))
		if len(f.Descriptors) == 0 && len(f.DescriptorsLE) > 0 {
			b = appendSwapped(b, f.DescriptorsLE[:4*f.descriptorCount()])
		} else {
			b = appendFloatsBE(b, f.Descriptors)
		}
	}
	if f.Trailer != nil {
		b = f.Trailer.append(b)
	}
	return b, nil
}

func (f *Frame) check() error {
	switch {
	case f.Type != TypeImage && f.Type != TypeProcessed:
		return fmt.Errorf("wire: encode %v: %w", f.Type, ErrType)
	case len(f.Filename) > MaxFilename:
		return fmt.Errorf("wire: encode filename of %d bytes (max %d): %w", len(f.Filename), MaxFilename, ErrFilename)
	case len(f.Data) > MaxImageBytes:
		return fmt.Errorf("wire: encode image of %d bytes (max %d): %w", len(f.Data), MaxImageBytes, ErrTooLarge)
	case len(f.Keypoints) > MaxKeypoints:
		return fmt.Errorf("wire: encode %d keypoints (max %d): %w", len(f.Keypoints), MaxKeypoints, ErrTooLarge)
	case f.descriptorCount() > MaxKeypoints*DescriptorSize:
		return fmt.Errorf("wire: encode %d descriptor values: %w", f.descriptorCount(), ErrTooLarge)
	case f.Type == TypeImage && (len(f.Keypoints) > 0 || f.descriptorCount() > 0):
		// IMAGE_DATA has no room for features: refuse rather than drop them.
		return fmt.Errorf("wire: encode %v with %d keypoints and %d descriptor values: %w",
			f.Type, len(f.Keypoints), f.descriptorCount(), ErrMismatch)
	}
	return nil
}

// descriptorCount is the number of descriptor values f carries, in
// Descriptors or else in DescriptorsLE.
func (f *Frame) descriptorCount() int {
	if len(f.Descriptors) == 0 {
		return len(f.DescriptorsLE) / 4
	}
	return len(f.Descriptors)
}

func (t *Trailer) append(b []byte) []byte {
	b = append(b, trailerMagic...)
	b = append(b, trailerV1, trailerBody)
	b = binary.BigEndian.AppendUint64(b, t.StreamID)
	b = binary.BigEndian.AppendUint64(b, t.Seq)
	b = binary.BigEndian.AppendUint64(b, t.PublishedNS)
	return binary.BigEndian.AppendUint64(b, t.ExtractedNS)
}

// appendInPlace appends d to b, without copying when d is already the
// next len(d) bytes of b's backing array.
func appendInPlace(b, d []byte) []byte {
	if len(d) > 0 && cap(b)-len(b) >= len(d) && &b[len(b):cap(b)][0] == &d[0] {
		return b[:len(b)+len(d)]
	}
	return append(b, d...)
}

// appendFloatsBE appends v as big-endian binary32 values with one growth of b.
func appendFloatsBE(b []byte, v []float32) []byte {
	if len(v) == 0 {
		return b
	}
	if littleEndianHost {
		return appendSwapped(b, unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)))
	}
	off := len(b)
	b = slices.Grow(b, 4*len(v))[:off+4*len(v)]
	out := b[off:]
	for i, x := range v {
		binary.BigEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return b
}

// appendSwapped appends the 4-byte values of le (little-endian) big-endian.
func appendSwapped(b, le []byte) []byte {
	off := len(b)
	b = slices.Grow(b, len(le))[:off+len(le)] // every byte written below: no clearing
	swap32s(b[off:], le)
	return b
}

// swap32s writes the 4-byte values of src into dst with their bytes
// reversed (little- to big-endian or back); dst and src may be the same
// slice. Eight bytes at a time: a byte swap of both values, whose halves
// then trade places. Megabytes a frame pass through here, once in the
// extractor and once in the logger.
func swap32s(dst, src []byte) {
	n := len(src) &^ 7
	dst = dst[:len(src)] // one bounds check for the loops below
	for i := 0; i < n; i += 8 {
		v := binary.LittleEndian.Uint64(src[i : i+8])
		binary.LittleEndian.PutUint64(dst[i:i+8], bits.RotateLeft64(bits.ReverseBytes64(v), 32))
	}
	for i := n; i+4 <= len(src); i += 4 {
		binary.BigEndian.PutUint32(dst[i:i+4], binary.LittleEndian.Uint32(src[i:i+4]))
	}
}

// PeekType returns the type byte of msg, or an error for an empty message.
func PeekType(msg []byte) (Type, error) {
	if len(msg) == 0 {
		return 0, &DecodeError{Field: "type", Err: ErrTruncated, Detail: "empty message"}
	}
	return Type(msg[0]), nil
}

// DecodeImage decodes an IMAGE_DATA message. The frame's Data slices into msg.
func DecodeImage(msg []byte) (*Frame, error) { return decode(msg, TypeImage) }

// DecodeProcessed decodes a PROCESSED_DATA message. The frame's Data slices
// into msg; keypoints and descriptors are converted into new slices.
func DecodeProcessed(msg []byte) (*Frame, error) { return decode(msg, TypeProcessed) }

// DecodeProcessedInPlace is DecodeProcessed for a receiver that owns msg and
// stores descriptors little-endian (the database): instead of converting the
// descriptors into a new slice, it rewrites them little-endian inside msg
// and sets DescriptorsLE to them, leaving Descriptors nil. That saves a
// buffer of megabytes a frame. msg is modified even when an error is
// returned.
func DecodeProcessedInPlace(msg []byte) (*Frame, error) {
	return decodeOpts(msg, TypeProcessed, true)
}

// Decode decodes an IMAGE_DATA or PROCESSED_DATA message, whichever msg is.
func Decode(msg []byte) (*Frame, error) {
	t, err := PeekType(msg)
	if err != nil {
		return nil, err
	}
	if t != TypeImage && t != TypeProcessed {
		return nil, &DecodeError{Field: "type", Err: ErrType,
			Detail: fmt.Sprintf("got %v, want %v or %v", t, TypeImage, TypeProcessed)}
	}
	return decode(msg, t)
}

func decode(msg []byte, want Type) (*Frame, error) { return decodeOpts(msg, want, false) }

func decodeOpts(msg []byte, want Type, inPlace bool) (*Frame, error) {
	r := reader{buf: msg, inPlace: inPlace}
	t := Type(r.u8("type"))
	if r.err != nil {
		return nil, r.err
	}
	if t != want || (t != TypeImage && t != TypeProcessed) {
		return nil, &DecodeError{Field: "type", Err: ErrType, Detail: fmt.Sprintf("got %v, want %v", t, want)}
	}
	f := &Frame{Type: t}
	f.Timestamp = r.u64("timestamp")
	f.Width = r.u32("width")
	f.Height = r.u32("height")
	f.Channels = r.u32("channels")
	dataOff := r.off
	dataSize := r.u32("data size")
	nameOff := r.off
	nameLen := r.u32("filename length")
	if r.err != nil {
		return nil, r.err
	}
	if nameLen > MaxFilename {
		return nil, r.failAt(nameOff, "filename length", ErrFilename, fmt.Sprintf("%d bytes, max %d", nameLen, MaxFilename))
	}
	if dataSize > MaxImageBytes {
		return nil, r.failAt(dataOff, "data size", ErrTooLarge, fmt.Sprintf("%d bytes, max %d", dataSize, MaxImageBytes))
	}
	f.Filename = string(r.bytes("filename", int(nameLen)))
	f.Data = r.bytes("image data", int(dataSize))
	if r.err != nil {
		return nil, r.err
	}
	if t == TypeProcessed {
		r.features(f)
		if r.err != nil {
			return nil, r.err
		}
	}
	if r.remaining() > 0 {
		tr, err := r.trailer()
		if err != nil {
			return nil, err
		}
		f.Trailer = tr
	}
	return f, nil
}

// reader walks a message; the first failure sticks in err and later reads
// return zero values, so decode checks err once per group of fields.
type reader struct {
	buf     []byte
	off     int
	err     error
	inPlace bool // descriptors: rewrite little-endian in buf (DecodeProcessedInPlace)
}

func (r *reader) remaining() int { return len(r.buf) - r.off }

func (r *reader) fail(field string, err error, detail string) error {
	return r.failAt(r.off, field, err, detail)
}

// failAt is fail for a field that starts at off, e.g. a length already read.
func (r *reader) failAt(off int, field string, err error, detail string) error {
	if r.err == nil {
		r.err = &DecodeError{Field: field, Offset: off, Err: err, Detail: detail}
	}
	return r.err
}

func (r *reader) bytes(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.remaining() {
		r.fail(field, ErrTruncated, fmt.Sprintf("needs %d bytes, %d remain", n, r.remaining()))
		return nil
	}
	b := r.buf[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

func (r *reader) u8(field string) uint8 {
	if b := r.bytes(field, 1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u32(field string) uint32 {
	if b := r.bytes(field, 4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64(field string) uint64 {
	if b := r.bytes(field, 8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) features(f *Frame) {
	kOff := r.off
	k := r.u32("keypoint count")
	if r.err != nil {
		return
	}
	if k > MaxKeypoints {
		r.failAt(kOff, "keypoint count", ErrTooLarge, fmt.Sprintf("%d keypoints, max %d", k, MaxKeypoints))
		return
	}
	raw := r.bytes("keypoints", int(k)*keypointSize)
	if r.err != nil {
		return
	}
	f.Keypoints = make([]Keypoint, k)
	for i := range f.Keypoints {
		p := raw[i*keypointSize:]
		f.Keypoints[i] = Keypoint{
			X:        math.Float32frombits(binary.BigEndian.Uint32(p[0:])),
			Y:        math.Float32frombits(binary.BigEndian.Uint32(p[4:])),
			Size:     math.Float32frombits(binary.BigEndian.Uint32(p[8:])),
			Angle:    math.Float32frombits(binary.BigEndian.Uint32(p[12:])),
			Response: math.Float32frombits(binary.BigEndian.Uint32(p[16:])),
			Octave:   int32(binary.BigEndian.Uint32(p[20:])),
		}
	}
	nOff := r.off
	n := r.u32("descriptor count")
	if r.err != nil {
		return
	}
	if uint64(n) > MaxKeypoints*DescriptorSize {
		r.failAt(nOff, "descriptor count", ErrTooLarge, fmt.Sprintf("%d values, max %d", n, MaxKeypoints*DescriptorSize))
		return
	}
	raw = r.bytes("descriptors", int(n)*4)
	if r.err != nil {
		return
	}
	if r.inPlace {
		swap32s(raw, raw)
		f.DescriptorsLE = raw
		return
	}
	f.Descriptors = make([]float32, n)
	for i := range f.Descriptors {
		f.Descriptors[i] = math.Float32frombits(binary.BigEndian.Uint32(raw[4*i:]))
	}
}

func (r *reader) trailer() (*Trailer, error) {
	start := r.off
	magic := r.bytes("trailer magic", len(trailerMagic))
	if r.err != nil || string(magic) != trailerMagic {
		r.err = nil
		r.off = start
		return nil, r.fail("trailer magic", ErrTrailer, fmt.Sprintf("%d unexpected bytes after the frame", r.remaining()))
	}
	versionOff := r.off
	version := r.u8("trailer version")
	bodyLen := int(r.u8("trailer length"))
	if r.err != nil {
		return nil, r.err
	}
	if version == 0 || bodyLen < trailerBody {
		return nil, r.failAt(versionOff, "trailer version", ErrTrailer, fmt.Sprintf("version %d with %d-byte body", version, bodyLen))
	}
	if bodyLen != r.remaining() {
		return nil, r.failAt(versionOff+1, "trailer length", ErrTrailer, fmt.Sprintf("declares %d bytes, %d remain", bodyLen, r.remaining()))
	}
	t := &Trailer{
		StreamID:    r.u64("stream id"),
		Seq:         r.u64("sequence number"),
		PublishedNS: r.u64("published time"),
		ExtractedNS: r.u64("extracted time"),
	}
	r.off = len(r.buf) // a later version's extra fields are skipped
	return t, r.err
}

// littleEndianHost reports whether a float32's bytes in memory are in
// little-endian order, so that a []float32 can be swapped as bytes.
var littleEndianHost = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
