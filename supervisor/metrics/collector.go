package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imaging-tui/imaging-tui/stages/stage"
	"github.com/imaging-tui/imaging-tui/supervisor"
	"github.com/imaging-tui/imaging-tui/wire"
)

var stageLabels = []string{"stage", "instance"}

func stageDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, stageLabels, nil)
}

var (
	descFrames = stageDesc("imaging_frames_total",
		"Frames the stage instance sent on (generator: published, extractor: extracted, logger: stored), summed over its processes.")
	descFramesIn = stageDesc("imaging_frames_in_total",
		"Frames the stage instance received, summed over its processes.")
	descErrors = stageDesc("imaging_errors_total",
		"Messages or frames the stage instance failed to handle, summed over its processes.")
	descDropped = stageDesc("imaging_dropped_total",
		"Frames the stage instance dropped (generator, extractor), summed over its processes.")
	descMissing = stageDesc("imaging_missing_frames",
		"Logger: sequence numbers missing between the first and last frame stored of each stream (frames lost upstream); falls when a late frame fills a gap.")
	descRestarts = stageDesc("imaging_restarts_total",
		"Times the supervisor restarted the stage instance.")
	descFPS = stageDesc("imaging_fps",
		"Frames per second the stage instance reports; 0 unless it is running (or remote).")
	descQueue = stageDesc("imaging_queue_depth",
		"Frames queued in the stage instance (generator: unacknowledged); 0 unless it is running (or remote).")
	descUp = stageDesc("imaging_stage_up",
		"1 if the stage instance is running (or a remote stage is reporting), else 0.")
	descState = prometheus.NewDesc("imaging_stage_state",
		"The stage instance's state, one-hot: 1 for its current state, 0 for the others.",
		[]string{"stage", "instance", "state"}, nil)
	descReported = prometheus.NewDesc("imaging_stage_reported_state",
		"The state a live stage instance reports itself in, one-hot (blocked: say, the logger's disk is full); absent unless it is running (or remote).",
		[]string{"stage", "instance", "state"}, nil)

	descDBReadable = prometheus.NewDesc("imaging_db_readable",
		"1 if the supervisor could read the database's row counts, else 0 (the imaging_db_* gauges are then absent).", nil, nil)
	descDBImages      = prometheus.NewDesc("imaging_db_images", "Rows in the database's images table.", nil, nil)
	descDBKeypoints   = prometheus.NewDesc("imaging_db_keypoints", "Rows in the database's keypoints table.", nil, nil)
	descDBDescriptors = prometheus.NewDesc("imaging_db_descriptors", "SIFT descriptors stored in the database.", nil, nil)
	descDBFileBytes   = prometheus.NewDesc("imaging_db_file_bytes", "Size of the database file plus its WAL, in bytes.", nil, nil)
	descDBFreeBytes   = prometheus.NewDesc("imaging_db_free_bytes", "Free space on the database's file system, in bytes.", nil, nil)
	descStatusErrors  = prometheus.NewDesc("imaging_status_errors_total",
		"Status messages the supervisor received that were not valid status JSON.", nil, nil)
)

// States lists every stage state, in the order imaging_stage_state exposes them.
var States = []supervisor.State{
	supervisor.StateStarting, supervisor.StateRunning, supervisor.StateStale, supervisor.StateBackoff,
	supervisor.StateStopped, supervisor.StateFailed, supervisor.StateRemote,
}

// ReportedStates lists the states a stage reports itself in, in the order
// imaging_stage_reported_state exposes them.
var ReportedStates = []string{wire.StateRunning, wire.StateStopping, wire.StateBlocked, wire.StateUnacked}

// Collector is a prometheus.Collector of the pipeline's metrics, computed
// from a snapshot taken at each Collect. It is safe for concurrent use.
type Collector struct {
	snap func() supervisor.Snapshot

	mu  sync.Mutex
	acc map[string]*counts // by instance name
}

// Per-process counters folded into monotonic sums.
const (
	cFrames = iota
	cFramesIn
	cErrors
	nCounters
)

// counts is one instance's running sums: base holds what its earlier
// processes counted, last the latest values of its current process.
type counts struct {
	pid        int
	base, last [nCounters]uint64
}

func (a *counts) total(i int) float64 { return float64(a.base[i] + a.last[i]) }

