package probe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// pattern fills img (any settable image) with a gradient so encoders produce
// non-trivial data.
func pattern(img interface {
	image.Image
	Set(x, y int, c color.Color)
}) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), uint8(x ^ y), 200})
		}
	}
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatalf("png.Encode: %v", err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatalf("jpeg.Encode: %v", err)
	}
	return buf.Bytes()
}

// bmpFile builds a BMP with a BITMAPINFOHEADER (or a BITMAPCOREHEADER when
// core is set), the given palette (BGR triples) and zeroed pixel rows.
func bmpFile(w, h int32, bits uint16, pal [][3]byte, core bool) []byte {
	le := binary.LittleEndian
	var dib []byte
	if core {
		dib = make([]byte, 12)
		le.PutUint32(dib[0:], 12)
		le.PutUint16(dib[4:], uint16(w))
		le.PutUint16(dib[6:], uint16(h))
		le.PutUint16(dib[8:], 1)
		le.PutUint16(dib[10:], bits)
	} else {
		dib = make([]byte, 40)
		le.PutUint32(dib[0:], 40)
		le.PutUint32(dib[4:], uint32(w))
		le.PutUint32(dib[8:], uint32(h))
		le.PutUint16(dib[12:], 1)
		le.PutUint16(dib[14:], bits)
		le.PutUint32(dib[32:], uint32(len(pal)))
	}
	var palb []byte
	for _, c := range pal {
		palb = append(palb, c[0], c[1], c[2])
		if !core {
			palb = append(palb, 0)
		}
	}
	absH := h
	if absH < 0 {
		absH = -absH
	}
	stride := (int(w)*int(bits) + 31) / 32 * 4
	pix := make([]byte, stride*int(absH))
	off := 14 + len(dib) + len(palb)
	out := []byte{'B', 'M'}
	out = le.AppendUint32(out, uint32(off+len(pix)))
	out = le.AppendUint32(out, 0)
	out = le.AppendUint32(out, uint32(off))
	out = append(out, dib...)
	out = append(out, palb...)
	return append(out, pix...)
}

func grayPalette(n int) [][3]byte {
	p := make([][3]byte, n)
	for i := range p {
		v := byte(i * 255 / max(n-1, 1))
		p[i] = [3]byte{v, v, v}
	}
	return p
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

type tiffEntry struct {
	tag, typ uint16
	count    uint32
	value    uint32
}

// tiffFile builds a classic TIFF with pixel bytes first and the IFD at the
// end, as many writers lay it out.
func tiffFile(bo byteOrder, pixels int, entries []tiffEntry) []byte {
	var out []byte
	if bo == byteOrder(binary.LittleEndian) {
		out = []byte("II*\x00")
	} else {
		out = []byte("MM\x00*")
	}
	ifd := 8 + pixels
	out = bo.AppendUint32(out, uint32(ifd))
	out = append(out, make([]byte, pixels)...)
	out = bo.AppendUint16(out, uint16(len(entries)))
	for _, e := range entries {
		out = bo.AppendUint16(out, e.tag)
		out = bo.AppendUint16(out, e.typ)
		out = bo.AppendUint32(out, e.count)
		v := make([]byte, 4)
		if e.typ == typeShort {
			bo.PutUint16(v, uint16(e.value))
		} else {
			bo.PutUint32(v, e.value)
		}
		out = append(out, v...)
	}
	return bo.AppendUint32(out, 0) // no next IFD
}

// bigTIFF builds a little-endian BigTIFF with one IFD right after the header.
func bigTIFF(w, h uint64, spp uint16) []byte {
	le := binary.LittleEndian
	out := []byte("II+\x00")
	out = le.AppendUint16(out, 8)
	out = le.AppendUint16(out, 0)
	out = le.AppendUint64(out, 16)
	out = le.AppendUint64(out, 3)
	add := func(tag, typ uint16, v uint64) {
		out = le.AppendUint16(out, tag)
		out = le.AppendUint16(out, typ)
		out = le.AppendUint64(out, 1)
		out = le.AppendUint64(out, v)
	}
	add(tagImageWidth, typeLong8, w)
	add(tagImageLength, typeLong, h)
	add(tagSamplesPerPixel, typeShort, uint64(spp))
	return le.AppendUint64(out, 0)
}

func rgbTIFFEntries(w, h uint32, spp uint32) []tiffEntry {
	return []tiffEntry{
		{tagImageWidth, typeShort, 1, w},
		{tagImageLength, typeLong, 1, h},
		{258, typeShort, 1, 8},
		{tagSamplesPerPixel, typeShort, 1, spp},
	}
}

// jpegWithSOF builds a marker stream: SOI, the given extra bytes, then a
// frame header of marker sof with nc components, SOS and EOI.
func jpegWithSOF(extra []byte, sof byte, w, h int, nc int) []byte {
	b := []byte{0xff, 0xd8}
	b = append(b, extra...)
	seg := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(nc)}
	for i := range nc {
		seg = append(seg, byte(i+1), 0x11, 0)
	}
	b = append(b, 0xff, sof, byte((len(seg)+2)>>8), byte(len(seg)+2))
	b = append(b, seg...)
	return append(b, 0xff, 0xda, 0, 2, 0x12, 0x34, 0xff, 0xd9)
}

