package supervisor

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"slices"
	"syscall"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/wire"
)

// Fault timing.
const (
	injectEvery = 100 * time.Millisecond // corrupt/truncate: one bad message this often
	slowPeriod  = 100 * time.Millisecond // slow: duty cycle period
	slowRunning = 20 * time.Millisecond  // slow: running part of each period
)

// procFaults are tied to one process: they end when it exits.
var procFaults = []stage.Fault{stage.FaultPause, stage.FaultSlow, stage.FaultSilent, stage.FaultDBFull}

// Inject toggles fault f on stage name: on when inactive, off when active.
// FaultKill is one-shot (the same as Kill). Every change is logged as an
// event. See the stage.Fault constants for what each does; a fault the
// stage's Spec does not list is ErrWrongKind.
func (s *Supervisor) Inject(name string, f stage.Fault) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.controlLocked("inject "+string(f), name)
	if err != nil {
		return err
	}
	if f == stage.FaultKill {
		return s.killLocked(in)
	}
	return s.setFaultLocked(in, f, !in.faults[f])
}

// Clear turns fault f off on stage name if it is active; clearing an
// inactive fault is not an error.
func (s *Supervisor) Clear(name string, f stage.Fault) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.controlLocked("clear "+string(f), name)
	if err != nil {
		return err
	}
	if f == stage.FaultKill || !in.faults[f] {
		if !slices.Contains(stage.AllFaults, f) {
			return &StageError{name, "clear " + string(f), ErrUnknownFault}
		}
		return nil
	}
	return s.setFaultLocked(in, f, false)
}

// setFaultLocked turns f on or off on in.
func (s *Supervisor) setFaultLocked(in *instance, f stage.Fault, on bool) error {
	op := "inject " + string(f)
	if !on {
		op = "clear " + string(f)
	}
	if sp, ok := stage.Lookup(in.kind); ok && slices.Contains(stage.AllFaults, f) && !sp.Has(f) {
		return &StageError{in.name, op, ErrWrongKind}
	}
	needPID := func() error {
		if in.pid == 0 || in.stopping {
			return &StageError{in.name, op, ErrNotAlive}
		}
		return nil
	}
	switch f {
	case stage.FaultPause:
		if on {
			if err := needPID(); err != nil {
				return err
			}
			signalGroup(in.pid, syscall.SIGSTOP)
		} else if !in.faults[stage.FaultSlow] {
			signalGroup(in.pid, syscall.SIGCONT)
		}
	case stage.FaultSlow:
		if on {
			if err := needPID(); err != nil {
				return err
			}
			in.slowStop = make(chan struct{})
			s.wg.Add(1)
			go s.slowLoop(in, in.pid, in.slowStop)
		} else {
			if in.slowStop != nil {
				close(in.slowStop)
				in.slowStop = nil
			}
			if !in.faults[stage.FaultPause] {
				signalGroup(in.pid, syscall.SIGCONT)
			}
		}
	case stage.FaultSilent, stage.FaultDBFull:
		if err := needPID(); err != nil {
			if on {
				return err
			}
			break // the process is gone, and its toggle with it
		}
		sig := stage.SignalSilent
		if f == stage.FaultDBFull {
			sig = stage.SignalDBFull
		}
		_ = syscall.Kill(in.pid, sig)
	case stage.FaultCrashLoop:
		in.faults[f] = on
		if on {
			if in.pid != 0 {
				signalGroup(in.pid, syscall.SIGKILL) // the next start crashes
			}
		} else {
			in.consecutive, in.quick, in.failTimes = 0, 0, nil
			if in.failed {
				s.reviveLocked(in)
			}
		}
	case stage.FaultCorrupt, stage.FaultTruncate:
		// injectLoop reads the flag.
	default:
		return &StageError{in.name, op, ErrUnknownFault}
	}
	in.faults[f] = on
	was := in.paused
	in.paused = in.faults[stage.FaultPause] || in.faults[stage.FaultSlow]
	if in.paused && !was {
		in.hist.pausedAt = time.Now()
	}
	if on {
		s.eventLocked(in, stage.EventFault, "%s on", f)
	} else {
		s.eventLocked(in, stage.EventFault, "%s off", f)
	}
	s.notifyLocked()
	return nil
}

