package probe

import (
	"encoding/binary"
	"hash/crc32"
)

const pngSignature = "\x89PNG\r\n\x1a\n"

// probePNG reads the IHDR chunk, which must follow the signature, and checks
// its CRC.
func probePNG(b []byte) (Info, error) {
	const f = FormatPNG
	// signature(8) | length(4) | "IHDR" | 13 data bytes | CRC(4)
	const ihdrEnd = 8 + 4 + 4 + 13 + 4
	if len(b) < 16 {
		return Info{}, truncated(f, "%d bytes, IHDR chunk header needs 16", len(b))
	}
	if typ := string(b[12:16]); typ != "IHDR" {
		return Info{}, corrupt(f, "first chunk is %q, want IHDR", typ)
	}
	if n := binary.BigEndian.Uint32(b[8:12]); n != 13 {
		return Info{}, corrupt(f, "IHDR length %d, want 13", n)
	}
	if len(b) < ihdrEnd {
		return Info{}, truncated(f, "%d bytes, IHDR chunk needs %d", len(b), ihdrEnd)
	}
	if got, want := crc32.ChecksumIEEE(b[12:29]), binary.BigEndian.Uint32(b[29:33]); got != want {
		return Info{}, corrupt(f, "IHDR CRC %08x, computed %08x", want, got)
	}
	w := binary.BigEndian.Uint32(b[16:20])
	h := binary.BigEndian.Uint32(b[20:24])
	depth, ctype := b[24], b[25]
	if w == 0 || h == 0 || w > maxDim || h > maxDim {
		return Info{}, corrupt(f, "dimensions %d×%d out of range", w, h)
	}
	var channels int
	var depthOK bool
	switch ctype {
	case 0: // grayscale
		channels, depthOK = 1, depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16
	case 2: // RGB
		channels, depthOK = 3, depth == 8 || depth == 16
	case 3: // palette: decoders expand it to RGB
		channels, depthOK = 3, depth == 1 || depth == 2 || depth == 4 || depth == 8
	case 4: // grayscale + alpha
		channels, depthOK = 2, depth == 8 || depth == 16
	case 6: // RGBA
		channels, depthOK = 4, depth == 8 || depth == 16
	default:
		return Info{}, corrupt(f, "color type %d", ctype)
	}
	if !depthOK {
		return Info{}, corrupt(f, "bit depth %d invalid for color type %d", depth, ctype)
	}
	if b[26] != 0 || b[27] != 0 || b[28] > 1 {
		return Info{}, corrupt(f, "compression %d, filter %d, interlace %d", b[26], b[27], b[28])
	}
	return Info{Format: f, Width: int(w), Height: int(h), Channels: channels}, nil
}