// NewCollector returns a Collector that calls snap at every Collect.
func NewCollector(snap func() supervisor.Snapshot) *Collector {
	return &Collector{snap: snap, acc: map[string]*counts{}}
}

// Describe sends the descriptors of every metric Collect may send.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFrames, descFramesIn, descErrors, descDropped, descMissing, descRestarts,
		descFPS, descQueue, descUp, descState, descReported, descDBReadable, descDBImages, descDBKeypoints, descDBDescriptors,
		descDBFileBytes, descDBFreeBytes, descStatusErrors} {
		ch <- d
	}
}

// sample takes a snapshot and folds it into the sums. Holding c.mu from the
// snapshot to the fold keeps the snapshots folded in the order they were
// taken, so a count never seems to go down.
func (c *Collector) sample() (supervisor.Snapshot, map[string]counts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	snap := c.snap()
	seen := make(map[string]counts, len(snap.Stages))
	for _, st := range snap.Stages {
		a := c.acc[st.Name]
		if a == nil {
			a = &counts{}
			c.acc[st.Name] = a
		}
		if s := st.Status; s != nil {
			now := [nCounters]uint64{cFrames: s.FramesOut, cFramesIn: s.FramesIn, cErrors: s.Errors}
			for i, v := range now {
				if s.PID != a.pid || v < a.last[i] { // a new process: its counts start again
					a.base[i] += a.last[i]
					a.last[i] = 0
				}
				a.last[i] = v
			}
			a.pid = s.PID
		}
		seen[st.Name] = *a
	}
	for name := range c.acc {
		if _, ok := seen[name]; !ok {
			delete(c.acc, name) // scaled away, or a remote stage forgotten
		}
	}
	return snap, seen
}

// Collect takes a snapshot and sends every metric.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	snap, sums := c.sample()
	for _, st := range snap.Stages {
		labels := []string{string(st.Kind), st.Name}
		emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64) {
			ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
		}
		a := sums[st.Name]
		emit(descFrames, prometheus.CounterValue, a.total(cFrames))
		emit(descFramesIn, prometheus.CounterValue, a.total(cFramesIn))
		emit(descErrors, prometheus.CounterValue, a.total(cErrors))
		if st.Kind == stage.Logger { // its dropped count is the gaps in the database, not a running sum
			if st.Status != nil {
				emit(descMissing, prometheus.GaugeValue, float64(st.Status.Dropped))
			}
		} else {
			emit(descDropped, prometheus.CounterValue, float64(st.TotalDropped))
		}
		emit(descRestarts, prometheus.CounterValue, float64(st.Restarts))
		live := st.State == supervisor.StateRunning || st.State == supervisor.StateRemote
		fps, queue, up := 0.0, 0.0, 0.0
		if live {
			up = 1
			if st.Status != nil {
				fps, queue = st.Status.FPS, float64(st.Status.QueueDepth)
			}
		}
		emit(descFPS, prometheus.GaugeValue, fps)
		emit(descQueue, prometheus.GaugeValue, queue)
		emit(descUp, prometheus.GaugeValue, up)
		for _, s := range States {
			v := 0.0
			if st.State == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, string(st.Kind), st.Name, string(s))
		}
		if live && st.Status != nil {
			for _, s := range ReportedStates {
				v := 0.0
				if st.Status.State == s {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(descReported, prometheus.GaugeValue, v, string(st.Kind), st.Name, s)
			}
		}
	}
	if snap.DB.Err != "" {
		ch <- prometheus.MustNewConstMetric(descDBReadable, prometheus.GaugeValue, 0)
	} else {
		ch <- prometheus.MustNewConstMetric(descDBReadable, prometheus.GaugeValue, 1)
		for _, m := range []struct {
			d *prometheus.Desc
			v int64
		}{
			{descDBImages, snap.DB.Images}, {descDBKeypoints, snap.DB.Keypoints}, {descDBDescriptors, snap.DB.Descriptors},
			{descDBFileBytes, snap.DB.FileBytes}, {descDBFreeBytes, snap.DB.FreeBytes},
		} {
			ch <- prometheus.MustNewConstMetric(m.d, prometheus.GaugeValue, float64(m.v))
		}
	}
	ch <- prometheus.MustNewConstMetric(descStatusErrors, prometheus.CounterValue, float64(snap.StatusErrors))
}
