package stage

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadStreamState(t *testing.T) {
	dir := t.TempDir()
	if st, err := ReadStreamState(filepath.Join(dir, "none.state")); st != nil || err != nil {
		t.Errorf("missing file: %v, %v; want nil, nil", st, err)
	}
	bad := filepath.Join(dir, "bad.state")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	if st, err := ReadStreamState(bad); st != nil || err == nil {
		t.Errorf("bad file: %v, %v; want an error", st, err)
	}
	good := filepath.Join(dir, "good.state")
	os.WriteFile(good, []byte(`{"stream_id":7,"next_seq":12,"window":[{"seq":10,"file":"a.jpg","ts":99},{"seq":11,"file":"b.jpg"}]}`), 0o644)
	st, err := ReadStreamState(good)
	if err != nil || st.StreamID != 7 || st.NextSeq != 12 || len(st.Window) != 2 || st.Window[0] != (StreamStateFrame{Seq: 10, File: "a.jpg", TS: 99}) {
		t.Errorf("good file: %+v, %v", st, err)
	}
}
