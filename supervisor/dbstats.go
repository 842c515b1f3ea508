package supervisor

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/imaging-tui/imaging-tui/db"
)

// dbLoop reads the database's row counts about once a second, read-only, so
// they stay visible while the logger is down. It keeps the handle open once
// the database exists and exits (closing it) when quit closes.
func (s *Supervisor) dbLoop(quit <-chan struct{}) {
	var h *db.DB
	defer func() {
		if h != nil {
			_ = h.Close()
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		st := s.readDB(&h)
		s.mu.Lock()
		s.dbStats = st
		s.mu.Unlock()
		select {
		case <-quit:
			return
		case <-tick.C:
		}
	}
}

func (s *Supervisor) readDB(h **db.DB) DBStats {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if *h == nil {
		if _, err := os.Stat(s.cfg.DB); errors.Is(err, fs.ErrNotExist) {
			return DBStats{Err: "no database yet"}
		}
		d, err := db.OpenReadOnly(ctx, s.cfg.DB)
		if err != nil {
			return DBStats{Err: err.Error()}
		}
		*h = d
	}
	c, err := (*h).Counts(ctx)
	if err != nil {
		return DBStats{Err: err.Error()}
	}
	return dbStatsFrom(c)
}

func dbStatsFrom(c db.Counts) DBStats {
	return DBStats{
		Images:      c.Images,
		Keypoints:   c.Keypoints,
		Descriptors: c.Descriptors,
		FileBytes:   c.FileBytes,
		FreeBytes:   c.DiskFree,
	}
}
