package tui

import (
	"testing"
	"time"
)

func TestCompactLog(t *testing.T) {
	loc := time.FixedZone("X", 2*3600)
	tests := []struct {
		in, want, level string
		ms              bool
	}{
		{
			`{"time":"2026-11-27T11:27:21.901451597Z","level":"INFO","msg":"frame extracted","stage":"extractor","instance":"extractor-0","file":"crop_turf_rgba.png","frame_seq":2,"keypoints":313,"ms":644}`,
			"13:27:21.901 frame extracted file=crop_turf_rgba.png frame_seq=2 keypoints=313 ms=644", "INFO", true,
		},
		{
			`{"time":"2026-11-27T11:27:21.901451597Z","level":"INFO","msg":"frame extracted","stage":"extractor","instance":"extractor-0","frame_seq":2}`,
			"13:27:21 frame extracted frame_seq=2", "INFO", false,
		},
		{
			`{"time":"2026-11-27T11:27:22Z","level":"ERROR","msg":"store","err":"database is full","n":{"a": [1, 2]},"ok":true,"e":""}`,
			`13:27:22.000 ERROR store err="database is full" n={"a":[1,2]} ok=true e=""`, "ERROR", true,
		},
		{`[supervisor 11:27:20.416] start pid 5517: [stage extractor]`, `[supervisor 11:27:20.416] start pid 5517: [stage extractor]`, "", false},
		{`imaging-tui stage extractor: crash-loop fault`, `imaging-tui stage extractor: crash-loop fault`, "", false},
		{`{"broken": `, `{"broken": `, "", false},
		{`{"a":1} {"b":2}`, `{"a":1} {"b":2}`, "", false},
		{`{}`, ``, "", false},
	}
	for _, tt := range tests {
		got, level := compactLog(tt.in, loc, tt.ms)
		if got != tt.want || level != tt.level {
			t.Errorf("compactLog(%q) = %q, %q; want %q, %q", tt.in, got, level, tt.want, tt.level)
		}
	}
}

func TestFmtMs(t *testing.T) {
	for ms, want := range map[float64]string{0: "0ms", 210: "210ms", 999.4: "999ms", 999.6: "1.0s", 2625: "2.6s", 10007: "10s", 21789: "22s"} {
		if got := fmtMs(ms); got != want {
			t.Errorf("fmtMs(%v) = %q; want %q", ms, got, want)
		}
	}
}
