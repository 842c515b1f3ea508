// Package bench is `imaging-tui bench`: in one run, on the same images, it
// measures how fast bare SIFT goes on this machine (the limit) and how fast
// the real pipeline goes (the three stage processes, reliable delivery, a
// real database), and prints the ratio pipeline ÷ limit with what explains
// it: latency from publish to commit, CPU seconds per frame and peak memory
// of every stage.
//
// The limit runs decode + SIFT with one sift.Detector per worker goroutine,
// cycling over the images held in memory: no IPC, no database; in this
// process when the phases run one after the other, in a process of its own
// (`imaging-tui bench limit-child`) when they take turns. The pipeline is
// the real supervisor (supervisor.New and Run) running `imaging-tui stage
// generator|extractor|logger` (the binary given to Main) over ipc://
// endpoints in a temporary folder, with a database and the stage logs in
// the same folder; the bench reads the stages' processes and statuses from
// its snapshots. The consumers start first, and the generator is held
// (SIGSTOP) until they have settled, so that nothing is resent at start-up.
//
// Both phases get the same workers and OpenCV threads, the same warm-up and
// the same measurement window. A rate is the slope of a least-squares line
// through (completion time, completion count) of the frames completed in
// the window — decode+SIFT returns for the limit, database commits for the
// pipeline — so, unlike count ÷ window, it does not depend on where the
// window's edges fall between two completions (which matters when a frame
// takes seconds). CPU per frame is CPU time over the window ÷ (rate ×
// window), and peak RSS is VmHWM, both from supervisor.ReadProcStat.
//
// Shared or virtual machines change speed by tens of per cent within
// minutes. The bench therefore reports the CPU used by other processes
// during each phase, and CPURatio (limit CPU per frame ÷ the pipeline's),
// which such drift hardly moves; and --rounds N alternates the phases
// (L P P L …) and pools them, so that a steady drift cancels.
//
// The supervisor runs the stages in their own process groups with Pdeathsig
// SIGKILL and stops them the way it always does (the generator first,
// draining); a stage that exits during the run fails it, although the
// supervisor would restart it. The limit's process is the bench's own child,
// started the same way: one goroutine locked to its OS thread starts and
// waits for it, and its group is killed after Wait, so none outlives the
// bench. The environment is passed on: GLIBC_TUNABLES set for the bench
// applies to both phases.
package bench
