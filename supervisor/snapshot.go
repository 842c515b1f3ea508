package supervisor

import (
	"slices"
	"strconv"
	"time"
)

// Snapshot returns a deep copy of the pipeline's state: local stages in
// start order, then remote ones.
func (s *Supervisor) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{
		At:           time.Now(),
		DB:           s.dbStats,
		Events:       slices.Clone(s.events),
		Delivery:     s.cfg.Delivery,
		StatusErrors: s.statusErrs,
		Replicas:     s.replicas,
		RunDir:       s.cfg.RunDir,
	}
	nx := 0
	for _, in := range s.insts {
		if in.kind == KindExtractor {
			nx++
		}
	}
	for _, in := range s.insts {
		st := in.snapshotLocked()
		if in.kind == KindExtractor {
			st.Shard = strconv.Itoa(in.index) + "/" + strconv.Itoa(nx)
		}
		snap.Stages = append(snap.Stages, st)
	}
	for _, in := range s.remotes {
		snap.Stages = append(snap.Stages, in.snapshotLocked())
	}
	for _, id := range s.streamOrder {
		ss := *s.streams[id]
		ss.Clean = ss.StopOK && ss.Unacked == 0
		snap.Streams = append(snap.Streams, ss)
	}
	return snap
}

func (in *instance) snapshotLocked() StageSnapshot {
	st := StageSnapshot{
		Name:         in.name,
		Kind:         in.kind,
		State:        in.state,
		PID:          in.pid,
		StartedAt:    in.startedAt,
		Restarts:     in.restarts,
		LastExit:     in.lastExit,
		BackoffUntil: in.backoffUntil,
		Paused:       in.paused,
		FPSHistory:   slices.Clone(in.fps),
		Kills:        in.kills,
		TotalDropped: in.dropBase + in.dropLast,
	}
	if in.state != StateBackoff {
		st.BackoffUntil = time.Time{}
	}
	for _, f := range AllFaults {
		if in.faults[f] {
			st.Faults = append(st.Faults, f)
		}
	}
	if in.status != nil {
		c := *in.status
		if c.Latency != nil {
			l := *c.Latency
			c.Latency = &l
		}
		if c.DB != nil {
			d := *c.DB
			c.DB = &d
		}
		st.Status = &c
	}
	return st
}

// Logs returns the last n captured output lines of stage name (all kept
// lines when n <= 0), oldest first, or nil for an unknown or remote stage.
func (s *Supervisor) Logs(name string, n int) []string {
	s.mu.Lock()
	in := s.lookupLocked(name)
	s.mu.Unlock()
	if in == nil || in.logs == nil {
		return nil
	}
	return in.logs.tail(n)
}
