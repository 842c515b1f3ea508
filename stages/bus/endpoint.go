package bus

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ErrBadEndpoint is wrapped by every endpoint parsing error.
var ErrBadEndpoint = errors.New("bus: bad endpoint")

// maxIPCPath is the longest ipc:// path: sun_path holds 108 bytes with the
// terminating NUL on Linux.
const maxIPCPath = 107

// Endpoint is one parsed endpoint: a ZeroMQ address and whether the socket
// binds it or connects to it.
type Endpoint struct {
	Addr string // transport://address, without the @ or > prefix
	Bind bool
}

// String returns the endpoint with its explicit prefix, "@addr" or ">addr".
func (e Endpoint) String() string {
	if e.Bind {
		return "@" + e.Addr
	}
	return ">" + e.Addr
}

// ParseEndpoints parses a comma-separated endpoint list. Each entry may start
// with "@" (bind) or ">" (connect); an entry without a prefix binds if
// defaultBind is set and connects otherwise. Surrounding spaces are ignored.
// Supported transports are tcp, ipc and inproc. Errors wrap ErrBadEndpoint
// and name the entry and what is wrong with it.
func ParseEndpoints(list string, defaultBind bool) ([]Endpoint, error) {
	if strings.TrimSpace(list) == "" {
		return nil, fmt.Errorf("%w: empty endpoint list", ErrBadEndpoint)
	}
	var eps []Endpoint
	for _, raw := range strings.Split(list, ",") {
		ep, err := parseEndpoint(strings.TrimSpace(raw), defaultBind)
		if err != nil {
			return nil, err
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

func parseEndpoint(s string, defaultBind bool) (Endpoint, error) {
	bad := func(reason string, args ...any) (Endpoint, error) {
		return Endpoint{}, fmt.Errorf("%w %q: %s", ErrBadEndpoint, s, fmt.Sprintf(reason, args...))
	}
	if s == "" {
		return bad("empty entry in list")
	}
	ep := Endpoint{Addr: s, Bind: defaultBind}
	switch s[0] {
	case '@':
		ep.Addr, ep.Bind = s[1:], true
	case '>':
		ep.Addr, ep.Bind = s[1:], false
	}
	transport, rest, ok := strings.Cut(ep.Addr, "://")
	if !ok {
		return bad("no transport (want e.g. tcp://127.0.0.1:5555 or ipc:///tmp/name)")
	}
	switch transport {
	case "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return bad("want tcp://host:port")
		}
		if host == "" {
			return bad("no host (use * to bind all interfaces)")
		}
		if port == "*" || port == "0" {
			if !ep.Bind {
				return bad("cannot connect to port %s", port)
			}
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return bad("port %q is not 1-65535, 0 or *", port)
		}
		if host == "*" && !ep.Bind {
			return bad("cannot connect to host *")
		}
	case "ipc":
		switch {
		case rest == "":
			return bad("no path")
		case rest == "*" && !ep.Bind:
			return bad("cannot connect to ipc://*")
		case len(rest) > maxIPCPath:
			return bad("path of %d bytes is longer than %d", len(rest), maxIPCPath)
		}
	case "inproc":
		if rest == "" {
			return bad("no name")
		}
	case "":
		return bad("no transport")
	default:
		return bad("unsupported transport %q (want tcp, ipc or inproc)", transport)
	}
	return ep, nil
}
