package stage

import (
	"slices"
	"strings"
)

// Kind is a kind of stage: a row of Table.
type Kind string

// The stage kinds, each with its Spec in Table.
const (
	Generator Kind = "generator" // reads image files and publishes them
	Extractor Kind = "extractor" // runs SIFT on each image and republishes it with its features
	Logger    Kind = "logger"    // stores each processed frame in SQLite
)

// Link is a named connection between stages.
type Link string

// The links of a pipeline.
const (
	LinkImages    Link = "images"    // IMAGE_DATA, generator → extractor
	LinkProcessed Link = "processed" // PROCESSED_DATA, extractor → logger
	LinkAcks      Link = "acks"      // acknowledgements of stored frames, logger → generator (reliable delivery)
	LinkStatus    Link = "status"    // status JSON, every stage → supervisor
	// LinkWork is the work pool (reliable delivery): extractors ask the
	// generator for frames (wire.Ready) and it sends each IMAGE_DATA to one
	// of them, ROUTER to DEALER.
	LinkWork Link = "work"
)

// DefaultEndpoint is each link's address when nothing else is said: a stage
// run by hand on one host finds its neighbours there. The supervisor gives
// its children ipc:// endpoints in its run folder instead.
var DefaultEndpoint = map[Link]string{
	LinkImages:    "tcp://127.0.0.1:5555",
	LinkProcessed: "tcp://127.0.0.1:5556",
	LinkStatus:    "tcp://127.0.0.1:5557",
	LinkAcks:      "tcp://127.0.0.1:5558",
	LinkWork:      "tcp://127.0.0.1:5559",
}

// Endpoint prefixes: a socket binds an endpoint written "@ADDR" and
// connects to one written ">ADDR".
const (
	BindPrefix    = "@"
	ConnectPrefix = ">"
)

// Bind returns the bind form of addr.
func Bind(addr string) string { return BindPrefix + addr }

// Connect returns the connect form of addr.
func Connect(addr string) string { return ConnectPrefix + addr }

// Port is one of a stage's sockets: the flag that names its endpoint, the
// link it is on, which way messages go, and which side binds.
type Port struct {
	Flag  string // the stage's flag, e.g. "pub"
	Link  Link
	Out   bool   // the stage sends on it (else it receives)
	Bind  bool   // a stage run by hand binds it (else connects); see SupervisedBind
	Usage string // the flag's help line, without its default
	// Optional: the flag has no default, and the stage opens the port only
	// when given one: an extractor pulls from the work pool only when told
	// where it is (otherwise it subscribes, as a seed extractor does), and a
	// generator run by hand does not take a port nobody asked for.
	// DefaultEndpoint still names the link's usual address.
	Optional bool
	// ReliableOnly: the port serves reliable delivery only; a stage under
	// best-effort does not open it, and the supervisor does not wire it.
	ReliableOnly bool
}

// Default returns the port's default flag value: its link's default
// endpoint in bind or connect form; "" for an Optional port.
func (p Port) Default() string {
	if p.Optional {
		return ""
	}
	if p.Bind {
		return Bind(DefaultEndpoint[p.Link])
	}
	return Connect(DefaultEndpoint[p.Link])
}

// StatusPort is the status channel every stage reports on; the supervisor
// binds it.
var StatusPort = Port{Flag: "status", Link: LinkStatus, Out: true,
	Usage: "status channel `endpoint` (the supervisor binds it); empty for none"}

// Spec describes one stage kind: everything the CLI, the supervisor's
// wiring, its configuration, the chaos script and the console need to know
// about it without running it.
type Spec struct {
	Kind    Kind
	Summary string // one line for usage texts
	Ports   []Port // its sockets, besides StatusPort
	Faults  []Fault
	// Replicated: the supervisor may run several instances, named KIND-i:
	// under reliable delivery they share the work pool, under best-effort
	// each takes its share of the frames (--shard i/n).
	Replicated bool
	// KeepsMemory: it receives frames, and runs with WithKeptMemory's
	// environment unless given --return-memory.
	KeepsMemory bool
}

