// Package metrics serves the pipeline's state to Prometheus, through the
// official Go client library. Every value is computed at scrape time from a
// supervisor Snapshot (a func() supervisor.Snapshot, normally
// (*supervisor.Supervisor).Snapshot): the package keeps no copy of the
// pipeline's state beyond what it needs to keep counters monotonic.
//
// # Metrics
//
// Per stage instance, with the labels stage (the kind: generator, extractor
// or logger) and instance (e.g. extractor-0); remote stages (reporting from
// elsewhere, observed only) included:
//
//	imaging_frames_total          counter  frames sent on: published, extracted, stored
//	imaging_frames_in_total       counter  frames received
//	imaging_errors_total          counter  messages or frames that failed (bad input, a failed store, ...)
//	imaging_dropped_total         counter  frames dropped by the stage (generator, extractor)
//	imaging_missing_frames        gauge    logger only: sequence numbers missing in the database
//	imaging_restarts_total        counter  restarts by the supervisor
//	imaging_fps                   gauge    frames per second, 0 unless running (or remote)
//	imaging_queue_depth           gauge    the stage's queue (generator: frames unacknowledged), 0 unless running
//	imaging_stage_up              gauge    1 running or remote, 0 otherwise
//	imaging_stage_state           gauge    one-hot over the label state: starting, running, stale, backoff, stopped, failed, remote
//	imaging_stage_reported_state  gauge    one-hot over the state a live stage reports: running, stopping, blocked, unacked
//
// For the pipeline:
//
//	imaging_db_readable           gauge    1 when the supervisor could read the database's counts
//	imaging_db_images             gauge    rows (only while imaging_db_readable is 1)
//	imaging_db_keypoints          gauge
//	imaging_db_descriptors        gauge
//	imaging_db_file_bytes         gauge    database plus WAL file size
//	imaging_db_free_bytes         gauge    free space on the database's file system
//	imaging_status_errors_total   counter  status messages that were not valid JSON
//
// plus the client library's go_* and process_* metrics of the supervisor.
// The supervisor forgets a remote stage 30 s after its last status; until
// then it is exposed as up, with its last values.
//
// # Counters across restarts
//
// A stage's frames, frames-in and errors counts live in its process and
// start at 0 again when the supervisor restarts it. The collector folds each
// snapshot it sees into a per-instance sum: when an instance's pid changes
// (or a count goes down), the last value of the old process is added to a
// base. So the *_total series only grow while the supervisor runs. It sees a
// snapshot at every scrape and, while Serve runs, every SampleEvery too; what
// a process counted after the last sample before it died is not included
// (the supervisor keeps a dead process's last status until its restart, so
// that is rarely anything). Dropped frames come from the supervisor's own
// per-instance sum (StageSnapshot.TotalDropped), which sees every status.
// The logger's "dropped" is different: it is the number of sequence numbers
// missing in the database, which falls when a late frame fills a gap and is
// recounted from the database when the logger starts, so it is exposed as
// the gauge imaging_missing_frames, not as a counter.
//
// # Labels and Prometheus' own instance label
//
// Prometheus attaches its own instance label (the scraped host:port) to
// every series. With the default honor_labels: false it renames ours to
// exported_instance; set honor_labels: true in the scrape job to keep
// instance="extractor-0" as exposed.
//
// # Exposure
//
// Serve listens where it is told. The command line defaults to no metrics
// at all, and the README's example is loopback (127.0.0.1:9464); binding
// beyond loopback publishes stage names, counters, states and database
// sizes to whoever can reach the port, without authentication or TLS. IsLoopback
// lets the caller warn about it.
package metrics
