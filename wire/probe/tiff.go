package probe

import "encoding/binary"

// TIFF tags and field types Probe reads (TIFF 6.0, section 2 and 8).
const (
	tagImageWidth      = 256
	tagImageLength     = 257
	tagPhotometric     = 262
	tagSamplesPerPixel = 277

	typeByte  = 1
	typeShort = 3
	typeLong  = 4
	typeLong8 = 16 // BigTIFF

	photometricPalette = 3
)

// probeTIFF reads the first IFD of a classic ("II*\0", "MM\0*") or BigTIFF
// ("II+\0", "MM\0+") file: ImageWidth, ImageLength and SamplesPerPixel
// (default 1). A palette image (PhotometricInterpretation 3) counts as 3
// channels, as decoders expand it to RGB.
func probeTIFF(b []byte) (Info, error) {
	const f = FormatTIFF
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 'M' {
		bo = binary.BigEndian
	}
	big := bo.Uint16(b[2:4]) == 43
	// Sizes of: the header, the IFD entry count, one entry, and an entry's
	// value/offset field.
	hdr, cnt, ent, val := 8, 2, 12, 4
	if big {
		hdr, cnt, ent, val = 16, 8, 20, 8
	}
	if len(b) < hdr {
		return Info{}, truncated(f, "%d bytes, header needs %d", len(b), hdr)
	}
	var off uint64
	if big {
		if bo.Uint16(b[4:6]) != 8 || bo.Uint16(b[6:8]) != 0 {
			return Info{}, corrupt(f, "BigTIFF offset size %d, reserved %d", bo.Uint16(b[4:6]), bo.Uint16(b[6:8]))
		}
		off = bo.Uint64(b[8:16])
	} else {
		off = uint64(bo.Uint32(b[4:8]))
	}
	if off < uint64(hdr) {
		return Info{}, corrupt(f, "first IFD offset %d inside the header", off)
	}
	if off > uint64(len(b)) || uint64(len(b))-off < uint64(cnt) {
		return Info{}, truncated(f, "first IFD at byte %d, have %d bytes", off, len(b))
	}
	p := int(off)
	var n uint64
	if big {
		n = bo.Uint64(b[p : p+8])
	} else {
		n = uint64(bo.Uint16(b[p : p+2]))
	}
	p += cnt
	if n == 0 {
		return Info{}, corrupt(f, "first IFD has no entries")
	}
	if n > uint64(len(b)-p)/uint64(ent) {
		return Info{}, truncated(f, "IFD at byte %d declares %d entries, have %d bytes", off, n, len(b)-p)
	}
	var w, h uint64
	spp, photometric := uint64(1), uint64(0)
	seen := map[*uint64]bool{} // like libtiff, the first of duplicate tags wins
	for i := 0; i < int(n); i, p = i+1, p+ent {
		e := b[p : p+ent]
		tag, typ := bo.Uint16(e[0:2]), bo.Uint16(e[2:4])
		var count uint64
		if big {
			count = bo.Uint64(e[4:12])
		} else {
			count = uint64(bo.Uint32(e[4:8]))
		}
		v := e[ent-val:]
		var x *uint64
		switch tag {
		case tagImageWidth:
			x = &w
		case tagImageLength:
			x = &h
		case tagSamplesPerPixel:
			x = &spp
		case tagPhotometric:
			x = &photometric
		default:
			continue
		}
		if seen[x] {
			continue
		}
		seen[x] = true
		if count == 0 {
			return Info{}, corrupt(f, "tag %d has no values", tag)
		}
		var size uint64
		switch {
		case typ == typeByte:
			size = 1
		case typ == typeShort:
			size = 2
		case typ == typeLong:
			size = 4
		case typ == typeLong8 && big:
			size = 8
		default:
			return Info{}, corrupt(f, "tag %d has field type %d", tag, typ)
		}
		// These tags hold one value; with more, the field could be an offset
		// to the values rather than the values themselves.
		if count > uint64(val)/size {
			return Info{}, corrupt(f, "tag %d has %d values", tag, count)
		}
		switch size {
		case 1:
			*x = uint64(v[0])
		case 2:
			*x = uint64(bo.Uint16(v[0:2]))
		case 4:
			*x = uint64(bo.Uint32(v[0:4]))
		default:
			*x = bo.Uint64(v[0:8])
		}
	}
	switch {
	case w == 0 || h == 0:
		return Info{}, corrupt(f, "dimensions %d×%d (missing or zero ImageWidth/ImageLength)", w, h)
	case w > maxDim || h > maxDim:
		return Info{}, corrupt(f, "dimensions %d×%d out of range", w, h)
	case spp == 0 || spp > 64:
		return Info{}, corrupt(f, "SamplesPerPixel %d", spp)
	}
	channels := int(spp)
	if photometric == photometricPalette && spp == 1 {
		channels = 3
	}
	return Info{Format: f, Width: int(w), Height: int(h), Channels: channels}, nil
}
