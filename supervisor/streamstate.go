package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// Under reliable delivery each generator keeps its stream, and the frames
// it has in flight, in a state file (its --state). The file lives next to
// the database, not in the run folder: a supervisor that dies (SIGKILL, a
// crash, a power cut) takes its generator with it, and the next run on the
// same --db finds the frames that were unacknowledged, continues that
// stream and sends them again. Nothing published is abandoned.
//
// Two pipelines on one database must not both continue one stream (each
// would send the same seqs, with different frames behind some). The first
// to run takes a lock next to the database and owns the state files there
// for as long as it runs. A second one, while that lock is held, keeps its
// state in its run folder and starts a fresh stream: it still runs (two
// pipelines may share a database) and loses nothing while it runs, but
// what it leaves in flight is resumed by no later run; an event says so.
// The lock is flock(2): the kernel drops it with the process, however it
// ends, so a stale lock never blocks the next run.

// stateLockSuffix names the lock file: DB + suffix.
const stateLockSuffix = ".state.lock"

// ResumedStream is a stream a previous run left with frames unacknowledged,
// continued by this run.
type ResumedStream struct {
	Generator string `json:"generator"`
	StreamID  uint64 `json:"stream_id,string"`
	Frames    int    `json:"frames"` // frames in flight the state file held
	State     string `json:"state"`  // the state file
}

func (r ResumedStream) String() string {
	return fmt.Sprintf("resumed %d frames of stream %d (%s)", r.Frames, r.StreamID, r.Generator)
}

// statePath is where generator instance name keeps its state.
func (s *Supervisor) statePath(name string) string {
	if s.stateDir == "" {
		return filepath.Join(s.cfg.RunDir, name+".state")
	}
	return filepath.Join(s.stateDir, filepath.Base(s.cfg.DB)+"."+name+".state")
}

// claimStreamState decides, before any stage starts, where the generators
// keep their state (see above), and looks at what a previous run left: a
// state file with frames in flight is kept, and its stream resumed (an
// event says so); one with none is removed, so the run starts a fresh
// stream.
func (s *Supervisor) claimStreamState() {
	if s.cfg.Delivery != stage.Reliable {
		return
	}
	lockPath := s.cfg.DB + stateLockSuffix
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err == nil {
		if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		why := err.Error()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			why = "another pipeline on this database holds it"
		}
		s.eventLocked(nil, stage.EventResume, "stream state kept in the run folder, not next to the database (%s: %s): "+
			"this run starts a fresh stream, and frames it leaves in flight are not resumed by a later run", lockPath, why)
		return
	}
	s.stateLock = f
	s.stateDir = filepath.Dir(s.cfg.DB)
	for _, in := range s.insts {
		if in.kind == stage.Generator {
			s.inspectStateLocked(in)
		}
	}
}

// inspectStateLocked looks at generator in's state file left by an earlier
// run.
func (s *Supervisor) inspectStateLocked(in *instance) {
	path := s.statePath(in.name)
	st, err := stage.ReadStreamState(path)
	if st == nil && err == nil {
		return
	}
	switch {
	case err != nil:
		// The generator refuses a state file it cannot read: moved aside,
		// it starts a fresh stream, and the file stays for a person to see.
		bad := path + ".unreadable"
		_ = os.Rename(path, bad)
		s.eventLocked(in, stage.EventResume, "state file unreadable (%v): moved to %s; starting a fresh stream", err, bad)
	case len(st.Window) == 0:
		_ = os.Remove(path) // all acknowledged: a fresh stream for a new run
	default:
		r := ResumedStream{Generator: in.name, StreamID: st.StreamID, Frames: len(st.Window), State: path}
		s.resumed = append(s.resumed, r)
		s.eventLocked(in, stage.EventResume, "resuming %d frames of stream %d left unacknowledged by an earlier run (%s)",
			r.Frames, r.StreamID, path)
	}
}

// releaseStreamState drops the lock at the end of Run.
func (s *Supervisor) releaseStreamState() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stateLock != nil {
		s.stateLock.Close() // closing drops the flock
		s.stateLock = nil
	}
}

// Resumed returns the streams this run continued with frames a previous
// run left in flight.
func (s *Supervisor) Resumed() []ResumedStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ResumedStream(nil), s.resumed...)
}

// resumedText is the summary's wording of rs.
func resumedText(rs []ResumedStream) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}