type probeCase struct {
	name string
	data []byte
	want Info
}

func validCases(t testing.TB) []probeCase {
	rect := image.Rect(0, 0, 37, 23)
	gray := image.NewGray(rect)
	pattern(gray)
	rgba := image.NewRGBA(rect)
	pattern(rgba)
	nrgba := image.NewNRGBA(rect)
	pattern(nrgba)
	gray16 := image.NewGray16(rect)
	pattern(gray16)
	pal := image.NewPaletted(rect, palette.Plan9)
	pattern(pal)
	ycc := image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)
	opaque := image.NewRGBA(rect) // fully opaque RGBA: PNG encodes it as RGB
	for i := range opaque.Pix {
		opaque.Pix[i] = byte(i)
		if i%4 == 3 {
			opaque.Pix[i] = 255
		}
	}

	cmykSeg := []byte{0xff, 0xee, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 2} // APP14
	app0 := []byte{0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	fill := []byte{0xff, 0xff, 0xff, 0xfe, 0, 5, 'h', 'i', '!'}                              // fill bytes, then a COM
	rst := []byte{0xff, 0xd0, 0xff, 0x01, 0xff, 0xd7}                                        // stray RST0, TEM, RST7
	garbage := []byte{0x00, 0x12, 0x34}                                                      // extraneous bytes
	scanFirst := []byte{0xff, 0xda, 0, 3, 0, 0x11, 0xff, 0x00, 0xff, 0xd3, 0x22, 0xff, 0xff} // SOS + entropy data

	return []probeCase{
		{"jpeg gray", encodeJPEG(t, gray), Info{"jpeg", 37, 23, 1}},
		{"jpeg rgba", encodeJPEG(t, rgba), Info{"jpeg", 37, 23, 3}},
		{"jpeg ycbcr", encodeJPEG(t, ycc), Info{"jpeg", 37, 23, 3}},
		{"jpeg progressive cmyk", jpegWithSOF(cmykSeg, 0xc2, 640, 480, 4), Info{"jpeg", 640, 480, 4}},
		{"jpeg app0 baseline", jpegWithSOF(app0, 0xc0, 65535, 1, 3), Info{"jpeg", 65535, 1, 3}},
		{"jpeg fill bytes", jpegWithSOF(fill, 0xc1, 2, 3, 1), Info{"jpeg", 2, 3, 1}},
		{"jpeg restart markers", jpegWithSOF(rst, 0xc9, 5, 6, 3), Info{"jpeg", 5, 6, 3}},
		{"jpeg extraneous bytes", jpegWithSOF(garbage, 0xc0, 7, 8, 3), Info{"jpeg", 7, 8, 3}},
		{"jpeg scan before frame", jpegWithSOF(scanFirst, 0xcf, 9, 10, 2), Info{"jpeg", 9, 10, 2}},
		{"png gray", encodePNG(t, gray), Info{"png", 37, 23, 1}},
		{"png gray16", encodePNG(t, gray16), Info{"png", 37, 23, 1}},
		{"png rgb", encodePNG(t, opaque), Info{"png", 37, 23, 3}},
		{"png rgba", encodePNG(t, nrgba), Info{"png", 37, 23, 4}},
		{"png paletted", encodePNG(t, pal), Info{"png", 37, 23, 3}},
		{"png gray+alpha", pngIHDR(3, 4, 8, 4, true), Info{"png", 3, 4, 2}},
		{"bmp 24 bottom-up", bmpFile(13, 7, 24, nil, false), Info{"bmp", 13, 7, 3}},
		{"bmp 24 top-down", bmpFile(13, -7, 24, nil, false), Info{"bmp", 13, 7, 3}},
		{"bmp 32", bmpFile(5, 4, 32, nil, false), Info{"bmp", 5, 4, 4}},
		{"bmp 16", bmpFile(5, 4, 16, nil, false), Info{"bmp", 5, 4, 3}},
		{"bmp 8 gray palette", bmpFile(9, 3, 8, grayPalette(256), false), Info{"bmp", 9, 3, 1}},
		{"bmp 8 colour palette", bmpFile(9, 3, 8, [][3]byte{{0, 0, 0}, {0, 0, 255}}, false), Info{"bmp", 9, 3, 3}},
		{"bmp 1 gray palette", bmpFile(9, 3, 1, grayPalette(2), false), Info{"bmp", 9, 3, 1}},
		{"bmp 4 core colour", bmpFile(9, 3, 4, append(grayPalette(15), [3]byte{1, 2, 3}), true), Info{"bmp", 9, 3, 3}},
		{"tiff little rgb", tiffFile(binary.LittleEndian, 30, rgbTIFFEntries(5, 2, 3)), Info{"tiff", 5, 2, 3}},
		{"tiff big rgba", tiffFile(binary.BigEndian, 40, rgbTIFFEntries(5, 2, 4)), Info{"tiff", 5, 2, 4}},
		{"tiff default spp", tiffFile(binary.BigEndian, 10, rgbTIFFEntries(5, 2, 1)[:3]), Info{"tiff", 5, 2, 1}},
		{"tiff palette", tiffFile(binary.LittleEndian, 10, append(rgbTIFFEntries(5, 2, 1), tiffEntry{tagPhotometric, typeShort, 1, 3})), Info{"tiff", 5, 2, 3}},
		{"bigtiff", bigTIFF(70000, 3, 2), Info{"tiff", 70000, 3, 2}},
		{"tiff duplicate tag", tiffFile(binary.LittleEndian, 10, append(rgbTIFFEntries(5, 2, 3), tiffEntry{tagImageWidth, typeShort, 1, 60000})), Info{"tiff", 5, 2, 3}},
	}
}

