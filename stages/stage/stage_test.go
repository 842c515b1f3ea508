package stage

import (
	"slices"
	"testing"
)

// TestTableLinks: every link between stages has one sender and at least one
// receiver; run by hand exactly one side binds it, and under the supervisor
// every connecting port has an address to connect to. Otherwise two sockets
// would fight over an address or nobody would listen.
func TestTableLinks(t *testing.T) {
	type sides struct{ binds, out, in int }
	links := map[Link]*sides{}
	addr := func(l Link, k Kind) string { return string(l) + "." + string(k) }
	for _, s := range Table {
		for _, p := range s.Ports {
			l := links[p.Link]
			if l == nil {
				l = &sides{}
				links[p.Link] = l
			}
			if p.Bind {
				l.binds++
			}
			if p.Out {
				l.out++
			} else {
				l.in++
			}
			if _, ok := DefaultEndpoint[p.Link]; !ok {
				t.Errorf("%s --%s: link %q has no default endpoint", s.Kind, p.Flag, p.Link)
			}
			if eps := SupervisedEndpoints(s.Kind, p, addr); eps == "" {
				t.Errorf("%s --%s: nothing to connect to under the supervisor", s.Kind, p.Flag)
			}
		}
	}
	for name, l := range links {
		if l.binds != 1 || l.out != 1 || l.in < 1 {
			t.Errorf("link %s: %d bind by hand, %d senders, %d receivers; want 1, 1, ≥1", name, l.binds, l.out, l.in)
		}
	}
}

// TestSupervisedEndpointsTwoReceivers: a second receiver of the replicated
// extractor's output binds an address of its own, and the extractor
// connects to both; neither takes the other's address.
func TestSupervisedEndpointsTwoReceivers(t *testing.T) {
	saved := Table
	t.Cleanup(func() { Table = saved })
	tap := Spec{Kind: "tap", Ports: []Port{{Flag: "sub", Link: LinkProcessed}}}
	Table = append(slices.Clone(saved), tap)
	addr := func(l Link, k Kind) string { return "ipc://" + string(l) + "." + string(k) }
	ex, _ := Lookup(Extractor)
	lg, _ := Lookup(Logger)
	for _, tt := range []struct {
		kind Kind
		port Port
		want string
	}{
		{Extractor, ex.Ports[1], ">ipc://processed.logger,>ipc://processed.tap"},
		{Logger, lg.Ports[0], "@ipc://processed.logger"},
		{"tap", tap.Ports[0], "@ipc://processed.tap"},
		{Extractor, ex.Ports[0], ">ipc://images.generator"},
		{Generator, saved[0].Ports[1], ">ipc://acks.logger"},
	} {
		if got := SupervisedEndpoints(tt.kind, tt.port, addr); got != tt.want {
			t.Errorf("SupervisedEndpoints(%s, --%s) = %q; want %q", tt.kind, tt.port.Flag, got, tt.want)
		}
	}
}

func TestSupervisedBind(t *testing.T) {
	for _, tt := range []struct {
		kind Kind
		flag string
		want bool
	}{
		{Generator, "pub", true},
		{Generator, "ack", false},
		{Extractor, "sub", false},
		{Extractor, "pub", false}, // replicas connect
		{Logger, "sub", true},     // so the logger binds
		{Logger, "ack", true},
	} {
		s, _ := Lookup(tt.kind)
		i := slices.IndexFunc(s.Ports, func(p Port) bool { return p.Flag == tt.flag })
		if i < 0 {
			t.Fatalf("%s has no --%s", tt.kind, tt.flag)
		}
		if got := SupervisedBind(tt.kind, s.Ports[i]); got != tt.want {
			t.Errorf("SupervisedBind(%s, --%s) = %v; want %v", tt.kind, tt.flag, got, tt.want)
		}
	}
}

func TestFlows(t *testing.T) {
	want := []Flow{{Generator, Extractor, LinkImages}, {Extractor, Logger, LinkProcessed}}
	if got := Flows(); !slices.Equal(got, want) {
		t.Errorf("Flows() = %v; want %v", got, want)
	}
}

