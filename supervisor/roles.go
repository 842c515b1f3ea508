package supervisor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// One pipeline over several hosts: the capture host (the edge) runs the
// stages that bind the links a replicated kind (the extractor) uses, and
// binds those links on TCP too; each processing host runs a supervisor of
// its own with only the replicated kind, connected to the edge's links
// (JoinConfig). Both are ordinary supervisors: the same wiring from
// stage.Table, restart policy, process groups and shutdown order.

// runs reports whether a supervisor with this configuration runs stages of
// kind k.
func (c Config) runs(k stage.Kind) bool { return c.Kinds == nil || slices.Contains(c.Kinds, k) }

// instanceName names instance i of kind: "generator", "extractor-1", or
// with Config.Host "extractor-1@HOST".
func (s *Supervisor) instanceName(kind stage.Kind, i int) string {
	name := string(kind)
	if replicated(kind) {
		name = replicaName(kind, i)
	}
	if s.cfg.Host != "" {
		name += "@" + s.cfg.Host
	}
	return name
}

// portEndpoints is the value of port p's flag for a local stage of kind:
// the run folder's endpoints as stage.SupervisedEndpoints says, a link
// served by another host (Config.Remote) in its place, and an exposed
// link's tcp:// address (Config.Expose) bound as well.
func (s *Supervisor) portEndpoints(kind stage.Kind, p stage.Port) string {
	c := &s.cfg
	ep := stage.SupervisedEndpoints(kind, p, func(l stage.Link, binder stage.Kind) string {
		if addr := c.Remote[l]; addr != "" && !c.runs(binder) {
			return addr
		}
		return ipcAddr(c.RunDir, linkFile(l, binder))
	})
	if addr := c.Expose[p.Link]; addr != "" && stage.SupervisedBind(kind, p) {
		ep += "," + stage.Bind(addr)
	}
	return ep
}

// statusEndpoints is the children's --status: this supervisor's status
// channel, and another host's (Config.Remote) as well.
func (s *Supervisor) statusEndpoints() string {
	if addr := s.cfg.Remote[stage.LinkStatus]; addr != "" {
		return s.statusConn + "," + stage.Connect(addr)
	}
	return s.statusConn
}

// RemoteLinks are the links a stage of a replicated kind uses, the status
// channel included: what a processing host connects to on the edge, and
// what the edge binds on TCP for it.
func RemoteLinks() []stage.Link {
	links := []stage.Link{stage.LinkStatus}
	for _, sp := range stage.Table {
		if !sp.Replicated {
			continue
		}
		for _, p := range sp.Ports {
			if !slices.Contains(links, p.Link) {
				links = append(links, p.Link)
			}
		}
	}
	return links
}

// LinkAddr is link l's tcp:// address on host: the port of l's default
// endpoint (stage.DefaultEndpoint), on host.
func LinkAddr(host string, l stage.Link) string {
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(stage.DefaultEndpoint[l], "tcp://"))
	return "tcp://" + net.JoinHostPort(host, port)
}