// Table describes every stage kind, in the default start order: consumers
// of a link start after the stage that feeds it, so the first frames are
// not published into nowhere.
var Table = []Spec{
	{
		Kind:    Generator,
		Summary: "reads image files from a folder and publishes them, looping forever",
		Ports: []Port{
			{Flag: "pub", Link: LinkImages, Out: true, Bind: true, Usage: "IMAGE_DATA publish `endpoint` (@ binds, > connects)"},
			{Flag: "ack", Link: LinkAcks, Usage: "acknowledgement `endpoints`, comma-separated (reliable delivery)"},
			{Flag: "work", Link: LinkWork, Out: true, Bind: true, Optional: true, ReliableOnly: true, Usage: "work pool `endpoint` extractors ask for frames on, e.g. @tcp://127.0.0.1:5559 (reliable delivery; default: none, frames are published)"},
		},
		Faults: commonFaults,
	},
	{
		Kind:    Extractor,
		Summary: "runs OpenCV SIFT on each image and republishes image + features",
		Ports: []Port{
			{Flag: "sub", Link: LinkImages, Usage: "IMAGE_DATA `endpoints`, comma-separated (@ binds, > connects)"},
			{Flag: "pub", Link: LinkProcessed, Out: true, Bind: true, Usage: "PROCESSED_DATA publish `endpoint`"},
			{Flag: "work", Link: LinkWork, Optional: true, ReliableOnly: true, Usage: "take frames from the generators' work pools at `endpoints`, comma-separated, asking when a worker is free (reliable delivery; default: subscribe with --sub)"},
		},
		Faults:      commonFaults,
		Replicated:  true,
		KeepsMemory: true,
	},
	{
		Kind:    Logger,
		Summary: "stores each processed frame in SQLite, whole or not at all",
		Ports: []Port{
			{Flag: "sub", Link: LinkProcessed, Usage: "PROCESSED_DATA `endpoints`, comma-separated (@ binds, > connects)"},
			{Flag: "ack", Link: LinkAcks, Out: true, Bind: true, Usage: "acknowledgement publish `endpoint`"},
		},
		Faults:      append(slices.Clone(commonFaults), FaultDBFull),
		KeepsMemory: true,
	},
}

// Kinds lists the stage kinds in Table order.
func Kinds() []Kind {
	out := make([]Kind, len(Table))
	for i, s := range Table {
		out[i] = s.Kind
	}
	return out
}

// Lookup returns the Spec of kind k.
func Lookup(k Kind) (Spec, bool) {
	i := slices.IndexFunc(Table, func(s Spec) bool { return s.Kind == k })
	if i < 0 {
		return Spec{}, false
	}
	return Table[i], true
}

// Has reports whether fault f applies to stages of this kind.
func (s Spec) Has(f Fault) bool { return slices.Contains(s.Faults, f) }

// Input is the port whose messages the stage consumes first, where the
// supervisor injects corrupt and truncated messages; ok is false for a
// stage that receives nothing.
func (s Spec) Input() (p Port, ok bool) {
	for _, p := range s.Ports {
		if !p.Out {
			return p, true
		}
	}
	return Port{}, false
}

// Flow is data passing from one stage kind to another over a link.
type Flow struct {
	From, To Kind
	Link     Link
}

// Flows lists the links frames travel on, in the order data flows
// (acknowledgements and status are not data).
func Flows() []Flow {
	var out []Flow
	for _, from := range Table {
		for _, p := range from.Ports {
			// The work pool carries the same flow as images (generator →
			// extractor), under reliable delivery: one flow, not two.
			if !p.Out || p.Link == LinkAcks || p.Link == LinkWork {
				continue
			}
			for _, to := range Table {
				if i := slices.IndexFunc(to.Ports, func(q Port) bool { return q.Link == p.Link && !q.Out }); i >= 0 {
					out = append(out, Flow{From: from.Kind, To: to.Kind, Link: p.Link})
				}
			}
		}
	}
	return out
}

// SupervisedBind reports whether a supervisor's stage of kind k binds port
// p. Several replicas cannot all bind one endpoint, so a replicated stage
// connects and the stages on the other side of the link bind; otherwise the
// port binds as it would run by hand.
func SupervisedBind(k Kind, p Port) bool {
	if s, _ := Lookup(k); s.Replicated {
		return false
	}
	for _, peer := range Table {
		if peer.Kind == k || !peer.Replicated {
			continue
		}
		if slices.ContainsFunc(peer.Ports, func(q Port) bool { return q.Link == p.Link && q.Out != p.Out }) {
			return true
		}
	}
	return p.Bind
}

// SupervisedEndpoints is the value of port p's flag for a supervised stage of
// kind k. Every stage that binds on a link binds an address of its own,
// addr(link, its kind), so that two receivers of one replicated sender do not
// fight over one address; a stage that connects connects to the address of
// every stage across the link that binds it.
func SupervisedEndpoints(k Kind, p Port, addr func(l Link, binder Kind) string) string {
	if SupervisedBind(k, p) {
		return Bind(addr(p.Link, k))
	}
	var eps []string
	for _, peer := range Table {
		for _, q := range peer.Ports {
			if peer.Kind != k && q.Link == p.Link && q.Out != p.Out && SupervisedBind(peer.Kind, q) {
				eps = append(eps, Connect(addr(p.Link, peer.Kind)))
			}
		}
	}
	return strings.Join(eps, ",")
}
