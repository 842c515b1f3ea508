package bus

import (
	"errors"
	"fmt"
	"net"
	"strings"

	zmq "github.com/pebbe/zmq4"
)

// ErrInsecureBind is returned when a socket of a secured Context would bind
// a tcp endpoint beyond loopback without a key (see Security).
var ErrInsecureBind = errors.New("bus: refusing to bind beyond loopback without a key (give --key and --peers, or --insecure)")

// Security is the CURVE configuration of every socket of a Context, applied
// endpoint by endpoint to tcp endpoints only: ipc:// endpoints are guarded
// by their folder's permissions and inproc:// never leaves the process.
//
//   - A tcp endpoint a socket binds, with Key set, is a CURVE server: only
//     clients whose public key is in Peers complete the handshake.
//   - A tcp endpoint a socket connects to, with a server key for it
//     (ServerKeys[addr], else ServerKey), is a CURVE client presenting Key.
//   - Without Key, a tcp bind beyond loopback fails with ErrInsecureBind,
//     unless Insecure is set; then Warn (if set) is called once for it.
//
// Peers refused at the handshake are counted by Socket.Refused.
type Security struct {
	Key        Keypair           // the process's own keypair; zero: none
	Peers      []string          // public keys (Z85) allowed to connect to a binding socket
	ServerKey  string            // public key of the server a connect endpoint reaches, unless in ServerKeys
	ServerKeys map[string]string // by connect address, as in the endpoint list without prefix
	Insecure   bool              // allow binding beyond loopback without a key
	Warn       func(msg string)  // told of each insecure bind beyond loopback
}

func (s *Security) hasKey() bool { return s.Key.Secret != "" }

// check reports what is missing from s to work at all.
func (s *Security) check() error {
	if !s.hasKey() {
		if len(s.Peers) > 0 {
			return errors.New("bus: allowed peers need a key of our own (--key)")
		}
		if s.ServerKey != "" || len(s.ServerKeys) > 0 {
			return errors.New("bus: a server key needs a key of our own to present (--key)")
		}
		return nil
	}
	if !zmq.HasCurve() {
		return errors.New("bus: this libzmq has no CURVE support (built without libsodium)")
	}
	if s.Key.Public == "" {
		return fmt.Errorf("%w: keypair without its public key", ErrBadKey)
	}
	return nil
}

// KeyFiles names a process's CURVE credentials as files: what the flags
// --key, --peers and --server-key give.
type KeyFiles struct {
	Key        string            // secret key file (ReadKeypair); "" for none
	Peers      string            // file or directory of allowed public keys (ReadPublicKeys)
	ServerKey  string            // public key file of the server every connect endpoint reaches
	ServerKeys map[string]string // public key files by connect address, overriding ServerKey
	Insecure   bool
}

// Load reads the files named in f.
func (f KeyFiles) Load() (Security, error) {
	sec := Security{Insecure: f.Insecure}
	var err error
	if f.Key != "" {
		if sec.Key, err = ReadKeypair(f.Key); err != nil {
			return Security{}, err
		}
	}
	if f.Peers != "" {
		if sec.Peers, err = ReadPublicKeys(f.Peers); err != nil {
			return Security{}, err
		}
	}
	if f.ServerKey != "" {
		if sec.ServerKey, err = ReadPublicKey(f.ServerKey); err != nil {
			return Security{}, err
		}
	}
	for addr, file := range f.ServerKeys {
		k, err := ReadPublicKey(file)
		if err != nil {
			return Security{}, err
		}
		if sec.ServerKeys == nil {
			sec.ServerKeys = map[string]string{}
		}
		sec.ServerKeys[addr] = k
	}
	return sec, sec.check()
}

// Secure sets the CURVE configuration of the sockets opened on c from now
// on. Call it once, before opening any socket. With a key it starts the
// context's ZAP handler, which checks Peers; Close stops it.
func (c *Context) Secure(sec Security) error {
	if c.sec != nil {
		return errors.New("bus: context already secured")
	}
	if err := sec.check(); err != nil {
		return err
	}
	if sec.hasKey() {
		zap, err := startZAP(c.ctx, sec.Peers)
		if err != nil {
			return err
		}
		c.zap = zap
	}
	c.sec = &sec
	return nil
}

// secure sets sock's mechanism for ep before it binds or connects it:
// ZeroMQ takes a copy of the socket's options at each bind and connect.
func (c *Context) secure(sock *zmq.Socket, ep Endpoint) error {
	sec := c.sec
	if sec == nil {
		return nil
	}
	host, isTCP := tcpHost(ep.Addr)
	if !isTCP {
		if !sec.hasKey() {
			return nil
		}
		return sock.SetCurveServer(0) // the NULL mechanism
	}
	if ep.Bind {
		return sec.bind(sock, ep, host)
	}
	server := sec.ServerKey
	if k, ok := sec.ServerKeys[ep.Addr]; ok {
		server = k
	}
	if server == "" {
		if sec.hasKey() {
			return sock.SetCurveServer(0)
		}
		return nil
	}
	for _, set := range []func() error{
		func() error { return sock.SetCurveServerkey(server) },
		func() error { return sock.SetCurvePublickey(sec.Key.Public) },
		func() error { return sock.SetCurveSecretkey(sec.Key.Secret) },
	} {
		if err := set(); err != nil {
			return fmt.Errorf("bus: CURVE client for %s: %w", ep.Addr, err)
		}
	}
	return nil
}

