package stages_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/wire"
)

// TestStageRefusesInsecureBind runs the real generator asked to bind
// 0.0.0.0: without keys it exits saying why; with --insecure it runs and
// logs a warning.
func TestStageRefusesInsecureBind(t *testing.T) {
	p := start(t, "generator", "--pub", "@tcp://0.0.0.0:0")
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("generator bound 0.0.0.0 without keys and kept running")
	}
	if p.err == nil || !strings.Contains(p.out.String(), "refusing to bind beyond loopback") {
		t.Fatalf("generator exit = %v, output %q; want a failure refusing to bind beyond loopback", p.err, p.out.String())
	}

	p = start(t, "generator", "--pub", "@tcp://0.0.0.0:0", "--insecure")
	waitLog(t, p, "insecure bind", 30*time.Second)
	p.stop(t)
}

// TestStageCurveLinks runs a generator with keys made by `imaging-tui keys`:
// its images reach a subscriber with an allowed key and not one without, and
// its status reports reach a CURVE status channel it was given the key of.
func TestStageCurveLinks(t *testing.T) {
	dir := t.TempDir()
	key := makeKeys(t, dir, "gen", "sup", "client")
	if fi, err := os.Stat(filepath.Join(dir, "gen.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("gen.key: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if out, err := exec.Command(exe, "keys", "--out", dir, "gen").CombinedOutput(); err == nil {
		t.Errorf("imaging-tui keys over an existing key succeeded: %s", out)
	}
	peers := filepath.Join(dir, "peers")
	os.Mkdir(peers, 0o755)
	os.Rename(filepath.Join(dir, "client.pub"), filepath.Join(peers, "client.pub"))
	os.Rename(filepath.Join(dir, "gen.pub"), filepath.Join(peers, "gen.pub"))

	sup, client, gen := key("sup"), key("client"), key("gen")
	statusAddr, imagesAddr := freeTCP(t), freeTCP(t)

	// The status channel accepts the generator's key only.
	status := subscribe(t, &bus.Security{Key: sup, Peers: []string{gen.Public}}, "@"+statusAddr)
	allowed := subscribe(t, &bus.Security{Key: client, ServerKey: gen.Public}, imagesAddr)
	stranger := subscribe(t, nil, imagesAddr)

	p := start(t, "generator", "--delivery", "best-effort", "--fps", "20",
		"--key", filepath.Join(dir, "gen.key"), "--peers", peers, "--pub", "@"+imagesAddr,
		"--status", ">"+statusAddr, "--server-key", "status="+filepath.Join(dir, "sup.pub"))
	if _, err := allowed.Recv(20 * time.Second); err != nil {
		t.Fatalf("allowed subscriber: %v", err)
	}
	if st := waitStatus(t, status, func(*wire.Status) bool { return true }); st.Stage != "generator" {
		t.Errorf("status from %q; want the generator's", st.Stage)
	}
	if m, err := stranger.Recv(500 * time.Millisecond); err == nil {
		t.Errorf("subscriber without a key received %d bytes", len(m))
	}
	// Its status reports count the stranger refused.
	waitStatus(t, status, func(st *wire.Status) bool { return st.Refused > 0 })
	p.stop(t)
	if !strings.Contains(p.out.String(), "refused at the handshake") {
		t.Errorf("the generator did not report the keyless subscriber as refused")
	}
}

// freeTCP returns a loopback tcp:// address on a port free a moment ago.
func freeTCP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprintf("tcp://%s", ln.Addr())
}

// subscribe opens a Sub on endpoints in a context of its own with sec (nil:
// none), closed when the test ends.
func subscribe(t *testing.T, sec *bus.Security, endpoints string) *bus.Socket {
	t.Helper()
	return openSecured(t, sec, func(ctx *bus.Context) (*bus.Socket, error) { return ctx.Sub(endpoints, bus.Options{}) })
}

// dealer opens a Dealer on endpoints like subscribe.
func dealer(t *testing.T, sec *bus.Security, endpoints string) *bus.Socket {
	t.Helper()
	return openSecured(t, sec, func(ctx *bus.Context) (*bus.Socket, error) {
		return ctx.Dealer(endpoints, bus.Options{Linger: time.Millisecond})
	})
}

// openSecured opens a socket with open in a context of its own with sec
// (nil: none); both are closed when the test ends.
func openSecured(t *testing.T, sec *bus.Security, open func(*bus.Context) (*bus.Socket, error)) *bus.Socket {
	t.Helper()
	ctx, err := bus.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	if sec != nil {
		if err := ctx.Secure(*sec); err != nil {
			ctx.Close()
			t.Fatal(err)
		}
	}
	sock, err := open(ctx)
	if err != nil {
		ctx.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close(); ctx.Close() })
	return sock
}

