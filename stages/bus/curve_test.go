package bus

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newKeypair(t *testing.T) Keypair {
	t.Helper()
	kp, err := NewKeypair()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// securedContext returns a context with sec, closed at the end of the test.
func securedContext(t *testing.T, sec *Security) *Context {
	t.Helper()
	ctx, err := NewContext()
	if err != nil {
		t.Fatal(err)
	}
	if sec != nil {
		if err := ctx.Secure(*sec); err != nil {
			ctx.Close()
			t.Fatal(err)
		}
	}
	return ctx
}

// TestCurveAllowsOnlyPeers runs a CURVE publisher and subscribers with the
// right key, a key not allowed, no key and a wrong server key: only the
// first gets frames, the others are counted as refused. The ipc endpoint of
// the same socket stays open to a subscriber without a key.
func TestCurveAllowsOnlyPeers(t *testing.T) {
	server, good, stranger := newKeypair(t), newKeypair(t), newKeypair(t)
	sctx := securedContext(t, &Security{Key: server, Peers: []string{good.Public}})
	ipc := "ipc://" + filepath.Join(t.TempDir(), "p")
	pub, err := sctx.Pub("@tcp://127.0.0.1:0,@"+ipc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := pub.Endpoints()[0]
	clients := []struct {
		name string
		sec  *Security
		ep   string
		want bool
	}{
		{"allowed key", &Security{Key: good, ServerKey: server.Public}, addr, true},
		{"ipc without key", nil, ipc, true},
		{"key not allowed", &Security{Key: stranger, ServerKey: server.Public}, addr, false},
		{"no key", nil, addr, false},
		{"wrong server key", &Security{Key: good, ServerKey: stranger.Public}, addr, false},
	}
	var ctxs []*Context
	var subs []*Socket
	for _, c := range clients {
		ctx := securedContext(t, c.sec)
		sub, err := ctx.Sub(c.ep, Options{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		ctxs, subs = append(ctxs, ctx), append(subs, sub)
	}
	got := make([]bool, len(clients))
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && !(got[0] && got[1] && pub.Refused() >= 3) {
		if err := pub.Send([]byte("frame")); err != nil {
			t.Fatal(err)
		}
		for i, sub := range subs {
			if _, err := sub.Recv(10 * time.Millisecond); err == nil {
				got[i] = true
			}
		}
	}
	for i, c := range clients {
		if got[i] != c.want {
			t.Errorf("%s: received = %v; want %v", c.name, got[i], c.want)
		}
	}
	if n := pub.Refused(); n < 3 {
		t.Errorf("publisher Refused() = %d; want >= 3 (one per refused client)", n)
	}
	for _, s := range subs {
		s.Close()
	}
	pub.Close()
	for _, c := range append(ctxs, sctx) {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestInsecureBindBeyondLoopback(t *testing.T) {
	ctx := securedContext(t, &Security{})
	defer ctx.Close()
	if s, err := ctx.Pub("@tcp://0.0.0.0:0", Options{}); !errors.Is(err, ErrInsecureBind) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("bind 0.0.0.0 without key: err = %v; want ErrInsecureBind", err)
	}
	for _, ep := range []string{"@tcp://127.0.0.1:0", "@tcp://lo:0", "@ipc://" + filepath.Join(t.TempDir(), "s")} {
		s, err := ctx.Pub(ep, Options{})
		if err != nil {
			t.Fatalf("bind %s without key: %v", ep, err)
		}
		s.Close()
	}

	var warned []string
	ictx := securedContext(t, &Security{Insecure: true, Warn: func(m string) { warned = append(warned, m) }})
	defer ictx.Close()
	s, err := ictx.Pub("@tcp://*:0", Options{})
	if err != nil {
		t.Fatalf("bind * with Insecure: %v", err)
	}
	s.Close()
	if len(warned) != 1 || !strings.Contains(warned[0], "without a key") {
		t.Errorf("warnings = %q; want one about binding without a key", warned)
	}
}

func TestWriteKeypair(t *testing.T) {
	dir := t.TempDir()
	secret, public, err := WriteKeypair(dir, "node")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{secret: 0o600, public: 0o644} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode = %v; want %v", path, fi.Mode().Perm(), want)
		}
	}
	kp, err := ReadKeypair(secret)
	if err != nil {
		t.Fatal(err)
	}
	pubs, err := ReadPublicKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(pubs) != 1 || pubs[0] != kp.Public {
		t.Errorf("ReadPublicKeys(dir) = %q; want the derived public key %q", pubs, kp.Public)
	}
	if _, _, err := WriteKeypair(dir, "node"); err == nil || !strings.Contains(err.Error(), "not overwriting") {
		t.Errorf("second WriteKeypair: err = %v; want a refusal to overwrite", err)
	}
	if err := os.Chmod(secret, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKeypair(secret); !errors.Is(err, ErrBadKey) {
		t.Errorf("ReadKeypair of a 0644 secret key: err = %v; want ErrBadKey", err)
	}
	bad := filepath.Join(dir, "bad.pub")
	os.WriteFile(bad, []byte("not a key\n"), 0o644)
	if _, err := ReadPublicKey(bad); !errors.Is(err, ErrBadKey) {
		t.Errorf("ReadPublicKey(garbage): err = %v; want ErrBadKey", err)
	}
}

func TestSecurityIncomplete(t *testing.T) {
	kp := newKeypair(t)
	for _, sec := range []Security{{Peers: []string{kp.Public}}, {ServerKey: kp.Public}} {
		ctx := securedContext(t, nil)
		if err := ctx.Secure(sec); err == nil {
			t.Errorf("Secure(%+v) without a key succeeded", sec)
		}
		ctx.Close()
	}
	ctx := securedContext(t, &Security{Key: kp})
	defer ctx.Close()
	if s, err := ctx.Pub("@tcp://127.0.0.1:0", Options{}); err == nil || !strings.Contains(err.Error(), "no allowed peers") {
		if s != nil {
			s.Close()
		}
		t.Errorf("CURVE bind without peers: err = %v; want no allowed peers", err)
	}
}
