package wire

import (
	"encoding/binary"
	"fmt"
)

// MaxAckSeqs is the most sequence numbers one Ack message may carry.
const MaxAckSeqs = 4096

// Ack tells a generator which frames of its stream the logger has committed.
//
// Layout: type=0x10 | stream id u64 | count u32 | count × seq u64.
//
// An Ack for stream 0 is a logger's hello: its two "seqs" are the logger's
// incarnation, a random number drawn at start, and its start time (ns since
// the epoch). A generator that hears a new incarnation knows that a logger
// (re)started, and that frames it sent before then may have been lost.
type Ack struct {
	StreamID uint64
	Seqs     []uint64
}

// Hello returns the hello Ack of a logger incarnation started at startedNS.
func Hello(incarnation, startedNS uint64) *Ack {
	return &Ack{Seqs: []uint64{incarnation, startedNS}}
}

// Hello returns the incarnation and start time of a hello Ack, and whether a is one.
func (a *Ack) Hello() (incarnation, startedNS uint64, ok bool) {
	if a.StreamID != 0 || len(a.Seqs) != 2 {
		return 0, 0, false
	}
	return a.Seqs[0], a.Seqs[1], true
}

// MarshalBinary encodes a.
func (a *Ack) MarshalBinary() ([]byte, error) {
	if len(a.Seqs) > MaxAckSeqs {
		return nil, fmt.Errorf("wire: encode ack of %d seqs (max %d): %w", len(a.Seqs), MaxAckSeqs, ErrTooLarge)
	}
	b := make([]byte, 0, 1+8+4+8*len(a.Seqs))
	b = append(b, byte(TypeAck))
	b = binary.BigEndian.AppendUint64(b, a.StreamID)
	b = binary.BigEndian.AppendUint32(b, uint32(len(a.Seqs)))
	for _, s := range a.Seqs {
		b = binary.BigEndian.AppendUint64(b, s)
	}
	return b, nil
}

// DecodeAck decodes an Ack message.
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
	a.Seqs = make([]uint64, n)
	for i := range a.Seqs {
		a.Seqs[i] = r.u64("seq")
	}
	return a, nil
}