// pngIHDR builds a PNG signature and IHDR chunk with a correct or wrong CRC.
func pngIHDR(w, h uint32, depth, ctype byte, goodCRC bool) []byte {
	b := []byte(pngSignature)
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, "IHDR"...)
	b = binary.BigEndian.AppendUint32(b, w)
	b = binary.BigEndian.AppendUint32(b, h)
	b = append(b, depth, ctype, 0, 0, 0)
	crc := crc32.ChecksumIEEE(b[12:])
	if !goodCRC {
		crc ^= 1
	}
	b = binary.BigEndian.AppendUint32(b, crc)
	return append(b, 0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82)
}

func TestProbeValid(t *testing.T) {
	for _, tt := range validCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Probe(tt.data)
			if err != nil || got != tt.want {
				t.Fatalf("Probe = %+v, %v; want %+v", got, err, tt.want)
			}
			// The standard library agrees where it can decode the format.
			if tt.want.Format == FormatPNG || tt.want.Format == FormatJPEG {
				cfg, _, err := image.DecodeConfig(bytes.NewReader(tt.data))
				if err == nil && (cfg.Width != got.Width || cfg.Height != got.Height) {
					t.Errorf("image.DecodeConfig = %dx%d; Probe = %dx%d", cfg.Width, cfg.Height, got.Width, got.Height)
				}
			}
		})
	}
}

