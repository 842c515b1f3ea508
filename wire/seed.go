package wire

import (
	"encoding/binary"
	"hash/fnv"
)

// SeedKey identifies a frame that has lost our trailer on its way (a seed
// stage passed it on) by the seed fields every stage keeps: the timestamp,
// and a digest of the filename and sizes. Our generator gives every frame
// of its stream a distinct timestamp, so within a stream the key is unique;
// across streams a clash needs the same nanosecond, file name and sizes.
type SeedKey struct {
	Timestamp uint64
	Digest    uint64 // FNV-1a (64-bit) of the filename, then width, height, channels and data size (u32 big-endian)
}

// SeedKey returns f's seed key.
func (f *Frame) SeedKey() SeedKey {
	h := fnv.New64a()
	h.Write([]byte(f.Filename))
	var b [16]byte
	binary.BigEndian.PutUint32(b[0:], f.Width)
	binary.BigEndian.PutUint32(b[4:], f.Height)
	binary.BigEndian.PutUint32(b[8:], f.Channels)
	binary.BigEndian.PutUint32(b[12:], uint32(len(f.Data)))
	h.Write(b[:])
	return SeedKey{Timestamp: f.Timestamp, Digest: h.Sum64()}
}
