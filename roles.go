package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
)

// roleFlags are the supervisor's multi-host flags: --role edge makes it the
// capture host of a pipeline whose extractors run on other hosts
// (imaging-tui join).
type roleFlags struct {
	role   string
	listen string
}

func (r *roleFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.role, "role", "", "`ROLE` \"edge\": the capture host of several (generator, logger, console); processing hosts run 'imaging-tui join' (docs/DEPLOY.md)")
	fs.StringVar(&r.listen, "listen", "0.0.0.0", "edge: `ADDRESS` to bind the links processing hosts connect to ("+
		supervisor.LinkPorts(supervisor.RemoteLinks())+"); CURVE with --key, only --peers may connect")
}

// apply turns cfg into the role's configuration and prints what the
// processing hosts must run; cfg is unchanged without --role.
func (r *roleFlags) apply(fs *flag.FlagSet, cfg supervisor.Config, out io.Writer) (supervisor.Config, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case r.role == "" && set["listen"]:
		return cfg, errUsage(out, "--listen needs --role edge")
	case r.role == "":
		return cfg, nil
	case r.role != "edge":
		return cfg, errUsage(out, fmt.Sprintf("unknown --role %q (want edge; a processing host runs 'imaging-tui join EDGE')", r.role))
	case set["status-bind"]:
		return cfg, errUsage(out, "--role edge binds the status channel on --listen; drop --status-bind")
	}
	e := supervisor.Edge{Listen: r.listen, Key: cfg.Key, Peers: cfg.Peers, Insecure: cfg.Insecure,
		LocalExtractors: !(set["replicas"] && cfg.Replicas == 0)}
	if e.LocalExtractors && cfg.Workers == 0 {
		// A core is left to the generator, the logger and the console.
		cfg.Workers = max(1, runtime.NumCPU()-1)
	}
	cfg, err := supervisor.EdgeConfig(cfg, e)
	if err != nil {
		return cfg, err
	}
	text, err := joinCommand(cfg, r.listen)
	if err != nil {
		return cfg, err
	}
	fmt.Fprint(out, text)
	// The console covers the terminal: its event log keeps the command.
	cfg.Notes = append(cfg.Notes, strings.Split(strings.TrimSpace(text), "\n")...)
	return cfg, nil
}

// errUsage prints msg as a usage error and returns stage.ErrUsage.
func errUsage(w io.Writer, msg string) error {
	fmt.Fprintf(w, "imaging-tui: %s\n", msg)
	return stage.ErrUsage
}

// joinCommand is what the edge prints for the processing hosts: the command
// line each runs, with the edge's public key inline, for each address it
// may be reached at.
func joinCommand(cfg supervisor.Config, listen string) (string, error) {
	edgeKey := "--insecure"
	if !cfg.Insecure {
		kp, err := bus.ReadKeypair(cfg.Key)
		if err != nil {
			return "", err
		}
		edgeKey = "--edge-key '" + kp.Public + "' --key HOST.key"
	}
	if cfg.Delivery != stage.Reliable {
		edgeKey += " --delivery " + string(cfg.Delivery)
	}
	addrs := []string{listen}
	if ip := net.ParseIP(listen); ip != nil && ip.IsUnspecified() {
		addrs = hostAddrs()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "imaging-tui: edge listening on %s, ports %s\n", listen, supervisor.LinkPorts(supervisor.RemoteLinks()))
	fmt.Fprintf(&b, "imaging-tui: on each processing host (HOST.key from 'imaging-tui keys HOST', HOST.pub in %s), run:\n", peersNote(cfg))
	for _, a := range addrs {
		fmt.Fprintf(&b, "  imaging-tui join %s %s\n", a, edgeKey)
	}
	return b.String(), nil
}

func peersNote(cfg supervisor.Config) string {
	if cfg.Peers == "" {
		return "nowhere: --insecure"
	}
	return "--peers " + cfg.Peers
}

// hostAddrs lists this host's addresses other hosts may reach it at: the
// up, non-loopback interfaces' IPv4 unicast addresses (0.0.0.0 binds IPv4
// only).
func hostAddrs() []string {
	var out []string
	ifs, _ := net.Interfaces()
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				out = append(out, ipn.IP.String())
			}
		}
	}
	if len(out) == 0 {
		return []string{"EDGE-ADDRESS"}
	}
	return out
}
