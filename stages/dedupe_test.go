package stages_test

import (
	"errors"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/wire"
)

// TestExtractorSkipsCopiesInHand sends the same frame three times at once,
// as a generator's resend can while SIFT still runs on the first copy: the
// extractor runs SIFT once. Sent again after its result came out, the frame
// is extracted again (the logger may have lost that result).
func TestExtractorSkipsCopiesInHand(t *testing.T) {
	p := newPipeline(t, small...)
	in, out := p.extractorPeers(t)
	start(t, "extractor", "--sub", ">"+p.img, "--pub", ">"+p.proc, "--workers", "1")

	frame := func(seq uint64) []byte {
		b := validFrame(t, wire.TypeImage)
		f, err := wire.DecodeImage(b)
		if err != nil {
			t.Fatal(err)
		}
		f.Trailer.Seq = seq
		msg, err := f.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	sendUntilReply(t, in, out, frame(1000)) // both connections up
	results := func() map[uint64]int {
		n := map[uint64]int{}
		for {
			msg, err := out.Recv(3 * time.Second)
			if errors.Is(err, bus.ErrTimeout) {
				return n
			}
			if err != nil {
				t.Fatal(err)
			}
			f, err := wire.DecodeProcessed(msg)
			if err != nil {
				t.Fatal(err)
			}
			n[f.Trailer.Seq]++
		}
	}
	results() // the extra copies of seq 1000 sendUntilReply may have sent

	for range 3 {
		if err := in.Send(frame(1)); err != nil {
			t.Fatal(err)
		}
	}
	if got := results(); got[1] != 1 {
		t.Errorf("three copies sent at once gave %d results; want 1 (results by seq: %v)", got[1], got)
	}
	if err := in.Send(frame(1)); err != nil {
		t.Fatal(err)
	}
	if got := results(); got[1] != 1 {
		t.Errorf("sent again after its result: %d results; want 1", got[1])
	}
}

// extractorPeers binds both ends an extractor connects to: in publishes
// IMAGE_DATA to it, out receives what it publishes. They close at cleanup.
func (p *pipeline) extractorPeers(t *testing.T) (in, out *bus.Socket) {
	t.Helper()
	zctx, err := bus.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zctx.Close() })
	if in, err = zctx.Pub("@"+p.img, bus.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	if out, err = zctx.Sub("@"+p.proc, bus.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	return in, out
}