func TestSpecs(t *testing.T) {
	if got, want := Kinds(), []Kind{Generator, Extractor, Logger}; !slices.Equal(got, want) {
		t.Errorf("Kinds() = %v; want %v", got, want)
	}
	for _, s := range Table {
		if in, ok := s.Input(); !ok || in.Out {
			t.Errorf("%s: no input port for injected messages", s.Kind)
		}
		for _, f := range s.Faults {
			if !slices.Contains(AllFaults, f) {
				t.Errorf("%s: fault %q is not in AllFaults", s.Kind, f)
			}
		}
	}
	if l, _ := Lookup(Logger); !l.Has(FaultDBFull) {
		t.Error("the logger lacks the dbfull fault")
	}
	if g, _ := Lookup(Generator); g.Has(FaultDBFull) {
		t.Error("the generator has the dbfull fault")
	}
	if _, ok := Lookup("painter"); ok {
		t.Error(`Lookup("painter") found a stage`)
	}
}

func TestParseDelivery(t *testing.T) {
	for in, want := range map[string]Delivery{"": Reliable, "reliable": Reliable, "best-effort": BestEffort} {
		if got, err := ParseDelivery(in); err != nil || got != want {
			t.Errorf("ParseDelivery(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseDelivery("sometimes"); err == nil {
		t.Error(`ParseDelivery("sometimes") succeeded`)
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"512", 512}, {"64KB", 64e3}, {"64kb", 64e3}, {"256MiB", 256 << 20}, {"2GB", 2e9},
		{"1.5GiB", 3 << 29}, {"8G", 8 << 30}, {" 10 B ", 10}, {"0", 0},
	} {
		if got, err := ParseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1", "ten", "5XB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
}

func TestWithKeptMemory(t *testing.T) {
	env, changed := WithKeptMemory([]string{"A=1", "GLIBC_TUNABLES=glibc.malloc.tcache_count=0"})
	if !changed || env[0] != "GLIBC_TUNABLES=glibc.malloc.tcache_count=0:"+KeptMemoryTunables || !slices.Contains(env, "A=1") {
		t.Errorf("WithKeptMemory added to a user's tunables: %q, %v", env, changed)
	}
	again, changed := WithKeptMemory(env)
	if changed || !slices.Equal(again, env) {
		t.Errorf("WithKeptMemory twice changed the environment: %q", again)
	}
}

// TestWorkPoolPorts: the work pool is a reliable-only link the generator
// binds and replicated extractors connect to; the extractor's port has no
// default, so an extractor run by hand subscribes unless told of a pool.
func TestWorkPoolPorts(t *testing.T) {
	g, _ := Lookup(Generator)
	x, _ := Lookup(Extractor)
	gi := slices.IndexFunc(g.Ports, func(p Port) bool { return p.Link == LinkWork })
	xi := slices.IndexFunc(x.Ports, func(p Port) bool { return p.Link == LinkWork })
	if gi < 0 || xi < 0 {
		t.Fatalf("work ports: generator %d, extractor %d; want both", gi, xi)
	}
	gp, xp := g.Ports[gi], x.Ports[xi]
	if !gp.ReliableOnly || !xp.ReliableOnly || !gp.Out || xp.Out {
		t.Errorf("work ports %+v, %+v; want reliable-only, generator → extractor", gp, xp)
	}
	if xp.Default() != "" || gp.Default() != "" {
		t.Errorf("--work defaults %q, %q; want none", gp.Default(), xp.Default())
	}
	if in, _ := x.Input(); in.Link != LinkImages {
		t.Errorf("extractor input %s; want the images link (where faults are injected)", in.Link)
	}
	addr := func(l Link, k Kind) string { return string(l) + "." + string(k) }
	if got := SupervisedEndpoints(Generator, gp, addr); got != "@work.generator" {
		t.Errorf("supervised generator --work %q; want @work.generator", got)
	}
	if got := SupervisedEndpoints(Extractor, xp, addr); got != ">work.generator" {
		t.Errorf("supervised extractor --work %q; want >work.generator", got)
	}
}
