package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// writeTable prints res for people.
func writeTable(w io.Writer, res *Result) error {
	im := res.Images
	origin := im.Dir
	if im.Generated {
		origin = "generated (--large)"
	}
	fmt.Fprintf(w, "images    %d × %s %s, mean %s, mean %.0f keypoints — %s\n",
		im.Count, im.Size, im.Format, bytesString(im.MeanBytes), im.MeanKeypoints, origin)
	c := res.Config
	window := "default"
	if c.Window > 0 {
		window = fmt.Sprint(c.Window)
	}
	rounds := ""
	switch {
	case c.Slice != "":
		rounds = fmt.Sprintf(" by turns of %s", c.Slice)
	case c.Rounds > 1:
		rounds = fmt.Sprintf(" × %d rounds", c.Rounds)
	}
	fmt.Fprintf(w, "config    %d workers × %d OpenCV threads, malloc %s, window %s, nice %d, gomaxprocs %d, warm-up %s, measured %s%s\n",
		c.Workers, c.Threads, c.Malloc, window, c.Nice, c.GOMAXPROCS, c.Warmup, c.For, rounds)
	fmt.Fprintf(w, "host      %d CPUs, OpenCV %s, load %s\n\n", res.Host.CPUs, res.Host.OpenCV, res.Host.Load)
	if err := writeFigures(w, res); err != nil {
		return err
	}
	writeNotes(w, res)
	return nil
}

// writeFigures prints the table of both phases' figures and each stage's.
func writeFigures(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	l, p := res.Limit, res.Pipeline
	fmt.Fprintf(tw, "\tframes/s\tframes\tSIFT ms/frame\tCPU s/frame\t(sys)\tfaults/frame\tpeak RSS\t\n")
	fmt.Fprintf(tw, "limit\t%.3f\t%d\t%.0f\t%.3f\t%.3f\t%.0f\t%s\t\n", l.FPS, l.Frames, l.SIFTMs, l.CPUPerFrame, l.SysPerFrame,
		l.FaultsPerFrame, bytesString(l.PeakRSSBytes))
	var cpu, sys, faults float64
	for _, s := range p.Stages {
		cpu += s.CPUPerFrame
		sys += s.SysPerFrame
		faults += s.FaultsPerFrame
	}
	fmt.Fprintf(tw, "pipeline\t%.3f\t%d\t%.0f\t%.3f\t%.3f\t%.0f\t\t\n", p.FPS, p.Frames, p.SIFTMs, cpu, sys, faults)
	for _, s := range p.Stages {
		fmt.Fprintf(tw, "  %s\t\t\t\t%.3f\t%.3f\t%.0f\t%s\t\n", s.Name, s.CPUPerFrame, s.SysPerFrame, s.FaultsPerFrame,
			bytesString(s.PeakRSSBytes))
	}
	return tw.Flush()
}

// writeNotes prints the lines under the table: ratio, rounds, latency,
// cores, others, and trouble if any.
func writeNotes(w io.Writer, res *Result) {
	l, p := res.Limit, res.Pipeline
	fmt.Fprintf(w, "\nratio     pipeline ÷ limit = %.3f   (CPU s/frame limit ÷ pipeline = %.3f)\n", res.Ratio, res.CPURatio)
	if len(res.Rounds) > 1 {
		var rs []string
		for i, r := range res.Rounds {
			first := "pipeline first"
			switch {
			case r.Part != "":
				first = r.Part
			case r.LimitFirst:
				first = "limit first"
			}
			rs = append(rs, fmt.Sprintf("%d: %.3f/%.3f = %.3f (%s)", i+1, r.PipelineFPS, r.LimitFPS, r.Ratio, first))
		}
		fmt.Fprintf(w, "rounds    %s\n", strings.Join(rs, "; "))
	}
	lat := p.Latency
	fmt.Fprintf(w, "latency   publish → commit p50 %.0f ms, p90 %.0f ms, p99 %.0f ms (legs p50: to extracted %.0f, to logger %.0f, stored %.0f)\n",
		lat.P50, lat.P90, lat.P99, lat.ExtractP50, lat.DeliverP50, lat.StoreP50)
	fmt.Fprintf(w, "          p50 ÷ the limit's SIFT p50 per frame (%.0f ms) = %.2f\n", l.SIFTP50, res.LatencyPerSIFT)
	var cores []string
	for _, s := range p.Stages {
		cores = append(cores, fmt.Sprintf("%s %.2f", s.Name, s.CPUCores))
	}
	fmt.Fprintf(w, "cores     %s; extractor workers busy %.0f%%; logger status %.3f frames/s\n",
		strings.Join(cores, ", "), 100*p.ExtractorBusy, p.StatusFPS)
	fmt.Fprintf(w, "others    other processes used %.2f cores during the limit, %.2f during the pipeline\n",
		l.OtherCores, p.OtherCores)
	var errs []string
	for _, s := range p.Stages {
		if s.Errors > 0 {
			errs = append(errs, fmt.Sprintf("%s %d (%s)", s.Name, s.Errors, s.LastError))
		}
	}
	if p.Resent > 0 || p.Dropped > 0 || len(errs) > 0 {
		fmt.Fprintf(w, "trouble   resent %d (%d in the window; extracted %d frames to store %d), dropped %d, errors: %s\n",
			p.Resent, p.ResentInWindow, p.Extracted, p.Frames, p.Dropped, strings.Join(errs, "; "))
	}
	for _, n := range p.StopNotes {
		fmt.Fprintf(w, "stop      %s\n", n)
	}
}

// bytesString prints n bytes with a binary unit.
func bytesString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// shellJoin joins args for display, quoting those that need it.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$*?[]<>|&;()`#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
