// Package wire encodes and decodes the pipeline's messages: the seed design's
// binary IMAGE_DATA and PROCESSED_DATA frames, byte for byte, our optional
// extension trailer after them, the acknowledgement message of reliable
// delivery, the work pool's READY, and the status JSON that every stage sends on the side channel.
//
// Layout (all integers and floats big-endian, floats IEEE-754 binary32):
//
//	IMAGE_DATA      type=1 | ts u64 | width u32 | height u32 | channels u32 |
//	                data size u32 | filename len u32 | filename | data
//	PROCESSED_DATA  type=2 | the IMAGE_DATA fields | K u32 |
//	                K × (x, y, size, angle, response f32; octave i32) |
//	                descriptor count u32 | descriptor values f32
//	trailer         magic "ITUI" | version u8 | body length u8 | body
//	                body v1: stream id u64 | seq u64 | published ns u64 | extracted ns u64
//	ACK             type=0x10 | stream id u64 | count u32 | count × u64
//	                (stream 0: the logger's hello, or a seed ack by SeedKey; see Ack)
//	READY           type=0x11 | session u64 | want u32 | got u64
//	                (an extractor asking a generator's work pool for frames; see Ready)
//
// A frame that passed through a seed stage has lost our trailer; it is
// known by its SeedKey: the timestamp, and a digest of the filename and
// sizes, which every stage keeps.
//
// A seed reader stops at the end of what it knows and ignores the trailer; our
// decoders accept a message without one. Bytes after the seed content that are
// not a well-formed trailer are an error.
//
// Decoding never panics and never allocates more than the message holds:
// every declared length is checked against the remaining bytes and against the
// named limits (MaxFilename, MaxImageBytes, MaxKeypoints) before anything is
// sliced or allocated. The decoded Data field slices into the input buffer, so
// the caller must not reuse that buffer while the frame is in use.
//
// The package is pure Go and safe for concurrent use: it holds no state.
package wire
