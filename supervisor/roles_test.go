package supervisor

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// TestEdgeAndJoinWiring: an edge binds every link a replicated stage uses on
// its listen address as well as in its run folder, with its keys given to
// the stages that bind them; a processing host runs only the replicated
// kind, named KIND-i@HOST, connected to exactly those addresses, reporting
// to its own supervisor and to the edge. Between them, each link the
// processing host connects to is one the edge binds.
func TestEdgeAndJoinWiring(t *testing.T) {
	edgeCfg, err := EdgeConfig(fakeConfig(shortTempDir(t)), Edge{Listen: "10.199.0.1", Key: "edge.key", Peers: "hosts"})
	if err != nil {
		t.Fatal(err)
	}
	edge, err := New(edgeCfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(edge.closeAll)
	if edge.cfg.StatusBind != stage.Bind(ipcAddr(edge.cfg.RunDir, statusFile))+",@tcp://10.199.0.1:5557" {
		t.Errorf("edge status bind %q; want its run folder's and tcp://10.199.0.1:5557", edge.cfg.StatusBind)
	}
	if slices.ContainsFunc(edge.insts, func(in *instance) bool { return replicated(in.kind) }) {
		t.Errorf("edge without LocalExtractors runs %v", instNames(edge.insts))
	}
	bound := map[string]bool{} // tcp addresses the edge's stages bind
	for _, in := range edge.insts {
		args, _ := edge.commandLocked(in)
		keyed := slices.Contains(args, "--key") && slices.Contains(args, "--peers")
		binds := false
		for _, ep := range strings.Split(strings.Join(args, ","), ",") {
			if addr, ok := strings.CutPrefix(ep, "@tcp://"); ok {
				bound["tcp://"+addr], binds = true, true
			}
		}
		if binds != keyed {
			t.Errorf("%s: binds tcp %v, has --key and --peers %v: %q", in.name, binds, keyed, args)
		}
	}

	joinCfg, err := JoinConfig(fakeConfig(shortTempDir(t)), Join{Edge: "10.199.0.1", Host: "proc1", Key: "p.key", EdgeKey: "edge.pub"})
	if err != nil {
		t.Fatal(err)
	}
	joinCfg.Replicas = 2
	join, err := New(joinCfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(join.closeAll)
	if got := instNames(join.insts); !slices.Equal(got, []string{"extractor-0@proc1", "extractor-1@proc1"}) {
		t.Fatalf("processing host runs %q; want extractor-0@proc1, extractor-1@proc1", got)
	}
	host, _ := os.Hostname()
	for _, st := range join.Snapshot().Stages {
		if st.Host != host {
			t.Errorf("%s: snapshot host %q before any status; want this host's, %q", st.Name, st.Host, host)
		}
	}
	join.statusConn = ">ipc://" + join.cfg.RunDir + "/status.sock" // as Run sets it
	for _, in := range join.insts {
		args, _ := join.commandLocked(in)
		if v, _ := flagValue(args, "status"); v != join.statusConn+",>tcp://10.199.0.1:5557" {
			t.Errorf("%s: --status %q; want its supervisor's and the edge's", in.name, v)
		}
		if !slices.Contains(args, "--server-key") || !slices.Contains(args, "--key") {
			t.Errorf("%s: no CURVE client keys in %q", in.name, args)
		}
		sp, _ := stage.Lookup(in.kind)
		for _, p := range sp.Ports {
			v, _ := flagValue(args, p.Flag)
			for _, ep := range strings.Split(v, ",") {
				addr, ok := strings.CutPrefix(ep, ">tcp://")
				if ok && !bound["tcp://"+addr] {
					t.Errorf("%s --%s connects to tcp://%s, which the edge does not bind (it binds %v)", in.name, p.Flag, addr, bound)
				}
				if !ok && !strings.Contains(ep, "inj-") {
					t.Errorf("%s --%s: %q is not the edge's", in.name, p.Flag, ep)
				}
			}
		}
	}
}

// TestRoleConfigErrors: an edge or a processing host without keys, or with
// both keys and --insecure, is refused with what to do.
func TestRoleConfigErrors(t *testing.T) {
	c := DefaultConfig()
	for _, e := range []Edge{{Listen: "0.0.0.0"}, {Listen: "0.0.0.0", Key: "k"}, {Listen: "0.0.0.0", Key: "k", Peers: "p", Insecure: true}, {Key: "k", Peers: "p"}} {
		if _, err := EdgeConfig(c, e); err == nil {
			t.Errorf("EdgeConfig(%+v) accepted", e)
		}
	}
	for _, j := range []Join{{Edge: "e", Host: "h"}, {Edge: "e", Host: "h", Key: "k"}, {Host: "h", Insecure: true}} {
		if _, err := JoinConfig(c, j); err == nil {
			t.Errorf("JoinConfig(%+v) accepted", j)
		}
	}
	if _, err := EdgeConfig(c, Edge{Listen: "0.0.0.0", Insecure: true}); err != nil {
		t.Errorf("insecure edge: %v", err)
	}
}

func instNames(insts []*instance) []string {
	var out []string
	for _, in := range insts {
		out = append(out, in.name)
	}
	return out
}