// clearProcFaultsLocked ends the faults bound to the current process (pause,
// slow, silent, dbfull) when it stops or exits.
func (s *Supervisor) clearProcFaultsLocked(in *instance, why string) {
	for _, f := range procFaults {
		if !in.faults[f] {
			continue
		}
		switch f {
		case stage.FaultSlow:
			if in.slowStop != nil {
				close(in.slowStop)
				in.slowStop = nil
			}
			signalGroup(in.pid, syscall.SIGCONT)
		case stage.FaultPause:
			signalGroup(in.pid, syscall.SIGCONT)
		}
		in.faults[f] = false
		s.eventLocked(in, stage.EventFault, "%s off (%s)", f, why)
	}
	in.paused = false
	s.notifyLocked()
}

// clearAllFaultsLocked ends every fault of in (at shutdown or removal).
func (s *Supervisor) clearAllFaultsLocked(in *instance, why string) {
	s.clearProcFaultsLocked(in, why)
	for _, f := range []stage.Fault{stage.FaultCrashLoop, stage.FaultCorrupt, stage.FaultTruncate} {
		if in.faults[f] {
			in.faults[f] = false
			s.eventLocked(in, stage.EventFault, "%s off (%s)", f, why)
		}
	}
}

// slowLoop is the slow fault's duty cycle for process pid: SIGCONT, run for
// slowRunning, SIGSTOP for the rest of slowPeriod. It is owned by the fault:
// it exits when stop closes (clear, stop, exit), leaving the process
// continued unless it is also paused.
func (s *Supervisor) slowLoop(in *instance, pid int, stop <-chan struct{}) {
	defer s.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	running := false
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		select {
		case <-stop: // cleared while we waited for the lock: the clearer sent SIGCONT
			s.mu.Unlock()
			return
		default:
		}
		if running {
			signalGroup(pid, syscall.SIGSTOP)
			t.Reset(slowPeriod - slowRunning)
		} else {
			if !in.faults[stage.FaultPause] {
				signalGroup(pid, syscall.SIGCONT)
			}
			t.Reset(slowRunning)
		}
		running = !running
		s.mu.Unlock()
	}
}

// injectLoop owns the inject publishers (ipc://RUN/inj-NAME), binding one
// while a stage has corrupt or truncate active and closing it after, and
// publishes one bad message of each active kind every injectEvery.
func (s *Supervisor) injectLoop(quit <-chan struct{}) {
	pubs := map[string]io.WriteCloser{}
	defer func() {
		for _, p := range pubs {
			_ = p.Close()
		}
	}()
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	tick := time.NewTicker(injectEvery)
	defer tick.Stop()
	for {
		select {
		case <-quit:
			return
		case <-tick.C:
		}
		want := map[string]bool{}
		for _, t := range s.injectTargets() {
			want[t.name] = true
			p := pubs[t.name]
			if p == nil {
				var err error
				if p, err = s.cfg.Transport.OpenPublisher(stage.Bind(s.injectAddr(t.name))); err != nil {
					s.mu.Lock()
					s.eventLocked(nil, stage.EventFault, "inject socket for %s: %v", t.name, err)
					s.mu.Unlock()
					continue
				}
				pubs[t.name] = p
			}
			if t.corrupt {
				_, _ = p.Write(garbage(rng, t.kind))
			}
			if t.truncate {
				_, _ = p.Write(truncated(rng, t.kind))
			}
		}
		for name, p := range pubs {
			if !want[name] {
				_ = p.Close()
				delete(pubs, name)
			}
		}
	}
}

// injectTarget is a stage with corrupt or truncate active.
type injectTarget struct {
	name              string
	kind              stage.Kind
	corrupt, truncate bool
}

