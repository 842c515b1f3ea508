package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// flagValue returns the value after --name in args, and whether it is there.
func flagValue(args []string, name string) (string, bool) {
	i := slices.Index(args, "--"+name)
	if i < 0 || i+1 >= len(args) {
		return "", false
	}
	return args[i+1], true
}

// TestCommandsFollowTheTable: the command line of every instance has an
// endpoint flag for each port of its kind's Spec, each link endpoint is
// bound by exactly one instance and every connected one is bound, the inject endpoint
// sits on the input port only, replicas get --shard under best-effort (under
// reliable delivery they share the work pool instead, and only then is the
// work pool wired), and the kinds that keep memory get the malloc
// environment.
func TestCommandsFollowTheTable(t *testing.T) {
	for _, d := range []stage.Delivery{stage.Reliable, stage.BestEffort} {
		t.Run(string(d), func(t *testing.T) { checkCommands(t, d) })
	}
}

func checkCommands(t *testing.T, d stage.Delivery) {
	cfg := fakeConfig(shortTempDir(t))
	cfg.Replicas = 3
	cfg.Delivery = d
	cfg.ExtraArgs = map[stage.Kind][]string{stage.Logger: {"--return-memory"}}
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.closeAll)
	binds := map[string][]string{}    // link endpoint → the instances binding it
	connects := map[string][]string{} // link endpoint → the instances connecting to it
	for _, in := range s.insts {
		sp, _ := stage.Lookup(in.kind)
		args, env := s.commandLocked(in)
		if args[0] != "stage" || args[1] != string(in.kind) {
			t.Errorf("%s: command %q; want stage %s ...", in.name, args, in.kind)
		}
		input, _ := sp.Input()
		for _, p := range sp.Ports {
			v, ok := flagValue(args, p.Flag)
			if p.ReliableOnly && d != stage.Reliable {
				if ok {
					t.Errorf("%s: --%s %s under %s delivery", in.name, p.Flag, v, d)
				}
				continue
			}
			if !ok {
				t.Errorf("%s: no --%s in %q", in.name, p.Flag, args)
				continue
			}
			eps := strings.Split(v, ",")
			inject := stage.Connect("ipc://" + filepath.Join(cfg.RunDir, "inj-"+in.name))
			for _, ep := range eps {
				addr, bind := strings.CutPrefix(ep, stage.BindPrefix)
				if !bind {
					addr = strings.TrimPrefix(ep, stage.ConnectPrefix)
				}
				if ep == inject {
					continue
				}
				if !strings.HasPrefix(addr, "ipc://"+filepath.Join(cfg.RunDir, string(p.Link)+".")) {
					t.Errorf("%s --%s %s: %s is not an endpoint of link %s in the run folder", in.name, p.Flag, v, ep, p.Link)
				}
				if bind {
					binds[addr] = append(binds[addr], in.name)
				} else {
					connects[addr] = append(connects[addr], in.name)
				}
			}
			if onInput := p.Flag == input.Flag; onInput != slices.Contains(eps, inject) {
				t.Errorf("%s --%s %s: inject endpoint there %v; want %v", in.name, p.Flag, v, !onInput, onInput)
			}
		}
		shard, ok := flagValue(args, "shard")
		if want := strings.TrimPrefix(in.name, string(in.kind)+"-") + "/3"; sp.Replicated && d != stage.Reliable && shard != want {
			t.Errorf("%s: --shard %q; want %s", in.name, shard, want)
		} else if (!sp.Replicated || d == stage.Reliable) && ok {
			t.Errorf("%s: --shard %s on a kind that is not replicated", in.name, shard)
		}
		kept := slices.ContainsFunc(env, func(kv string) bool {
			return strings.HasPrefix(kv, "GLIBC_TUNABLES=") && strings.Contains(kv, stage.KeptMemoryTunables)
		})
		// The logger was given --return-memory; a user's own arena limit wins.
		want := sp.KeepsMemory && in.kind != stage.Logger && !strings.Contains(os.Getenv("GLIBC_TUNABLES"), "arena_max")
		if kept != want {
			t.Errorf("%s: kept-memory environment %v; want %v", in.name, kept, want)
		}
	}
	for addr, who := range binds {
		if len(who) != 1 {
			t.Errorf("%s bound by %v; want exactly one instance", addr, who)
		}
	}
	for addr, who := range connects {
		if len(binds[addr]) == 0 {
			t.Errorf("%v connect to %s, which nobody binds", who, addr)
		}
	}
	want := 3 // images, processed, acks
	if d == stage.Reliable {
		want++ // and the work pool
	}
	if len(binds) != want {
		t.Errorf("%d link endpoints bound (%v); want %d: images, processed, acks (and work, reliable)", len(binds), binds, want)
	}
	if got := len(s.insts); got != 5 {
		t.Errorf("%d instances with 3 replicas; want 5", got)
	}
}