func (sec *Security) bind(sock *zmq.Socket, ep Endpoint, host string) error {
	if !sec.hasKey() {
		if isLoopback(host) {
			return nil
		}
		if !sec.Insecure {
			return fmt.Errorf("%w: %s", ErrInsecureBind, ep.Addr)
		}
		if sec.Warn != nil {
			sec.Warn(fmt.Sprintf("%s is bound beyond loopback without a key (--insecure): any host that can reach it may connect, unauthenticated and unencrypted", ep.Addr))
		}
		return nil
	}
	if len(sec.Peers) == 0 {
		return fmt.Errorf("bus: CURVE server for %s: no allowed peers (--peers): every client would be refused", ep.Addr)
	}
	if err := sock.SetCurveServer(1); err != nil {
		return fmt.Errorf("bus: CURVE server for %s: %w", ep.Addr, err)
	}
	if err := sock.SetCurveSecretkey(sec.Key.Secret); err != nil {
		return fmt.Errorf("bus: CURVE server for %s: %w", ep.Addr, err)
	}
	return nil
}

// tcpHost returns the host of a tcp:// address.
func tcpHost(addr string) (string, bool) {
	rest, ok := strings.CutPrefix(addr, "tcp://")
	if !ok {
		return "", false
	}
	host, _, err := net.SplitHostPort(rest)
	if err != nil {
		return rest, true
	}
	return host, true
}

// isLoopback reports whether a tcp bind host stays on this machine: a
// loopback address, "localhost" or the loopback interface "lo". "*", an
// empty host, 0.0.0.0, :: and every other address or interface reach
// beyond it.
func isLoopback(host string) bool {
	if host == "localhost" || host == "lo" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// BeyondLoopback reports whether a tcp endpoint (with or without an @ or >
// prefix) names an address beyond loopback; ipc and inproc never do.
func BeyondLoopback(endpoint string) bool {
	host, ok := tcpHost(strings.TrimLeft(endpoint, "@>"))
	return ok && !isLoopback(host)
}

// zapEndpoint is where libzmq asks a context's ZAP handler (ZeroMQ RFC 27).
const zapEndpoint = "inproc://zeromq.zap.01"

// zapHandler answers libzmq's authentication requests for one context: a
// CURVE client is let in when its public key is allowed. It owns one
// goroutine and its REP socket; the context's Term ends both.
type zapHandler struct {
	done chan struct{}
}

func startZAP(ctx *zmq.Context, peers []string) (*zapHandler, error) {
	allowed := make(map[string]bool, len(peers))
	for _, p := range peers {
		allowed[p] = true
	}
	rep, err := ctx.NewSocket(zmq.REP)
	if err != nil {
		return nil, fmt.Errorf("bus: ZAP handler: %w", err)
	}
	if err := rep.SetLinger(0); err != nil {
		rep.Close()
		return nil, fmt.Errorf("bus: ZAP handler: %w", err)
	}
	if err := rep.Bind(zapEndpoint); err != nil {
		rep.Close()
		return nil, fmt.Errorf("bus: ZAP handler: %w", err)
	}
	z := &zapHandler{done: make(chan struct{})}
	go z.run(rep, allowed)
	return z, nil
}

// run answers requests until the context terminates.
func (z *zapHandler) run(rep *zmq.Socket, allowed map[string]bool) {
	defer close(z.done)
	defer rep.Close()
	for {
		req, err := rep.RecvMessageBytes(0)
		if err != nil {
			if zmq.AsErrno(err) == zmq.ETERM {
				return
			}
			continue
		}
		if _, err := rep.SendMessage(zapReply(req, allowed)); zmq.AsErrno(err) == zmq.ETERM {
			return
		}
	}
}

// zapReply answers one ZAP request: version, request id, domain, address,
// identity, mechanism, credentials (for CURVE, the client's 32-byte key).
func zapReply(req [][]byte, allowed map[string]bool) []string {
	if len(req) < 6 {
		return []string{"1.0", "", "500", "malformed request", "", ""}
	}
	version, id, mechanism := string(req[0]), string(req[1]), string(req[5])
	ok := mechanism == "CURVE" && len(req) == 7 && len(req[6]) == 32 &&
		allowed[zmq.Z85encode(string(req[6]))]
	if !ok {
		return []string{version, id, "400", "no access", "", ""}
	}
	return []string{version, id, "200", "OK", "", ""}
}
