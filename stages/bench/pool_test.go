package bench

import (
	"math"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*max(1, math.Abs(b)) }

func TestPoolLimits(t *testing.T) {
	a := Limit{FPS: 1, Frames: 60, PeakRSSBytes: 5,
		raw: limitRaw{used: cpu{user: 90 * time.Second, sys: 30 * time.Second}, other: 6, took: []float64{1000, 3000}, window: 60}}
	b := Limit{FPS: 2, Frames: 60, PeakRSSBytes: 7,
		raw: limitRaw{used: cpu{user: 30 * time.Second, sys: 30 * time.Second}, other: 0, took: []float64{500}, window: 30}}
	p := poolLimits([]Limit{a, b})
	// 60 + 60 frames in 90 s; 180 s of CPU (60 s of it sys) over 120 frames.
	if !near(p.FPS, 120.0/90) || p.Frames != 120 || !near(p.CPUPerFrame, 1.5) || !near(p.SysPerFrame, 0.5) ||
		!near(p.SIFTMs, 1500) || !near(p.OtherCores, 6.0/90) || p.PeakRSSBytes != 7 {
		t.Errorf("poolLimits = %+v", p)
	}
	if one := poolLimits([]Limit{a}); one.FPS != a.FPS || one.CPUPerFrame != a.CPUPerFrame {
		t.Errorf("poolLimits of one = %+v; want it unchanged", one)
	}
}

func TestPoolPipelines(t *testing.T) {
	round := func(fps float64, window float64, lat []float64, genCPU, exCPU time.Duration, rss int64) Pipeline {
		return Pipeline{FPS: fps, Frames: int(fps * window), ExtractorBusy: 1, Resent: 1,
			Stages: []Stage{{Name: "generator", PeakRSSBytes: rss}, {Name: "extractor", PeakRSSBytes: 2 * rss}},
			raw: pipelineRaw{total: lat, window: window, statusFrames: fps * window,
				used: []cpu{{user: genCPU}, {user: exCPU}}}}
	}
	p := poolPipelines([]Pipeline{
		round(1, 60, []float64{10, 20, 30}, 6*time.Second, 120*time.Second, 100),
		round(0.5, 60, []float64{40}, 3*time.Second, 60*time.Second, 300),
	})
	// 90 frames in 120 s; the generator used 9 s, the extractor 180 s.
	if !near(p.FPS, 0.75) || p.Frames != 90 || p.Resent != 2 || !near(p.StatusFPS, 0.75) || !near(p.ExtractorBusy, 1) {
		t.Errorf("pooled pipeline = %+v", p)
	}
	if g, e := p.Stages[0], p.Stages[1]; !near(g.CPUPerFrame, 0.1) || !near(e.CPUPerFrame, 2) ||
		g.PeakRSSBytes != 300 || e.PeakRSSBytes != 600 || !near(e.CPUCores, 1.5) {
		t.Errorf("pooled stages = %+v", p.Stages)
	}
	if p.Latency.P50 != 20 || p.Latency.P99 != 40 {
		t.Errorf("pooled latency = %+v; want p50 20, p99 40", p.Latency)
	}
}