// TestCommandCrashLoopEnv: the crashloop fault starts the stage with
// stage.CrashFaultEnv set.
func TestCommandCrashLoopEnv(t *testing.T) {
	s, err := New(fakeConfig(shortTempDir(t)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.closeAll)
	in := s.insts[0]
	if _, env := s.commandLocked(in); slices.Contains(env, stage.CrashFaultEnv+"=1") {
		t.Errorf("%s starts with %s=1 without the fault", in.name, stage.CrashFaultEnv)
	}
	in.faults[stage.FaultCrashLoop] = true
	if _, env := s.commandLocked(in); !slices.Contains(env, stage.CrashFaultEnv+"=1") {
		t.Errorf("%s under crashloop starts without %s=1", in.name, stage.CrashFaultEnv)
	}
}

func TestNewNeedsTransport(t *testing.T) {
	cfg := fakeConfig(shortTempDir(t))
	cfg.Transport = nil
	if _, err := New(cfg, nil); !errors.Is(err, ErrNoTransport) {
		t.Errorf("New without a Transport = %v; want ErrNoTransport", err)
	}
}

// TestBusTransport runs bus.NewTransport, the supervisor's ZeroMQ
// transport, against real sockets: a status message sent to the bound
// channel arrives, silence times out as os.ErrDeadlineExceeded, and a
// publisher's Write reaches a subscriber.
func TestBusTransport(t *testing.T) {
	var tr Transport = bus.NewTransport()
	dir := shortTempDir(t)
	bound, err := tr.BindStatus(stage.Bind("tcp://127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if len(bound) != 1 || !strings.HasPrefix(bound[0], "tcp://127.0.0.1:") || strings.HasSuffix(bound[0], ":0") {
		t.Fatalf("BindStatus bound %q; want the port chosen", bound)
	}
	if _, err := tr.RecvStatus(20 * time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("RecvStatus with nothing sent = %v; want os.ErrDeadlineExceeded", err)
	}

	zctx, err := bus.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Close()
	stagePub, err := zctx.Pub(connectForm(bound), bus.Options{Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer stagePub.Close()
	waitUntil(t, 5*time.Second, "a status message through the transport", func() bool {
		_ = stagePub.Send([]byte(`{"stage":"generator"}`)) // until connected: PUB drops before that
		msg, err := tr.RecvStatus(20 * time.Millisecond)
		return err == nil && string(msg) == `{"stage":"generator"}`
	})

	inj := "ipc://" + filepath.Join(dir, "inj-x")
	w, err := tr.OpenPublisher(stage.Bind(inj))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := zctx.Sub(stage.Connect(inj), bus.Options{Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	waitUntil(t, 5*time.Second, "an injected message through the publisher", func() bool {
		if n, err := w.Write([]byte("bad")); err != nil || n != 3 {
			t.Fatalf("Write = %d, %v; want 3, nil", n, err)
		}
		msg, err := sub.Recv(20 * time.Millisecond)
		return err == nil && string(msg) == "bad"
	})
	if err := w.Close(); err != nil {
		t.Errorf("publisher Close = %v", err)
	}
}
