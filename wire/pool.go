package wire

import (
	"encoding/binary"
	"fmt"
)

// TypeReady is the first byte of a Ready message: an extractor asking a
// generator's work pool for frames (ours; the seed design has no pool).
const TypeReady Type = 0x11

// ReadySize is the length of every Ready message.
const ReadySize = 1 + 8 + 4 + 8

// MaxReadyWant bounds Ready.Want: no extractor holds more frames than this
// at once, so a corrupt or hostile message cannot make a generator send a
// flood of frames to one peer.
const MaxReadyWant = 1024

// Ready is what an extractor tells a generator's work pool (the "work" link,
// ROUTER/DEALER): how many frames it wants now, and how many it has
// received in all, so that the generator, which counts what it sent, knows
// what is still on the way. Every Ready states the extractor's whole
// position, not a change: it doubles as the heartbeat, and a lost or
// repeated one does no harm. A generator sends a peer at most
// Want − (sent − Got) frames.
//
// Layout: type=0x11 | session u64 | want u32 | got u64, big-endian.
//
// Session is a random number drawn when the extractor starts: a new session
// on a known connection is a new process, whose predecessor's frames are
// lost.
type Ready struct {
	Session uint64
	Want    uint32
	Got     uint64
}

// MarshalBinary encodes r.
func (r *Ready) MarshalBinary() ([]byte, error) {
	if r.Want > MaxReadyWant {
		return nil, fmt.Errorf("wire: encode ready wanting %d frames (max %d): %w", r.Want, MaxReadyWant, ErrTooLarge)
	}
	b := make([]byte, 0, ReadySize)
	b = append(b, byte(TypeReady))
	b = binary.BigEndian.AppendUint64(b, r.Session)
	b = binary.BigEndian.AppendUint32(b, r.Want)
	b = binary.BigEndian.AppendUint64(b, r.Got)
	return b, nil
}

// DecodeReady decodes a Ready message.
func DecodeReady(msg []byte) (*Ready, error) {
	rd := reader{buf: msg}
	if t := Type(rd.u8("type")); rd.err == nil && t != TypeReady {
		return nil, &DecodeError{Field: "type", Err: ErrType, Detail: fmt.Sprintf("got %v, want %v", t, TypeReady)}
	}
	r := &Ready{Session: rd.u64("session")}
	wantOff := rd.off
	r.Want = rd.u32("want")
	r.Got = rd.u64("got")
	if rd.err != nil {
		return nil, rd.err
	}
	if r.Want > MaxReadyWant {
		return nil, rd.failAt(wantOff, "want", ErrTooLarge, fmt.Sprintf("%d frames, max %d", r.Want, MaxReadyWant))
	}
	if rd.remaining() > 0 {
		return nil, rd.fail("ready", ErrTrailer, fmt.Sprintf("%d unexpected bytes after the message", rd.remaining()))
	}
	return r, nil
}
