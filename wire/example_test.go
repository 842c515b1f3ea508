package wire_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/imaging-tui/imaging-tui/wire"
)

func ExampleFrame_MarshalBinary() {
	f := &wire.Frame{
		Type:      wire.TypeImage,
		Timestamp: 1_700_000_000_000_000_000,
		Width:     2, Height: 1, Channels: 3,
		Filename: "a.png",
		Data:     []byte{0x89, 'P', 'N', 'G'}, // the encoded file, as read from disk
		Trailer:  &wire.Trailer{StreamID: 0xfeed, Seq: 1},
	}
	msg, err := f.MarshalBinary()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(msg), "bytes")
	fmt.Printf("seed part: % x\n", msg[:len(msg)-38])
	fmt.Printf("trailer:   % x\n", msg[len(msg)-38:])
	// Output:
	// 76 bytes
	// seed part: 01 17 97 9c fe 36 2a 00 00 00 00 00 02 00 00 00 01 00 00 00 03 00 00 00 04 00 00 00 05 61 2e 70 6e 67 89 50 4e 47
	// trailer:   49 54 55 49 01 20 00 00 00 00 00 00 fe ed 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
}

func ExampleDecodeImage() {
	msg := []byte{
		0x01,                                           // IMAGE_DATA
		0x17, 0x97, 0x9c, 0xfe, 0x36, 0x2a, 0x00, 0x00, // timestamp: 1.7e18 ns
		0x00, 0x00, 0x00, 0x02, // width
		0x00, 0x00, 0x00, 0x01, // height
		0x00, 0x00, 0x00, 0x03, // channels
		0x00, 0x00, 0x00, 0x04, // data size
		0x00, 0x00, 0x00, 0x05, // filename length
		'a', '.', 'p', 'n', 'g', // filename
		0x89, 'P', 'N', 'G', // data
	}
	f, err := wire.DecodeImage(msg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %q %dx%dx%d, %d bytes, trailer %v\n",
		f.Type, f.Filename, f.Width, f.Height, f.Channels, len(f.Data), f.Trailer)
	fmt.Println(time.Unix(0, int64(f.Timestamp)).UTC())

	// A message cut short is an error value that names the field.
	_, err = wire.DecodeImage(msg[:len(msg)-1])
	var de *wire.DecodeError
	if errors.Is(err, wire.ErrTruncated) && errors.As(err, &de) {
		fmt.Println(de.Field, "at byte", de.Offset)
	}
	// Output:
	// IMAGE_DATA "a.png" 2x1x3, 4 bytes, trailer <nil>
	// 2023-11-14 22:13:20 +0000 UTC
	// image data at byte 34
}

func ExampleDecodeAck() {
	msg, _ := (&wire.Ack{StreamID: 0xfeed, Seqs: []uint64{7, 8}}).MarshalBinary()
	a, err := wire.DecodeAck(msg)
	fmt.Printf("% x\n%#x %v %v\n", msg, a.StreamID, a.Seqs, err)
	// Output:
	// 10 00 00 00 00 00 00 fe ed 00 00 00 02 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 08
	// 0xfeed [7 8] <nil>
}
