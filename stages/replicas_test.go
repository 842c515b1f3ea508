package stages_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestTwoReplicasShareFrames runs two extractor replicas, --shard 0/2 and
// 1/2, connecting to the generator and to the logger (which binds, as it
// would for replicas on other hosts): every frame is stored once and each
// was extracted by exactly one replica.
func TestTwoReplicasShareFrames(t *testing.T) {
	p := newPipeline(t, small...)
	lg := start(t, "logger", "--sub", "@"+p.proc, "--ack", "@"+p.ack, "--db", p.db)
	var ex [2]*proc
	for i, shard := range []string{"0/2", "1/2"} {
		ex[i] = start(t, "extractor", "--sub", ">"+p.img, "--pub", ">"+p.proc, "--shard", shard, "--workers", "1")
	}
	gen := p.generator(t, "--count", "40", "--state", p.dir+"/gen.state")
	p.waitRows(t, 40, 90*time.Second)
	select {
	case <-gen.done:
	case <-time.After(30 * time.Second):
		t.Fatal("generator --count 40 did not finish once its frames were stored")
	}
	for _, x := range ex {
		x.stop(t)
	}
	lg.stop(t)

	storedOnce(t, p, 40)
	// Which replica extracted which frame, from their logs.
	by := map[uint64][]int{}
	for i, x := range ex {
		for _, line := range strings.Split(x.out.String(), "\n") {
			var rec struct {
				Msg string `json:"msg"`
				Seq uint64 `json:"frame_seq"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "frame extracted" {
				by[rec.Seq] = append(by[rec.Seq], i)
			}
		}
	}
	count := [2]int{}
	for seq := uint64(1); seq <= 40; seq++ {
		who := by[seq]
		if len(who) == 0 {
			t.Errorf("frame %d was extracted by no replica", seq)
			continue
		}
		for _, i := range who {
			if uint64(i) != seq%2 {
				t.Errorf("frame %d was extracted by replica %d/2; its shard is %d/2", seq, i, seq%2)
			}
		}
		if len(who) > 1 {
			t.Logf("frame %d extracted %d times by its replica (a resend)", seq, len(who))
		}
		count[who[0]]++
	}
	if count[0] != 20 || count[1] != 20 {
		t.Errorf("replicas extracted %v frames; want 20 each", count)
	}
}