// TestStageCurveWorkPool: a reliable generator's work pool, on a CURVE
// server key, sends frames to a DEALER with an allowed key, ignores one
// without a key or with a key not among its peers, and a real extractor
// given the generator's key for its --work port joins the pool.
func TestStageCurveWorkPool(t *testing.T) {
	dir := t.TempDir()
	kp := makeKeys(t, dir, "gen", "client", "other")
	peers := filepath.Join(dir, "peers")
	os.Mkdir(peers, 0o755)
	os.Rename(filepath.Join(dir, "client.pub"), filepath.Join(peers, "client.pub"))
	client, other, gen := kp("client"), kp("other"), kp("gen")
	workAddr := freeTCP(t)
	g := start(t, "generator", "--key", filepath.Join(dir, "gen.key"), "--peers", peers,
		"--pub", "@"+freeTCP(t), "--ack", ">"+freeTCP(t), "--work", "@"+workAddr)
	waitLog(t, g, " starting", 30*time.Second)

	allowed := dealer(t, &bus.Security{Key: client, ServerKey: gen.Public}, ">"+workAddr)
	stranger := dealer(t, nil, ">"+workAddr)
	wrong := dealer(t, &bus.Security{Key: other, ServerKey: gen.Public}, ">"+workAddr)
	ready, _ := (&wire.Ready{Session: 7, Want: 1}).MarshalBinary()
	var msg []byte
	deadline := time.Now().Add(30 * time.Second)
	for msg == nil && time.Now().Before(deadline) {
		for _, d := range []*bus.Socket{allowed, stranger, wrong} {
			_ = d.Send(ready) // no peer yet (the handshake is under way): the next one
		}
		for _, d := range []*bus.Socket{stranger, wrong} {
			if m, err := d.Recv(0); err == nil {
				t.Fatalf("a DEALER without an allowed key received %d bytes from the pool", len(m))
			}
		}
		msg, _ = allowed.Recv(200 * time.Millisecond)
	}
	if msg == nil {
		t.Fatal("the allowed DEALER received no frame from the work pool")
	}
	if f, err := wire.DecodeImage(msg); err != nil || f.Trailer == nil || f.Trailer.Seq != 1 {
		t.Fatalf("pool message: %v; want IMAGE_DATA frame 1 with our trailer", err)
	}
	if _, err := stranger.Recv(time.Second); err == nil {
		t.Error("the keyless DEALER received a frame")
	}

	// A real extractor with the generator's key for its --work port.
	x := start(t, "extractor", "--key", filepath.Join(dir, "client.key"), "--server-key", "work="+filepath.Join(dir, "gen.pub"),
		"--work", ">"+workAddr, "--sub", ">ipc://"+filepath.Join(dir, "i"), "--pub", "@ipc://"+filepath.Join(dir, "p"), "--workers", "1")
	// Frame 1 too: the test's DEALER fell silent with it.
	waitLog(t, x, `"frame_seq":1,`, 60*time.Second)
}

// makeKeys makes a keypair for each name in dir with `imaging-tui keys`,
// and returns a reader of them.
func makeKeys(t *testing.T, dir string, names ...string) func(name string) bus.Keypair {
	t.Helper()
	for _, name := range names {
		if out, err := exec.Command(exe, "keys", "--out", dir, name).CombinedOutput(); err != nil {
			t.Fatalf("imaging-tui keys %s: %v\n%s", name, err, out)
		}
	}
	return func(name string) bus.Keypair {
		kp, err := bus.ReadKeypair(filepath.Join(dir, name+".key"))
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
}
