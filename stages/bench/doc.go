// Package bench is `imaging-tui bench`: in one run, on the same images, it
// measures how fast bare SIFT goes on this machine (the limit) and how fast
// the real pipeline goes (the three stage processes, reliable delivery, a
// real database), and prints the ratio pipeline ÷ limit with what explains
// it: latency from publish to commit, CPU seconds per frame and peak memory
// of every stage.
//
// The limit runs decode + SIFT in this process, one sift.Detector per worker
// goroutine, cycling over the images held in memory: no IPC, no database.
// The pipeline spawns `imaging-tui stage generator|extractor|logger` (the
// binary given to Main) over ipc:// endpoints in a temporary folder, with a
// database in the same folder, and binds a SUB for their status. The
// consumers start first and the generator only once they report, so that
// nothing is resent at start-up.
//
// Both phases get the same workers and OpenCV threads, the same warm-up and
// the same measurement window. A rate is the slope of a least-squares line
// through (completion time, completion count) of the frames completed in
// the window — decode+SIFT returns for the limit, database commits for the
// pipeline — so, unlike count ÷ window, it does not depend on where the
// window's edges fall between two completions (which matters when a frame
// takes seconds). CPU per frame is CPU time over the window ÷ (rate ×
// window), from /proc/PID/stat; peak RSS is VmHWM from /proc/PID/status.
//
// Shared or virtual machines change speed by tens of per cent within
// minutes. The bench therefore reports the CPU used by other processes
// during each phase, and CPURatio (limit CPU per frame ÷ the pipeline's),
// which such drift hardly moves; and --rounds N alternates the phases
// (L P P L …) and pools them, so that a steady drift cancels.
//
// Children run in their own process groups with Pdeathsig SIGKILL; each is
// started and waited for by one goroutine locked to its OS thread, and its
// group is killed after Wait, so none outlives the bench. The environment
// is passed on: GLIBC_TUNABLES set for the bench applies to both phases.
package bench
