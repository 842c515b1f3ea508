package tui

import (
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
)

func TestSparkline(t *testing.T) {
	tests := []struct {
		vals  []float64
		width int
		want  string
	}{
		{nil, 4, "    "},
		{[]float64{0, 0}, 3, " ▁▁"},
		{[]float64{0, 1, 2, 3, 4, 5, 6, 7}, 8, "▁▂▃▄▅▆▇█"},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 14}, 2, "▄█"}, // the last width values, scaled to their max
		{[]float64{5}, 0, ""},
		{[]float64{-1, 2}, 2, "▁█"},
	}
	for _, tt := range tests {
		if got := sparkline(tt.vals, tt.width); got != tt.want {
			t.Errorf("sparkline(%v, %d) = %q; want %q", tt.vals, tt.width, got, tt.want)
		}
		if got := lipgloss.Width(sparkline(tt.vals, tt.width)); got != tt.width {
			t.Errorf("sparkline(%v, %d) is %d wide", tt.vals, tt.width, got)
		}
	}
}

func TestBar(t *testing.T) {
	tests := []struct {
		v, scale, width int
		full, empty     string
	}{
		{0, 16, 4, "", "░░░░"},
		{1, 16, 4, "█", "░░░"},
		{8, 16, 4, "██", "░░"},
		{16, 16, 4, "████", ""},
		{40, 16, 4, "████", ""},
		{3, 0, 2, "", "░░"},
	}
	for _, tt := range tests {
		full, empty := bar(tt.v, tt.scale, tt.width)
		if full != tt.full || empty != tt.empty {
			t.Errorf("bar(%d, %d, %d) = %q, %q; want %q, %q", tt.v, tt.scale, tt.width, full, empty, tt.full, tt.empty)
		}
	}
}

func TestFormats(t *testing.T) {
	durs := map[time.Duration]string{
		-time.Second: "0s", 45 * time.Second: "45s", 5*time.Minute + 3*time.Second: "5m03s",
		time.Hour + 2*time.Minute: "1h02m", 76 * time.Hour: "3d04h",
	}
	for d, want := range durs {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q; want %q", d, got, want)
		}
	}
	counts := map[int64]string{0: "0", 999: "999", 1000: "1,000", 2143880: "2,143,880", -1234: "-1,234"}
	for n, want := range counts {
		if got := fmtCount(n); got != want {
			t.Errorf("fmtCount(%d) = %q; want %q", n, got, want)
		}
	}
	shorts := map[uint64]string{9_999_999: "9999999", 12_345_678: "12.3M", 4_560_000_000: "4.56G"}
	for n, want := range shorts {
		if got := fmtShort(n); got != want {
			t.Errorf("fmtShort(%d) = %q; want %q", n, got, want)
		}
	}
	sizes := map[int64]string{512: "512 B", 45_200_000: "45.2 MB", 312_456_789: "312.5 MB", 48_200_000_000: "48.2 GB", 1500: "1.5 kB"}
	for n, want := range sizes {
		if got := fmtBytes(n); got != want {
			t.Errorf("fmtBytes(%d) = %q; want %q", n, got, want)
		}
	}
	if got := fmtRate(3e6); got != "3.00 MB/s" {
		t.Errorf("fmtRate(3e6) = %q", got)
	}
	if got := clean("a\tb\x1b[31mred\x1b[0m\x07\r\n"); got != "a bred  " {
		t.Errorf("clean = %q", got)
	}
	if got := fit("extractor-10", 6); got != "extra…" {
		t.Errorf("fit = %q", got)
	}
	if got := fitRight("7", 3); got != "  7" {
		t.Errorf("fitRight = %q", got)
	}
}
