package bench

// Round is one limit phase and one pipeline phase of a run with --rounds,
// or half the slices of a run with --slice.
type Round struct {
	Part        string  `json:"part,omitempty"` // with --slice: which half of the slices
	LimitFirst  bool    `json:"limit_first"`
	LimitFPS    float64 `json:"limit_fps"`
	PipelineFPS float64 `json:"pipeline_fps"`
	Ratio       float64 `json:"ratio"`
	CPURatio    float64 `json:"cpu_ratio"`
}

// cpuRatio is the limit's CPU per frame over the pipeline's (all stages).
func cpuRatio(l Limit, p Pipeline) float64 {
	var sum float64
	for _, s := range p.Stages {
		sum += s.CPUPerFrame
	}
	if sum == 0 {
		return 0
	}
	return l.CPUPerFrame / sum
}

// poolLimits combines the limit phases of several rounds as if they were one
// window as long as all of theirs.
func poolLimits(ls []Limit) Limit {
	if len(ls) == 1 {
		return ls[0]
	}
	var p Limit
	var frames float64
	for _, l := range ls {
		p.Frames += l.Frames
		p.PeakRSSBytes = max(p.PeakRSSBytes, l.PeakRSSBytes)
		frames += l.FPS * l.raw.window
		p.raw.window += l.raw.window
		p.raw.used = p.raw.used.add(l.raw.used)
		p.raw.other += l.raw.other
		p.raw.took = append(p.raw.took, l.raw.took...)
	}
	p.FPS = frames / p.raw.window
	p.SIFTMs, p.SIFTP50 = mean(p.raw.took), percentile(p.raw.took, 50)
	if frames > 0 {
		p.CPUPerFrame = p.raw.used.total().Seconds() / frames
		p.SysPerFrame = p.raw.used.sys.Seconds() / frames
		p.FaultsPerFrame = float64(p.raw.used.faults) / frames
	}
	p.OtherCores = p.raw.other / p.raw.window
	return p
}

// poolPipelines combines the pipeline phases of several rounds as if they
// were one window as long as all of theirs. Stage PIDs are the last round's.
func poolPipelines(ps []Pipeline) Pipeline {
	if len(ps) == 1 {
		return ps[0]
	}
	var p Pipeline
	var frames, busy float64
	r := &p.raw
	for _, q := range ps {
		p.Frames += q.Frames
		p.Extracted += q.Extracted
		p.Resent += q.Resent
		p.ResentInWindow += q.ResentInWindow
		p.Dropped += q.Dropped
		p.StopNotes = append(p.StopNotes, q.StopNotes...)
		frames += q.FPS * q.raw.window
		busy += q.ExtractorBusy * q.raw.window
		r.window += q.raw.window
		r.other += q.raw.other
		r.statusFrames += q.raw.statusFrames
		r.total = append(r.total, q.raw.total...)
		r.extract = append(r.extract, q.raw.extract...)
		r.deliver = append(r.deliver, q.raw.deliver...)
		r.store = append(r.store, q.raw.store...)
		r.took = append(r.took, q.raw.took...)
		if p.Stages == nil {
			p.Stages = make([]Stage, len(q.Stages))
			r.used = make([]cpu, len(q.Stages))
			p.Args = q.Args
		}
		for i, s := range q.Stages {
			t := &p.Stages[i]
			t.Name, t.PID = s.Name, s.PID
			t.PeakRSSBytes = max(t.PeakRSSBytes, s.PeakRSSBytes)
			t.Errors += s.Errors
			if s.LastError != "" {
				t.LastError = s.LastError
			}
			r.used[i] = r.used[i].add(q.raw.used[i])
		}
	}
	p.FPS = frames / r.window
	p.Latency = latency(r)
	p.SIFTMs = mean(r.took)
	p.ExtractorBusy = busy / r.window
	p.StatusFPS = r.statusFrames / r.window
	p.OtherCores = r.other / r.window
	for i := range p.Stages {
		if frames > 0 {
			p.Stages[i].CPUPerFrame = r.used[i].total().Seconds() / frames
			p.Stages[i].SysPerFrame = r.used[i].sys.Seconds() / frames
			p.Stages[i].FaultsPerFrame = float64(r.used[i].faults) / frames
		}
		p.Stages[i].CPUCores = r.used[i].total().Seconds() / r.window
	}
	return p
}
