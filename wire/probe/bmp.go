package probe

import (
	"encoding/binary"
	"math"
)

// probeBMP reads the BITMAPFILEHEADER and the DIB header that follows it:
// BITMAPCOREHEADER (12 bytes) or BITMAPINFOHEADER (40 bytes) and its
// extensions (OS/2 2.x, V2, V3, V4, V5). For 1-, 4- and 8-bit images it
// reads the palette: a palette of grays gives 1 channel, any colour gives 3
// (as OpenCV decodes them).
func probeBMP(b []byte) (Info, error) {
	const f = FormatBMP
	const fileHeader = 14
	if len(b) < fileHeader+4 {
		return Info{}, truncated(f, "%d bytes, file header needs %d", len(b), fileHeader+4)
	}
	le := binary.LittleEndian
	dib := int(le.Uint32(b[14:18]))
	var w, h, bits int
	var clrUsed uint32
	palEntry := 4 // bytes per palette entry: BGRX, or BGR for the core header
	switch {
	case dib == 12: // BITMAPCOREHEADER: unsigned 16-bit dimensions, bottom-up
		if len(b) < fileHeader+dib {
			return Info{}, truncated(f, "%d bytes, core header needs %d", len(b), fileHeader+dib)
		}
		w = int(le.Uint16(b[18:20]))
		h = int(le.Uint16(b[20:22]))
		bits = int(le.Uint16(b[24:26]))
		palEntry = 3
	case dib == 16 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 || dib == 124:
		// BITMAPINFOHEADER and its extensions share the first 40 bytes
		// (the 16-byte OS/2 variant holds the first 16 of them).
		if len(b) < fileHeader+min(dib, 40) {
			return Info{}, truncated(f, "%d bytes, %d-byte info header needs %d", len(b), dib, fileHeader+min(dib, 40))
		}
		w32 := int32(le.Uint32(b[18:22]))
		h32 := int32(le.Uint32(b[22:26]))
		if h32 == math.MinInt32 {
			return Info{}, corrupt(f, "height %d", h32)
		}
		if h32 < 0 { // top-down rows
			h32 = -h32
		}
		w, h = int(w32), int(h32)
		bits = int(le.Uint16(b[28:30]))
		if dib >= 40 {
			clrUsed = le.Uint32(b[46:50])
		}
	default:
		return Info{}, corrupt(f, "DIB header size %d", dib)
	}
	if w <= 0 || h <= 0 {
		return Info{}, corrupt(f, "dimensions %d×%d", w, h)
	}
	info := Info{Format: f, Width: w, Height: h}
	switch bits {
	case 32:
		info.Channels = 4
		return info, nil
	case 24, 16:
		info.Channels = 3
		return info, nil
	case 1, 4, 8:
	default:
		return Info{}, corrupt(f, "bit count %d", bits)
	}
	// Paletted: gray palette → 1 channel, colour palette → 3.
	n := 1 << bits
	if clrUsed != 0 && clrUsed < uint32(n) {
		n = int(clrUsed)
	}
	start := fileHeader + dib
	end := start + n*palEntry
	if len(b) < end {
		return Info{}, truncated(f, "%d bytes, %d-entry palette ends at %d", len(b), n, end)
	}
	info.Channels = 1
	for p := start; p < end; p += palEntry {
		if b[p] != b[p+1] || b[p+1] != b[p+2] {
			info.Channels = 3
			break
		}
	}
	return info, nil
}
