package stages_test

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/wire"
)

// hostileMessages is how many bad messages each stage receives:
// IMAGING_FLOOD, or 3000.
func hostileMessages() int {
	if n, err := strconv.Atoi(os.Getenv("IMAGING_FLOOD")); err == nil && n > 0 {
		return n
	}
	return 3000
}

// TestHostileInput sends thousands of random and mutated messages to each
// stage's input socket, every kind the wire allows (multipart, lying sizes
// and lengths, junk): the stage stays up, counts them as errors, logs why
// and keeps its memory bounded, and a good frame sent after them is through
// within 2 s. IMAGING_FLOOD=1000000 runs the flood (minutes).
func TestHostileInput(t *testing.T) {
	hostileMessages := hostileMessages()
	valid := map[string][]byte{
		"extractor": validFrame(t, wire.TypeImage),
		"logger":    validFrame(t, wire.TypeProcessed),
		"generator": mustAck(t),
	}
	for _, stage := range []string{"extractor", "logger", "generator"} {
		t.Run(stage, func(t *testing.T) {
			p := newPipeline(t, small...)
			zctx, err := bus.NewContext()
			if err != nil {
				t.Fatal(err)
			}
			defer zctx.Close()
			input, err := zctx.Pub("@ipc://"+p.dir+"/h", bus.Options{HWM: 100000})
			if err != nil {
				t.Fatal(err)
			}
			defer input.Close()
			status, err := zctx.Sub("@ipc://"+p.dir+"/s", bus.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer status.Close()
			st := ">ipc://" + p.dir + "/s"
			var proc *proc
			switch stage {
			case "extractor":
				proc = start(t, stage, "--status", st, "--sub", ">ipc://"+p.dir+"/h", "--pub", "@"+p.proc, "--workers", "2")
			case "logger":
				proc = start(t, stage, "--status", st, "--sub", ">ipc://"+p.dir+"/h", "--ack", "@"+p.ack, "--db", p.db)
			case "generator":
				// The generator's input is its acknowledgement socket.
				proc = start(t, stage, "--status", st, "--images", p.images, "--pub", "@"+p.img, "--ack", ">ipc://"+p.dir+"/h", "--drain", "1s")
			}
			first := waitStatus(t, status, func(*wire.Status) bool { return true })
			rng := rand.New(rand.NewPCG(1, uint64(len(stage))))
			out, closeOut := goodFrameWatch(t, zctx, p, stage)
			defer closeOut() // before zctx.Close, which waits for every socket
			for i := range hostileMessages {
				var err error
				if i%10 == 9 {
					err = input.SendParts(valid[stage], []byte("a second part"))
				} else {
					err = input.Send(mutate(rng, valid[stage]))
				}
				if err != nil {
					t.Fatal(err)
				}
				if i%100 == 99 {
					time.Sleep(20 * time.Millisecond) // let it read: a PUB drops what the reader cannot take
				}
			}
			last := waitStatus(t, status, func(s *wire.Status) bool { return s.Errors >= first.Errors+uint64(hostileMessages/2) })
			select {
			case <-proc.done:
				t.Fatalf("%s died under hostile input: %v", stage, proc.err)
			default:
			}
			peak := peakRSS(t, proc.cmd.Process.Pid)
			t.Logf("%s: %d errors counted for %d hostile messages; peak RSS %d MB; last error %q",
				stage, last.Errors-first.Errors, hostileMessages, peak>>20, last.LastError)
			if limit := int64(400 << 20); peak > limit {
				t.Errorf("%s peak RSS %d MB; want under %d MB", stage, peak>>20, limit>>20)
			}
			if !strings.Contains(proc.out.String(), "suppressed") {
				t.Errorf("%s logged no rate-limited complaint about bad input", stage)
			}
			// Complaints are rate-limited to one a second: one multi-part
			// message on its own is logged.
			time.Sleep(1100 * time.Millisecond)
			if err := input.SendParts(valid[stage], []byte("a second part")); err != nil {
				t.Fatal(err)
			}
			waitLog(t, proc, "multi-part", 10*time.Second)
			if out != nil {
				sent := time.Now()
				if err := input.Send(goodFrame(t, stage)); err != nil {
					t.Fatal(err)
				}
				out(sent)
			}
			proc.stop(t)
		})
	}
}

// goodFrame is a valid input message of stage, of a frame none of the
// hostile ones is: stream 2, sequence number 1.
func goodFrame(t *testing.T, stage string) []byte {
	typ := wire.TypeImage
	if stage == "logger" {
		typ = wire.TypeProcessed
	}
	f, err := wire.DecodeImage(validFrame(t, wire.TypeImage))
	if err != nil {
		t.Fatal(err)
	}
	f.Type, f.Trailer = typ, &wire.Trailer{StreamID: 2, Seq: 1}
	if typ == wire.TypeProcessed {
		f.Keypoints = []wire.Keypoint{{X: 10, Y: 10}}
		f.Descriptors = make([]float32, wire.DescriptorSize)
	}
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goodFrameWatch prepares to see stage's output of the good frame and
// returns the function that waits for it, failing unless it comes within
// 2 s of sent (nil for the generator, whose input is acknowledgements), and
// the function that closes what it opened.
func goodFrameWatch(t *testing.T, zctx *bus.Context, p *pipeline, stage string) (wait func(sent time.Time), close func()) {
	switch stage {
	case "extractor":
		out, err := zctx.Sub(">"+p.proc, bus.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return func(sent time.Time) {
			for time.Since(sent) < 30*time.Second {
				msg, err := out.Recv(100 * time.Millisecond)
				if err != nil {
					continue
				}
				if f, err := wire.DecodeProcessed(msg); err == nil && f.Trailer != nil && f.Trailer.StreamID == 2 {
					if d := time.Since(sent); d > 2*time.Second {
						t.Errorf("extractor: the good frame came out %v after it was sent; want under 2s", d)
					}
					return
				}
			}
			t.Error("extractor: the good frame never came out after the flood")
		}, func() { out.Close() }
	case "logger":
		return func(sent time.Time) {
			p.waitRows(t, 1, 30*time.Second)
			if d := time.Since(sent); d > 2*time.Second {
				t.Errorf("logger: the good frame was stored %v after it was sent; want under 2s", d)
			}
		}, func() {}
	}
	return nil, func() {}
}

// mutate returns a hostile variant of a valid message.
func mutate(rng *rand.Rand, valid []byte) []byte {
	b := append([]byte(nil), valid...)
	if b[0] != byte(wire.TypeAck) && rng.IntN(8) == 0 { // a size the image is not: huge, or 1×1
		v := []uint32{0xFFFFFFFF, 1}[rng.IntN(2)]
		binary.BigEndian.PutUint32(b[9:], v)
		binary.BigEndian.PutUint32(b[13:], v)
		return b
	}
	switch rng.IntN(7) {
	case 0: // random bytes
		r := make([]byte, rng.IntN(4096))
		for i := range r {
			r[i] = byte(rng.UintN(256))
		}
		return r
	case 1: // truncated
		return b[:rng.IntN(len(b))]
	case 2: // a lying length field: data size, filename length or the ack count
		off := []int{21, 25}[rng.IntN(2)]
		if b[0] == byte(wire.TypeAck) {
			off = 9
		}
		binary.BigEndian.PutUint32(b[off:], 0xFFFFFFF0-uint32(rng.IntN(1000)))
		return b
	case 3: // wrong type byte
		b[0] = byte(rng.IntN(256))
		if b[0] == valid[0] {
			b[0]++
		}
		return b
	case 4: // garbage after the message
		return append(b, "trailing garbage that is not a trailer"...)
	case 5: // a gigantic declared size, and nothing behind it
		return binary.BigEndian.AppendUint32(b[:min(len(b), 21)], 0xFFFFFFFF)
	default: // flipped bytes in the header
		for range 1 + rng.IntN(4) {
			i := rng.IntN(min(len(b), 40))
			b[i] ^= byte(1 + rng.IntN(255))
		}
		if b[0] == byte(wire.TypeAck) || string(b) == string(valid) {
			b = b[:len(b)-1] // an ack stays decodable when only ids change: make it short
		}
		return b
	}
}

func validFrame(t *testing.T, typ wire.Type) []byte {
	t.Helper()
	img, err := os.ReadFile("../testdata/images/crop_urchins_gray.png")
	if err != nil {
		t.Fatal(err)
	}
	f := wire.Frame{Type: typ, Timestamp: 1, Width: 400, Height: 300, Channels: 1, Filename: "x.png", Data: img,
		Trailer: &wire.Trailer{StreamID: 1, Seq: 1}}
	if typ == wire.TypeProcessed {
		f.Keypoints = make([]wire.Keypoint, 3)
		f.Descriptors = make([]float32, 3*wire.DescriptorSize)
	}
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustAck(t *testing.T) []byte {
	a := wire.Ack{StreamID: 99, Seqs: []uint64{1, 2, 3}}
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitStatus reads status reports until ok accepts one, for up to 30 s.
func waitStatus(t *testing.T, sock *bus.Socket, ok func(*wire.Status) bool) *wire.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last wire.Status
	for time.Now().Before(deadline) {
		msg, err := sock.Recv(500 * time.Millisecond)
		if err != nil {
			continue
		}
		var s wire.Status
		if err := json.Unmarshal(msg, &s); err != nil {
			t.Fatalf("status is not JSON: %v: %q", err, msg)
		}
		last = s
		if ok(&s) {
			return &s
		}
	}
	t.Fatalf("no matching status within 30s; last: %+v", last)
	return nil
}

// peakRSS reads a process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	return procStatus(t, pid, "VmHWM")
}

// procStatus reads one size field of /proc/PID/status, in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
