package stages_test

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestExtractorKeepsMemory: the extractor re-executes itself with the
// malloc tunables that keep SIFT's memory between frames (same PID, so a
// supervisor sees one process), and --return-memory leaves them out.
func TestExtractorKeepsMemory(t *testing.T) {
	p := newPipeline(t, small...)
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"--return-memory"}, false},
	} {
		ex := p.extractor(t, tt.args...)
		waitLog(t, ex, "extractor starting", 30*time.Second)
		env, err := os.ReadFile("/proc/" + strconv.Itoa(ex.cmd.Process.Pid) + "/environ")
		if err != nil {
			t.Fatal(err)
		}
		got := bytes.Contains(env, []byte("GLIBC_TUNABLES=")) && bytes.Contains(env, []byte("glibc.malloc.arena_max=1"))
		if got != tt.want {
			t.Errorf("extractor %q: malloc tunables in its environment = %v; want %v", tt.args, got, tt.want)
		}
		ex.stop(t)
	}
}
