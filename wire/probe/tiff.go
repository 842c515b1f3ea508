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

// tiffLayout is what differs between classic TIFF and BigTIFF: the byte
// order and the sizes of the header, the IFD entry count, one IFD entry and
// an entry's value/offset field.
type tiffLayout struct {
	bo                 binary.ByteOrder
	big                bool
	hdr, cnt, ent, val int
}

// newTIFFLayout reads the layout from the signature b starts with.
func newTIFFLayout(b []byte) tiffLayout {
	l := tiffLayout{bo: binary.LittleEndian, hdr: 8, cnt: 2, ent: 12, val: 4}
	if b[0] == 'M' {
		l.bo = binary.BigEndian
	}
	if l.bo.Uint16(b[2:4]) == 43 {
		l.big, l.hdr, l.cnt, l.ent, l.val = true, 16, 8, 20, 8
	}
	return l
}

// tiffFields are the values of the tags Probe reads, with their defaults.
type tiffFields struct {
	w, h, spp, photometric uint64
}

// probeTIFF reads the first IFD of a classic ("II*\0", "MM\0*") or BigTIFF
// ("II+\0", "MM\0+") file: ImageWidth, ImageLength and SamplesPerPixel
// (default 1). A palette image (PhotometricInterpretation 3) counts as 3
// channels, as decoders expand it to RGB.
func probeTIFF(b []byte) (Info, error) {
	l := newTIFFLayout(b)
	p, n, err := l.firstIFD(b)
	if err != nil {
		return Info{}, err
	}
	fs := tiffFields{spp: 1}
	seen := map[*uint64]bool{} // like libtiff, the first of duplicate tags wins
	for range n {
		if err := l.readEntry(b[p:p+l.ent], &fs, seen); err != nil {
			return Info{}, err
		}
		p += l.ent
	}
	return fs.info()
}

// firstIFD checks the header and returns where the first IFD's entries
// start and how many there are, all of them within b.
func (l tiffLayout) firstIFD(b []byte) (p int, n uint64, err error) {
	const f = FormatTIFF
	bo := l.bo
	if len(b) < l.hdr {
		return 0, 0, truncated(f, "%d bytes, header needs %d", len(b), l.hdr)
	}
	var off uint64
	if l.big {
		if bo.Uint16(b[4:6]) != 8 || bo.Uint16(b[6:8]) != 0 {
			return 0, 0, corrupt(f, "BigTIFF offset size %d, reserved %d", bo.Uint16(b[4:6]), bo.Uint16(b[6:8]))
		}
		off = bo.Uint64(b[8:16])
	} else {
		off = uint64(bo.Uint32(b[4:8]))
	}
	if off < uint64(l.hdr) {
		return 0, 0, corrupt(f, "first IFD offset %d inside the header", off)
	}
	if off > uint64(len(b)) || uint64(len(b))-off < uint64(l.cnt) {
		return 0, 0, truncated(f, "first IFD at byte %d, have %d bytes", off, len(b))
	}
	p = int(off)
	if l.big {
		n = bo.Uint64(b[p : p+8])
	} else {
		n = uint64(bo.Uint16(b[p : p+2]))
	}
	p += l.cnt
	if n == 0 {
		return 0, 0, corrupt(f, "first IFD has no entries")
	}
	if n > uint64(len(b)-p)/uint64(l.ent) {
		return 0, 0, truncated(f, "IFD at byte %d declares %d entries, have %d bytes", off, n, len(b)-p)
	}
	return p, n, nil
}

// readEntry stores the value of IFD entry e in fs when its tag is one Probe
// reads and has not been seen before.
func (l tiffLayout) readEntry(e []byte, fs *tiffFields, seen map[*uint64]bool) error {
	tag := l.bo.Uint16(e[0:2])
	var x *uint64
	switch tag {
	case tagImageWidth:
		x = &fs.w
	case tagImageLength:
		x = &fs.h
	case tagSamplesPerPixel:
		x = &fs.spp
	case tagPhotometric:
		x = &fs.photometric
	default:
		return nil
	}
	if seen[x] {
		return nil
	}
	seen[x] = true
	v, err := l.value(e)
	if err != nil {
		return err
	}
	*x = v
	return nil
}

// value reads the single value of IFD entry e, held in its value field.
func (l tiffLayout) value(e []byte) (uint64, error) {
	const f = FormatTIFF
	bo := l.bo
	tag, typ := bo.Uint16(e[0:2]), bo.Uint16(e[2:4])
	var count uint64
	if l.big {
		count = bo.Uint64(e[4:12])
	} else {
		count = uint64(bo.Uint32(e[4:8]))
	}
	if count == 0 {
		return 0, corrupt(f, "tag %d has no values", tag)
	}
	var size uint64
	switch {
	case typ == typeByte:
		size = 1
	case typ == typeShort:
		size = 2
	case typ == typeLong:
		size = 4
	case typ == typeLong8 && l.big:
		size = 8
	default:
		return 0, corrupt(f, "tag %d has field type %d", tag, typ)
	}
	// These tags hold one value; with more, the field could be an offset to
	// the values rather than the values themselves.
	if count > uint64(l.val)/size {
		return 0, corrupt(f, "tag %d has %d values", tag, count)
	}
	v := e[l.ent-l.val:]
	switch size {
	case 1:
		return uint64(v[0]), nil
	case 2:
		return uint64(bo.Uint16(v[0:2])), nil
	case 4:
		return uint64(bo.Uint32(v[0:4])), nil
	}
	return bo.Uint64(v[0:8]), nil
}

// info checks the fields and turns them into an Info.
func (fs tiffFields) info() (Info, error) {
	const f = FormatTIFF
	switch {
	case fs.w == 0 || fs.h == 0:
		return Info{}, corrupt(f, "dimensions %d×%d (missing or zero ImageWidth/ImageLength)", fs.w, fs.h)
	case fs.w > maxDim || fs.h > maxDim:
		return Info{}, corrupt(f, "dimensions %d×%d out of range", fs.w, fs.h)
	case fs.spp == 0 || fs.spp > 64:
		return Info{}, corrupt(f, "SamplesPerPixel %d", fs.spp)
	}
	channels := int(fs.spp)
	if fs.photometric == photometricPalette && fs.spp == 1 {
		channels = 3
	}
	return Info{Format: f, Width: int(fs.w), Height: int(fs.h), Channels: channels}, nil
}
