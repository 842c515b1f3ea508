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
// database in the same folder, and binds a SUB for their status.
//
// Both phases get the same workers and OpenCV threads, the same warm-up and
// the same measurement window. A rate is the slope of a least-squares line
// through (completion time, completion count) of the frames completed in
// the window — decode+SIFT returns for the limit, database commits for the
// pipeline — so, unlike count ÷ window, it does not depend on where the
// window's edges fall between two completions (which matters when a frame
// takes seconds).
//
// Children run in their own process groups with Pdeathsig SIGKILL; each is
// started and waited for by one goroutine locked to its OS thread, and the
// group is killed after Wait, so none outlives the bench.
//
// Figures on a shared machine drift by tens of per cent within minutes:
// compare a limit and a pipeline from the same run, and run twice.
package bench
