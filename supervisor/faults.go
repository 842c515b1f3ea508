package supervisor

import (
	"encoding/binary"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/wire"
)

// Fault timing.
const (
	injectEvery = 100 * time.Millisecond // corrupt/truncate: one bad message this often
	slowPeriod  = 100 * time.Millisecond // slow: duty cycle period
	slowRunning = 20 * time.Millisecond  // slow: running part of each period
)

// procFaults are tied to one process: they end when it exits.
var procFaults = []Fault{FaultPause, FaultSlow, FaultSilent, FaultDBFull}

// Inject toggles fault f on stage name: on when inactive, off when active.
// FaultKill is one-shot (the same as Kill). Every change is logged as an
// event. See the Fault constants for what each does.
func (s *Supervisor) Inject(name string, f Fault) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.controlLocked("inject "+string(f), name)
	if err != nil {
		return err
	}
	if f == FaultKill {
		return s.killLocked(in)
	}
	return s.setFaultLocked(in, f, !in.faults[f])
}

// Clear turns fault f off on stage name if it is active; clearing an
// inactive fault is not an error.
func (s *Supervisor) Clear(name string, f Fault) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.controlLocked("clear "+string(f), name)
	if err != nil {
		return err
	}
	if f == FaultKill || !in.faults[f] {
		if !validFault(f) {
			return &StageError{name, "clear " + string(f), ErrUnknownFault}
		}
		return nil
	}
	return s.setFaultLocked(in, f, false)
}

func validFault(f Fault) bool {
	for _, x := range AllFaults {
		if x == f {
			return true
		}
	}
	return false
}

// setFaultLocked turns f on or off on in.
func (s *Supervisor) setFaultLocked(in *instance, f Fault, on bool) error {
	op := "inject " + string(f)
	if !on {
		op = "clear " + string(f)
	}
	needPID := func() error {
		if in.pid == 0 || in.stopping {
			return &StageError{in.name, op, ErrNotAlive}
		}
		return nil
	}
	switch f {
	case FaultPause:
		if on {
			if err := needPID(); err != nil {
				return err
			}
			signalGroup(in.pid, syscall.SIGSTOP)
		} else if !in.faults[FaultSlow] {
			signalGroup(in.pid, syscall.SIGCONT)
		}
	case FaultSlow:
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
			if !in.faults[FaultPause] {
				signalGroup(in.pid, syscall.SIGCONT)
			}
		}
	case FaultSilent, FaultDBFull:
		if f == FaultDBFull && in.kind != KindLogger {
			return &StageError{in.name, op, ErrWrongKind}
		}
		if err := needPID(); err != nil {
			if on {
				return err
			}
			break // the process is gone, and its toggle with it
		}
		sig := syscall.SIGUSR1
		if f == FaultDBFull {
			sig = syscall.SIGUSR2
		}
		_ = syscall.Kill(in.pid, sig)
	case FaultCrashLoop:
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
	case FaultCorrupt, FaultTruncate:
		// injectLoop reads the flag.
	default:
		return &StageError{in.name, op, ErrUnknownFault}
	}
	in.faults[f] = on
	in.paused = in.faults[FaultPause] || in.faults[FaultSlow]
	if on {
		s.eventLocked(in, "fault", "%s on", f)
	} else {
		s.eventLocked(in, "fault", "%s off", f)
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
		case FaultSlow:
			if in.slowStop != nil {
				close(in.slowStop)
				in.slowStop = nil
			}
			signalGroup(in.pid, syscall.SIGCONT)
		case FaultPause:
			signalGroup(in.pid, syscall.SIGCONT)
		}
		in.faults[f] = false
		s.eventLocked(in, "fault", "%s off (%s)", f, why)
	}
	in.paused = false
	s.notifyLocked()
}

// clearAllFaultsLocked ends every fault of in (at shutdown or removal).
func (s *Supervisor) clearAllFaultsLocked(in *instance, why string) {
	s.clearProcFaultsLocked(in, why)
	for _, f := range []Fault{FaultCrashLoop, FaultCorrupt, FaultTruncate} {
		if in.faults[f] {
			in.faults[f] = false
			s.eventLocked(in, "fault", "%s off (%s)", f, why)
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
			if !in.faults[FaultPause] {
				signalGroup(pid, syscall.SIGCONT)
			}
			t.Reset(slowRunning)
		}
		running = !running
		s.mu.Unlock()
	}
}

// injectLoop owns the inject PUB sockets (ipc://RUN/inj-NAME), binding one
// while a stage has corrupt or truncate active and closing it after, and
// publishes one bad message of each active kind every injectEvery.
func (s *Supervisor) injectLoop(zctx *bus.Context, quit <-chan struct{}) {
	socks := map[string]*bus.Socket{}
	defer func() {
		for _, sk := range socks {
			_ = sk.Close()
		}
	}()
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	tick := time.NewTicker(injectEvery)
	defer tick.Stop()
	type target struct {
		name, kind        string
		corrupt, truncate bool
	}
	for {
		select {
		case <-quit:
			return
		case <-tick.C:
		}
		var targets []target
		s.mu.Lock()
		for _, in := range s.insts {
			if in.faults[FaultCorrupt] || in.faults[FaultTruncate] {
				targets = append(targets, target{in.name, in.kind, in.faults[FaultCorrupt], in.faults[FaultTruncate]})
			}
		}
		s.mu.Unlock()
		want := map[string]bool{}
		for _, t := range targets {
			want[t.name] = true
			sk := socks[t.name]
			if sk == nil {
				ep := "@ipc://" + filepath.Join(s.cfg.RunDir, "inj-"+t.name)
				var err error
				if sk, err = zctx.Pub(ep, bus.Options{HWM: 10, Linger: time.Millisecond}); err != nil {
					s.mu.Lock()
					s.eventLocked(nil, "fault", "inject socket for %s: %v", t.name, err)
					s.mu.Unlock()
					continue
				}
				socks[t.name] = sk
			}
			if t.corrupt {
				_ = sk.Send(garbage(rng, t.kind))
			}
			if t.truncate {
				_ = sk.Send(truncated(rng, t.kind))
			}
		}
		for name, sk := range socks {
			if !want[name] {
				_ = sk.Close()
				delete(socks, name)
			}
		}
	}
}

// garbage returns random bytes of random length that do not decode as a
// valid message for a stage of kind.
func garbage(rng *rand.Rand, kind string) []byte {
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
func truncated(rng *rand.Rand, kind string) []byte {
	for {
		full := validMessage(rng, kind)
		var b []byte
		if rng.IntN(2) == 0 || kind == KindGenerator {
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

func inputType(kind string) wire.Type {
	switch kind {
	case KindGenerator:
		return wire.TypeAck
	case KindLogger:
		return wire.TypeProcessed
	}
	return wire.TypeImage
}

// validMessage builds a small well-formed message of the kind a stage of kind
// reads (an ack for the generator), without the trailer.
func validMessage(rng *rand.Rand, kind string) []byte {
	if kind == KindGenerator {
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
func validFor(kind string, b []byte) bool {
	if kind == KindGenerator {
		_, err := wire.DecodeAck(b)
		return err == nil
	}
	_, err := wire.Decode(b)
	return err == nil
}