// TestProbePrefixes checks every prefix of every valid image: a prefix that
// ends inside the header is ErrTruncated, and one that holds the header
// probes exactly like the whole file.
func TestProbePrefixes(t *testing.T) {
	for _, tt := range validCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			for k := 1; k < len(tt.data); k++ {
				got, err := Probe(tt.data[:k])
				if err == nil {
					if got != tt.want {
						t.Fatalf("Probe(prefix %d) = %+v; want %+v", k, got, tt.want)
					}
					continue
				}
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("Probe(prefix %d of %d) = %v; want ErrTruncated", k, len(tt.data), err)
				}
			}
		})
	}
}

func TestProbeErrors(t *testing.T) {
	huge := pngIHDR(50000, 50000, 8, 2, true)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrUnknownFormat},
		{"text", []byte("hello, world\n"), ErrUnknownFormat},
		{"html", []byte("<!DOCTYPE html><html></html>"), ErrUnknownFormat},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), ErrUnknownFormat},
		{"one byte of jpeg", []byte{0xff}, ErrTruncated},
		{"partial png signature", []byte("\x89PN"), ErrTruncated},
		{"partial tiff signature", []byte("II"), ErrTruncated},
		{"jpeg soi only", []byte{0xff, 0xd8}, ErrTruncated},
		{"jpeg eoi before sof", []byte{0xff, 0xd8, 0xff, 0xd9}, ErrCorrupt},
		{"jpeg bad segment length", []byte{0xff, 0xd8, 0xff, 0xe0, 0, 1, 0, 0}, ErrCorrupt},
		{"jpeg sof too short", []byte{0xff, 0xd8, 0xff, 0xc0, 0, 7, 8, 0, 1, 0, 1, 1}, ErrCorrupt},
		{"jpeg zero width", jpegWithSOF(nil, 0xc0, 0, 5, 3), ErrCorrupt},
		{"jpeg zero height", jpegWithSOF(nil, 0xc0, 5, 0, 3), ErrCorrupt},
		{"jpeg zero components", jpegWithSOF(nil, 0xc0, 5, 5, 0), ErrCorrupt},
		{"jpeg text after soi", []byte("\xff\xd8 this is not a jpeg"), ErrTruncated},
		{"png bad crc", pngIHDR(3, 4, 8, 2, false), ErrCorrupt},
		{"png zero width", pngIHDR(0, 4, 8, 2, true), ErrCorrupt},
		{"png bad color type", pngIHDR(3, 4, 8, 5, true), ErrCorrupt},
		{"png bad depth", pngIHDR(3, 4, 4, 2, true), ErrCorrupt},
		{"png huge width", pngIHDR(1<<31, 4, 8, 2, true), ErrCorrupt},
		{"png first chunk not IHDR", append([]byte(pngSignature), 0, 0, 0, 13, 'I', 'D', 'A', 'T'), ErrCorrupt},
		{"bmp text", []byte("BMW is a car maker, not an image"), ErrCorrupt},
		{"bmp zero width", bmpFile(0, 5, 24, nil, false), ErrCorrupt},
		{"bmp bad bits", bmpFile(4, 5, 7, nil, false), ErrCorrupt},
		{"bmp header only", bmpFile(4, 5, 24, nil, false)[:20], ErrTruncated},
		{"bmp palette cut", bmpFile(4, 5, 8, grayPalette(256), false)[:100], ErrTruncated},
		{"tiff ifd past end", []byte("II*\x00\xff\x00\x00\x00"), ErrTruncated},
		{"tiff ifd in header", []byte("II*\x00\x04\x00\x00\x00"), ErrCorrupt},
		{"tiff no width", tiffFile(binary.LittleEndian, 4, rgbTIFFEntries(5, 2, 3)[1:]), ErrCorrupt},
		{"tiff zero spp", tiffFile(binary.LittleEndian, 4, rgbTIFFEntries(5, 2, 0)), ErrCorrupt},
		{"tiff bad field type", tiffFile(binary.LittleEndian, 4, []tiffEntry{{tagImageWidth, 2, 1, 5}}), ErrCorrupt},
		{"tiff width as offset", tiffFile(binary.LittleEndian, 4, []tiffEntry{{tagImageWidth, typeLong, 2, 5}}), ErrCorrupt},
		{"tiff no entries", tiffFile(binary.LittleEndian, 4, nil), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Probe(tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Probe(%q) = %+v, %v; want %v", head(tt.data), got, err, tt.want)
			}
			if err.Error() == tt.want.Error() {
				t.Errorf("error %q carries no reason", err)
			}
		})
	}
	// A decompression bomb's header probes fine: rejecting it is the caller's job.
	if got, err := Probe(huge); err != nil || got.Pixels() != 2_500_000_000 {
		t.Errorf("Probe(50000×50000 PNG) = %+v, %v; want 2.5e9 pixels", got, err)
	}
}