// injectTargets lists the stages whose input the injector feeds now.
func (s *Supervisor) injectTargets() []injectTarget {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []injectTarget
	for _, in := range s.insts {
		if in.faults[stage.FaultCorrupt] || in.faults[stage.FaultTruncate] {
			out = append(out, injectTarget{in.name, in.kind, in.faults[stage.FaultCorrupt], in.faults[stage.FaultTruncate]})
		}
	}
	return out
}

// inputLink is the link a stage of kind reads first, where injected
// messages arrive.
func inputLink(kind stage.Kind) stage.Link {
	sp, _ := stage.Lookup(kind)
	p, _ := sp.Input()
	return p.Link
}

// garbage returns random bytes of random length that do not decode as a
// valid message for a stage of kind.
func garbage(rng *rand.Rand, kind stage.Kind) []byte {
	for {
		b := make([]byte, rng.IntN(2048))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if len(b) > 0 && rng.IntN(2) == 0 { // often a plausible type byte
			b[0] = byte(inputType(kind))
		}
		if !validFor(kind, b) {
			return b
		}
	}
}

// truncated returns a valid message for a stage of kind, cut short or with a
// length field that claims more bytes than the message holds. It never
// decodes: a prefix that happened to be a complete message would be stored.
func truncated(rng *rand.Rand, kind stage.Kind) []byte {
	for {
		full := validMessage(rng, kind)
		var b []byte
		if rng.IntN(2) == 0 || inputLink(kind) == stage.LinkAcks { // an ack has no length field to lie in
			b = full[:rng.IntN(len(full))]
		} else {
			b = lie(rng, full)
		}
		if !validFor(kind, b) {
			return b
		}
	}
}

// lie rewrites one length field of an encoded frame to exceed the message.
func lie(rng *rand.Rand, full []byte) []byte {
	b := append([]byte(nil), full...)
	const (
		offSize = 1 + 8 + 4*3 // data size
		offName = offSize + 4 // filename length
	)
	over := uint32(len(b)) + 1 + rng.Uint32N(1<<20)
	switch rng.IntN(3) {
	case 0:
		binary.BigEndian.PutUint32(b[offSize:], over)
	case 1:
		binary.BigEndian.PutUint32(b[offName:], over)
	default:
		binary.BigEndian.PutUint32(b[offSize:], ^uint32(0)) // gigantic
	}
	return b
}

// inputType is the type of the messages a stage of kind reads first.
func inputType(kind stage.Kind) wire.Type {
	switch inputLink(kind) {
	case stage.LinkAcks:
		return wire.TypeAck
	case stage.LinkProcessed:
		return wire.TypeProcessed
	}
	return wire.TypeImage
}

// validMessage builds a small well-formed message of the kind a stage of kind
// reads (an ack for the generator), without the trailer.
func validMessage(rng *rand.Rand, kind stage.Kind) []byte {
	if inputType(kind) == wire.TypeAck {
		a := wire.Ack{StreamID: rng.Uint64(), Seqs: []uint64{rng.Uint64N(100) + 1, rng.Uint64N(100) + 101}}
		b, _ := a.MarshalBinary()
		return b
	}
	f := wire.Frame{
		Type:      inputType(kind),
		Timestamp: uint64(time.Now().UnixNano()),
		Width:     8, Height: 8, Channels: 1,
		Filename: "injected.png",
		Data:     make([]byte, 64+rng.IntN(256)),
	}
	if f.Type == wire.TypeProcessed {
		f.Keypoints = []wire.Keypoint{{X: 1, Y: 2, Size: 3}}
		f.Descriptors = make([]float32, wire.DescriptorSize)
	}
	b, _ := f.MarshalBinary()
	return b
}

// validFor reports whether b would be accepted by a stage of kind.
func validFor(kind stage.Kind, b []byte) bool {
	if inputType(kind) == wire.TypeAck {
		_, err := wire.DecodeAck(b)
		return err == nil
	}
	_, err := wire.Decode(b)
	return err == nil
}
