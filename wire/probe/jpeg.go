package probe

// JPEG markers Probe cares about (ITU T.81, table B.1).
const (
	jpegTEM  = 0x01
	jpegRST0 = 0xd0
	jpegRST7 = 0xd7
	jpegSOI  = 0xd8
	jpegEOI  = 0xd9
	jpegSOS  = 0xda
)

// isSOF reports whether m starts a frame header: SOF0-3, 5-7, 9-11, 13-15.
// 0xc4 (DHT), 0xc8 (JPG) and 0xcc (DAC) share the range but are not frames.
func isSOF(m byte) bool {
	return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc
}

// isStandalone reports whether marker m has no length field.
func isStandalone(m byte) bool {
	return m == jpegTEM || m == jpegSOI || (m >= jpegRST0 && m <= jpegRST7)
}

// probeJPEG walks the marker segments after SOI to the first frame header.
// Like libjpeg it tolerates fill bytes (runs of 0xff) before a marker and
// extraneous bytes between segments, and it steps over an entropy-coded scan
// (with its stuffed zeros and restart markers) should one precede the frame
// header.
func probeJPEG(b []byte) (Info, error) {
	const f = FormatJPEG
	i := 2 // after SOI
	for {
		for i < len(b) && b[i] != 0xff { // extraneous bytes
			i++
		}
		for i < len(b) && b[i] == 0xff { // marker prefix and fill bytes
			i++
		}
		if i >= len(b) {
			return Info{}, truncated(f, "no frame header (SOF) in %d bytes", len(b))
		}
		m := b[i]
		i++
		switch {
		case m == 0x00 || isStandalone(m): // stray stuffed byte or standalone marker
			continue
		case m == jpegEOI:
			return Info{}, corrupt(f, "end of image at byte %d before a frame header (SOF)", i-2)
		}
		if i+2 > len(b) {
			return Info{}, truncated(f, "length of marker 0x%02x at byte %d", m, i-2)
		}
		n := int(b[i])<<8 | int(b[i+1])
		if n < 2 {
			return Info{}, corrupt(f, "marker 0x%02x at byte %d has length %d", m, i-2, n)
		}
		if isSOF(m) {
			return jpegFrame(b[i:], m, i-2)
		}
		i += n
		if m == jpegSOS {
			i = skipEntropy(b, i)
		}
	}
}

// jpegFrame parses the frame header segment seg (starting at its length
// field) of marker m found at offset off.
func jpegFrame(seg []byte, m byte, off int) (Info, error) {
	const f = FormatJPEG
	n := int(seg[0])<<8 | int(seg[1])
	if n < 8 {
		return Info{}, corrupt(f, "SOF%d at byte %d has length %d, need at least 8", m-0xc0, off, n)
	}
	if len(seg) < n {
		return Info{}, truncated(f, "SOF%d at byte %d needs %d bytes, have %d", m-0xc0, off, n, len(seg))
	}
	h := int(seg[3])<<8 | int(seg[4])
	w := int(seg[5])<<8 | int(seg[6])
	nc := int(seg[7])
	switch {
	case nc == 0:
		return Info{}, corrupt(f, "SOF%d declares no components", m-0xc0)
	case n < 8+3*nc:
		return Info{}, corrupt(f, "SOF%d length %d too short for %d components", m-0xc0, n, nc)
	case w == 0:
		return Info{}, corrupt(f, "SOF%d declares width 0", m-0xc0)
	case h == 0:
		// Height 0 defers to a DNL marker, which libjpeg does not support.
		return Info{}, corrupt(f, "SOF%d declares height 0 (DNL not supported)", m-0xc0)
	}
	return Info{Format: f, Width: w, Height: h, Channels: nc}, nil
}

// skipEntropy returns the offset of the first marker at or after i that ends
// an entropy-coded segment: 0xff followed by anything but a stuffed zero, a
// restart marker or another fill byte. It returns len(b) if there is none.
func skipEntropy(b []byte, i int) int {
	for ; i+1 < len(b); i++ {
		if b[i] != 0xff {
			continue
		}
		c := b[i+1]
		if c == 0x00 || (c >= jpegRST0 && c <= jpegRST7) {
			i++
			continue
		}
		if c != 0xff {
			return i
		}
	}
	return len(b)
}
