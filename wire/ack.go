package wire

import (
	"encoding/binary"
	"fmt"
)

// MaxAckSeqs is the most sequence numbers one Ack message may carry.
const MaxAckSeqs = 4096

// MaxAckSeeds is the most seed keys one Ack message may carry: they travel
// as MaxAckSeqs values, a marker and two values a key.
const MaxAckSeeds = (MaxAckSeqs - 1) / 2

// seedAckMarker is the first value of a seed ack ("ITUISEED").
const seedAckMarker = 0x4954554953454544

// Ack tells a generator which frames of its stream the logger has committed.
//
// Layout: type=0x10 | stream id u64 | count u32 | count × seq u64.
//
// Stream 0 is no generator's (a generator's stream id is never 0): an Ack
// for stream 0 is one of the logger's own messages, in the same layout.
//
//   - hello: two values, the logger's incarnation, a random number drawn at
//     start, and its start time (ns since the epoch). A generator that hears
//     a new incarnation knows that a logger (re)started, and that frames it
//     sent before then may have been lost.
//   - seed ack: an odd count of values, the marker 0x4954554953454544
//     ("ITUISEED"), then a timestamp and a digest for each frame stored that
//     came without our trailer (see SeedKey): a seed stage upstream dropped
//     the trailer, and with it the stream and seq to acknowledge by.
//
// A generator of an older version reads a seed ack as an ack of stream 0,
// which is not its own, and ignores it.
type Ack struct {
	StreamID uint64
	Seqs     []uint64
	// Seeds, when set, makes this a seed ack: StreamID must be 0 and Seqs
	// empty.
	Seeds []SeedKey
}

// Hello returns the hello Ack of a logger incarnation started at startedNS.
func Hello(incarnation, startedNS uint64) *Ack {
	return &Ack{Seqs: []uint64{incarnation, startedNS}}
}

// Hello returns the incarnation and start time of a hello Ack, and whether a is one.
func (a *Ack) Hello() (incarnation, startedNS uint64, ok bool) {
	if a.StreamID != 0 || len(a.Seqs) != 2 || len(a.Seeds) > 0 {
		return 0, 0, false
	}
	return a.Seqs[0], a.Seqs[1], true
}

// MarshalBinary encodes a.
func (a *Ack) MarshalBinary() ([]byte, error) {
	seqs := a.Seqs
	if len(a.Seeds) > 0 {
		switch {
		case a.StreamID != 0 || len(a.Seqs) > 0:
			return nil, fmt.Errorf("wire: encode ack of stream %d with %d seqs and %d seed keys: %w",
				a.StreamID, len(a.Seqs), len(a.Seeds), ErrMismatch)
		case len(a.Seeds) > MaxAckSeeds:
			return nil, fmt.Errorf("wire: encode ack of %d seed keys (max %d): %w", len(a.Seeds), MaxAckSeeds, ErrTooLarge)
		}
		seqs = make([]uint64, 0, 1+2*len(a.Seeds))
		seqs = append(seqs, seedAckMarker)
		for _, k := range a.Seeds {
			seqs = append(seqs, k.Timestamp, k.Digest)
		}
	}
	if len(seqs) > MaxAckSeqs {
		return nil, fmt.Errorf("wire: encode ack of %d seqs (max %d): %w", len(seqs), MaxAckSeqs, ErrTooLarge)
	}
	b := make([]byte, 0, 1+8+4+8*len(seqs))
	b = append(b, byte(TypeAck))
	b = binary.BigEndian.AppendUint64(b, a.StreamID)
	b = binary.BigEndian.AppendUint32(b, uint32(len(seqs)))
	for _, s := range seqs {
		b = binary.BigEndian.AppendUint64(b, s)
	}
	return b, nil
}

// DecodeAck decodes an Ack message; a seed ack's keys land in Seeds.
func DecodeAck(msg []byte) (*Ack, error) {
	r := reader{buf: msg}
	if t := Type(r.u8("type")); r.err == nil && t != TypeAck {
		return nil, &DecodeError{Field: "type", Err: ErrType, Detail: fmt.Sprintf("got %v, want %v", t, TypeAck)}
	}
	a := &Ack{StreamID: r.u64("stream id")}
	nOff := r.off
	n := r.u32("ack count")
	if r.err != nil {
		return nil, r.err
	}
	if n > MaxAckSeqs {
		return nil, r.failAt(nOff, "ack count", ErrTooLarge, fmt.Sprintf("%d seqs, max %d", n, MaxAckSeqs))
	}
	switch need := int(n) * 8; {
	case need > r.remaining():
		return nil, r.fail("ack seqs", ErrTruncated, fmt.Sprintf("%d seqs need %d bytes, %d remain", n, need, r.remaining()))
	case need < r.remaining():
		// An Ack has no trailer: extra bytes are as bad as after a frame.
		return nil, r.failAt(r.off+need, "ack seqs", ErrTrailer, fmt.Sprintf("%d unexpected bytes after the ack", r.remaining()-need))
	}
	if a.StreamID == 0 && n%2 == 1 && n >= 3 && binary.BigEndian.Uint64(r.buf[r.off:]) == seedAckMarker {
		r.u64("seed ack marker")
		a.Seeds = make([]SeedKey, n/2)
		for i := range a.Seeds {
			a.Seeds[i] = SeedKey{Timestamp: r.u64("seed timestamp"), Digest: r.u64("seed digest")}
		}
		return a, nil
	}
	a.Seqs = make([]uint64, n)
	for i := range a.Seqs {
		a.Seqs[i] = r.u64("seq")
	}
	return a, nil
}