// TestProbeTestdata checks the lead's sample images when they are present.
func TestProbeTestdata(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/images/*")
	for _, name := range files {
		if !IsImageName(name) {
			continue
		}
		t.Run(filepath.Base(name), func(t *testing.T) {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Probe(b)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
			if err != nil {
				return // a format the standard library does not decode
			}
			if format != got.Format || cfg.Width != got.Width || cfg.Height != got.Height {
				t.Errorf("Probe = %+v; image.DecodeConfig = %s %dx%d", got, format, cfg.Width, cfg.Height)
			}
		})
	}
}

func TestIsImageName(t *testing.T) {
	tests := map[string]bool{
		"a.jpg": true, "A.JPG": true, "x/y.jpeg": true, "b.Png": true, "c.bmp": true,
		"d.tif": true, "e.TIFF": true, "f.gif": false, "jpg": false, "g.jpg.txt": false,
		"": false, ".png": true, "h.webp": false,
	}
	for name, want := range tests {
		if got := IsImageName(name); got != want {
			t.Errorf("IsImageName(%q) = %v; want %v", name, got, want)
		}
	}
}

func FuzzProbe(f *testing.F) {
	for _, tt := range validCases(f) {
		f.Add(tt.data)
	}
	f.Add([]byte{})
	f.Add([]byte("II*\x00\x08\x00\x00\x00\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Probe(b)
		if err != nil {
			if !errors.Is(err, ErrUnknownFormat) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Probe error %v wraps no sentinel", err)
			}
			return
		}
		switch {
		case info.Format != FormatJPEG && info.Format != FormatPNG && info.Format != FormatBMP && info.Format != FormatTIFF:
			t.Fatalf("bad format in %+v", info)
		case info.Width <= 0 || info.Height <= 0 || info.Width > maxDim || info.Height > maxDim:
			t.Fatalf("bad dimensions in %+v", info)
		case info.Channels <= 0 || info.Channels > 255:
			t.Fatalf("bad channels in %+v", info)
		}
		// Bytes appended after a complete header change nothing.
		again, err := Probe(append(b[:len(b):len(b)], 0xff, 0x00, 0xd9))
		if err != nil || again != info {
			t.Fatalf("Probe with trailing bytes = %+v, %v; want %+v", again, err, info)
		}
	})
}
