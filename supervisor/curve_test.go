package supervisor

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
)

// TestCurveStatusChannel: a supervisor with a key binds a tcp status
// endpoint as a CURVE server. Its own children report on the private ipc
// endpoint, without keys; a stage started by hand with an allowed key joins
// as remote, and one without a key never appears and is counted as refused.
func TestCurveStatusChannel(t *testing.T) {
	dir := shortTempDir(t)
	peers := filepath.Join(dir, "peers")
	for _, name := range []string{"sup", "far"} {
		if _, _, err := bus.WriteKeypair(dir, name); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(peers, 0o700)
	os.Rename(filepath.Join(dir, "far.pub"), filepath.Join(peers, "far.pub"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "tcp://" + ln.Addr().String()
	ln.Close()

	var tr *bus.Transport
	r := startFake(t, func(c *Config) {
		c.StatusBind, c.Key, c.Peers = "@"+addr, filepath.Join(dir, "sup.key"), peers
		sec, err := bus.KeyFiles{Key: c.Key, Peers: c.Peers}.Load()
		if err != nil {
			t.Fatal(err)
		}
		tr = bus.NewSecureTransport(sec)
		c.Transport = tr
	})
	if conn := r.statusEndpoint(t); !strings.HasPrefix(conn, ">ipc://") || strings.Contains(conn, "tcp") {
		t.Errorf("children report on %q; want only the private ipc endpoint", conn)
	}
	extractor := func(instance string, keys ...string) {
		args := append([]string{"stage", "extractor", "--status", ">" + addr, "--instance", instance,
			"--workers", "1", "--sub", ">ipc://" + filepath.Join(dir, instance+"-in"),
			"--pub", "@ipc://" + filepath.Join(dir, instance+"-out")}, keys...)
		startByHand(t, realBinary(t), nil, args...)
	}
	extractor("far-key", "--key", filepath.Join(dir, "far.key"), "--server-key", "status="+filepath.Join(dir, "sup.pub"))
	extractor("far-nokey")

	waitUntil(t, 30*time.Second, "far-key reported as remote", func() bool {
		st, ok := stageOf(r.sup.Snapshot(), "far-key")
		return ok && st.State == StateRemote
	})
	waitUntil(t, 10*time.Second, "the keyless stage refused", func() bool { return tr.Refused() > 0 })
	if _, ok := stageOf(r.sup.Snapshot(), "far-nokey"); ok {
		t.Errorf("a stage without a key joined: %v", stageNames(r.sup.Snapshot()))
	}
}

// TestSupervisorRefusesInsecureStatusBind: without a key a status channel
// bound beyond loopback fails to start; with Insecure it runs.
func TestSupervisorRefusesInsecureStatusBind(t *testing.T) {
	cfg := fakeConfig(shortTempDir(t))
	cfg.StatusBind = "@tcp://0.0.0.0:0"
	sup, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sup.Run(ctx); err == nil || !strings.Contains(err.Error(), "refusing to bind beyond loopback") {
		t.Fatalf("Run = %v; want a refusal to bind beyond loopback", err)
	}

	r := startFake(t, func(c *Config) {
		c.StatusBind, c.Insecure = "@tcp://0.0.0.0:0", true
		c.Transport = bus.NewSecureTransport(bus.Security{Insecure: true})
	})
	if conn := r.statusEndpoint(t); !strings.HasPrefix(conn, ">tcp://127.0.0.1:") {
		t.Errorf("status endpoint %q; want loopback tcp for the children", conn)
	}
}
