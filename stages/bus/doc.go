// Package bus is the pipeline's ZeroMQ transport: PUB and SUB sockets with
// the project's defaults, endpoint lists, receive timeouts and a count of
// dropped connections. It is the only package that imports
// github.com/pebbe/zmq4; nothing of zmq4 crosses its API, only []byte.
//
// # Endpoints
//
// An endpoint is a ZeroMQ address ("tcp://127.0.0.1:5555", "ipc:///tmp/x",
// "inproc://name") optionally prefixed by "@" (bind) or ">" (connect), the
// CZMQ convention. Without a prefix a socket uses its role's default: Pub
// binds, Sub connects. A list is comma-separated; one socket may bind and
// connect at once. A tcp bind may use port 0 or "*" for a free port and
// Socket.Endpoints reports the port chosen.
//
// # Defaults
//
// Options' zero values mean: send and receive high-water marks of 100
// messages, a linger of 1 s, and ZMQ_MAXMSGSIZE of wire.MaxMessageBytes on
// every socket (a SUB receives frames; a PUB receives only subscriptions,
// which the limit guards as well). Connecting sockets retry every 100 ms,
// backing off to 1 s. A Sub subscribes to every message.
//
// # Dropped connections
//
// A ZeroMQ socket hides its connections: when a peer goes away, or when
// libzmq itself drops a connection because an inbound message exceeds
// ZMQ_MAXMSGSIZE, the message is lost and nothing is returned to the
// caller. Each Socket therefore runs a socket monitor and counts
// disconnections in Socket.Dropped. libzmq does not say why a connection
// ended, so the count includes peers that closed or restarted as well as
// connections zmq cut.
//
// libzmq reconnects a connecting socket after a connection error, but after
// a protocol error (an over-limit message is one) it abandons that
// connection for good: a SUB that connected to a PUB would never hear from
// it again. The monitor notices an abandoned connection (no reconnection
// announced within 300 ms of the disconnect) and the Socket connects to that
// endpoint afresh in its next Send or Recv. A binding socket needs no help:
// its peer reconnects.
//
// # Security
//
// Context.Secure gives every socket of a context CURVE credentials
// (Security), applied to its tcp endpoints one by one: a bind with a key is
// a CURVE server whose clients the context's ZAP handler checks against the
// allowed peers; a connect with a server key is a CURVE client. A secured
// context refuses a tcp bind beyond loopback without a key unless told it
// is insecure. ipc and inproc endpoints are left as they are. Handshakes
// that fail (no key, a wrong one, one not allowed) are counted in
// Socket.Refused. Key files are written by WriteKeypair and read by
// ReadKeypair and ReadPublicKeys.
//
// # Goroutines and ownership
//
// A Socket is used by one goroutine at a time (ZeroMQ sockets are not thread
// safe); only Dropped, Refused and Endpoints may be called from others.
// Each Socket owns one goroutine that reads its monitor; Close stops it and
// waits for it. Close every Socket before closing its Context:
// Context.Close blocks until all its sockets are closed and their linger
// has passed. A secured Context owns one more goroutine, its ZAP handler,
// which Context.Close ends.
package bus