// LinkPorts lists the TCP ports of links, in port order:
// "5555=images, 5557=status".
func LinkPorts(links []stage.Link) string {
	var out []string
	for _, l := range links {
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(stage.DefaultEndpoint[l], "tcp://"))
		out = append(out, port+"="+string(l))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// Edge is the capture host's part of a multi-host pipeline.
type Edge struct {
	// Listen is the address the links of RemoteLinks are bound on, each on
	// its default port: "0.0.0.0" for every interface, or one address.
	Listen string
	// Key is the edge's CURVE secret key file, Peers the processing hosts'
	// public keys (a file, or a directory of *.pub): only they may connect.
	Key, Peers string
	// Insecure binds without CURVE: anyone who can reach Listen may take
	// frames and report. Key and Peers must then be empty.
	Insecure bool
	// LocalExtractors: the edge runs Config.Replicas extractors itself;
	// otherwise only the stages that bind the links.
	LocalExtractors bool
}

// EdgeConfig turns c into the capture host's supervisor: its status
// channel and the links of RemoteLinks bound on e.Listen as well (CURVE
// servers accepting e.Peers), the stages that bind them given the keys.
func EdgeConfig(c Config, e Edge) (Config, error) {
	switch {
	case e.Listen == "":
		return c, errors.New("edge: no listen address")
	case e.Insecure && (e.Key != "" || e.Peers != ""):
		return c, errors.New("edge: --insecure and --key/--peers exclude each other")
	case !e.Insecure && (e.Key == "" || e.Peers == ""):
		return c, errors.New("edge: needs --key (the edge's secret key) and --peers (the processing hosts' public keys), from 'imaging-tui keys NAME'; or --insecure on a network you trust")
	}
	var keyArgs []string
	if e.Insecure {
		keyArgs = []string{"--insecure"}
	} else {
		key, err1 := filepath.Abs(e.Key) // the stages may run elsewhere than here
		peers, err2 := filepath.Abs(e.Peers)
		if err := errors.Join(err1, err2); err != nil {
			return c, fmt.Errorf("edge: %w", err)
		}
		keyArgs = []string{"--key", key, "--peers", peers}
	}
	c.Key, c.Peers, c.Insecure = e.Key, e.Peers, e.Insecure
	c.Expose = map[stage.Link]string{}
	for _, l := range RemoteLinks() {
		if l == stage.LinkStatus {
			c.StatusBind = stage.Bind(LinkAddr(e.Listen, l))
			continue
		}
		c.Expose[l] = LinkAddr(e.Listen, l)
	}
	c.Kinds = nil
	for _, sp := range stage.Table {
		if sp.Replicated && !e.LocalExtractors {
			continue
		}
		c.Kinds = append(c.Kinds, sp.Kind)
		if bindsExposed(sp, c.Expose) {
			c.ExtraArgs = withArgs(c.ExtraArgs, sp.Kind, keyArgs...)
		}
	}
	return c, nil
}

// bindsExposed reports whether a supervised stage of sp's kind binds one
// of the exposed links.
func bindsExposed(sp stage.Spec, expose map[stage.Link]string) bool {
	return slices.ContainsFunc(sp.Ports, func(p stage.Port) bool {
		return expose[p.Link] != "" && stage.SupervisedBind(sp.Kind, p)
	})
}

// withArgs returns m with args appended to kind's extra arguments; m's
// other entries are kept, and m itself is not changed.
func withArgs(m map[stage.Kind][]string, kind stage.Kind, args ...string) map[stage.Kind][]string {
	out := make(map[stage.Kind][]string, len(m)+1)
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	out[kind] = append(out[kind], args...)
	return out
}

// Join is a processing host's part of a multi-host pipeline.
type Join struct {
	Edge string // the capture host: a name or an address
	Host string // this host's name, shown by the edge beside its stages
	// Key is this host's CURVE secret key file (its public key must be in
	// the edge's --peers), EdgeKey the edge's public key file. Both empty
	// with Insecure.
	Key, EdgeKey string
	Insecure     bool
}

// JoinConfig turns c into a processing host's supervisor: only the
// replicated kinds (the extractor), connected to j.Edge's links with CURVE,
// reporting both to this supervisor and to the edge, named KIND-i@HOST.
func JoinConfig(c Config, j Join) (Config, error) {
	switch {
	case j.Edge == "":
		return c, errors.New("join: no edge host")
	case j.Host == "":
		return c, errors.New("join: no host name")
	case !j.Insecure && (j.Key == "" || j.EdgeKey == ""):
		return c, errors.New("join: needs --key (this host's secret key, its .pub listed in the edge's --peers) and --edge-key (the edge's public key)")
	}
	c.Host = j.Host
	c.Kinds = nil
	c.Remote = map[stage.Link]string{}
	for _, l := range RemoteLinks() {
		c.Remote[l] = LinkAddr(j.Edge, l)
	}
	for _, sp := range stage.Table {
		if !sp.Replicated {
			continue
		}
		c.Kinds = append(c.Kinds, sp.Kind)
		if !j.Insecure {
			key, err1 := filepath.Abs(j.Key)
			edgeKey, err2 := filepath.Abs(j.EdgeKey)
			if err := errors.Join(err1, err2); err != nil {
				return c, fmt.Errorf("join: %w", err)
			}
			c.ExtraArgs = withArgs(c.ExtraArgs, sp.Kind, "--key", key, "--server-key", edgeKey)
		}
	}
	return c, nil
}

// hostOf is the host instance in runs on, for StageSnapshot.Host: what its
// status says, or this host for a local stage that has not reported yet.
func hostOf(in *instance) string {
	if in.status != nil && in.status.Host != "" {
		return in.status.Host
	}
	if in.remote {
		return ""
	}
	h, _ := os.Hostname()
	return h
}
