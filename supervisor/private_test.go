package supervisor

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestPrivateByDefault: two supervisors on one host, both with the default
// status endpoint, run side by side; each binds the status channel in its
// own run folder, which only its user may enter, and sees its own three
// stages and nothing of the other's.
func TestPrivateByDefault(t *testing.T) {
	var runs []*running
	for range 2 {
		runs = append(runs, startFake(t, func(c *Config) { c.StatusBind = "" }))
	}
	pids := map[int]string{}
	for i, r := range runs {
		conn := r.statusEndpoint(t)
		dir := r.sup.RunDir()
		if want := ">ipc://" + filepath.Join(dir, statusFile); conn != want {
			t.Errorf("supervisor %d: status endpoint %q; want %q", i, conn, want)
		}
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("supervisor %d: run folder %s has mode %v; want no access for others", i, dir, perm)
		}
		for _, st := range r.waitAllRunning(t, 15*time.Second).Stages {
			if other, ok := pids[st.PID]; ok {
				t.Errorf("pid %d is %s of both supervisors", st.PID, other)
			}
			pids[st.PID] = st.Name
		}
	}
	time.Sleep(time.Second) // reports of the other run, if any could reach it, would have arrived
	for i, r := range runs {
		snap := r.sup.Snapshot()
		if got, want := names(snap), []string{"generator", "extractor-0", "logger"}; !slices.Equal(got, want) {
			t.Errorf("supervisor %d sees stages %v; want only its own %v", i, got, want)
		}
		for _, st := range snap.Stages {
			if st.State == StateRemote || st.Status == nil || st.Status.PID != st.PID {
				t.Errorf("supervisor %d: %s is %s with status from pid %v; want its own child %d reporting",
					i, st.Name, st.State, statusPID(st), st.PID)
			}
		}
	}
}

func statusPID(st StageSnapshot) any {
	if st.Status == nil {
		return nil
	}
	return st.Status.PID
}
