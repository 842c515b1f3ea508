package db

import (
	"context"
	"path/filepath"
	"testing"
)

func TestIntegrityCheck(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for seq := uint64(1); seq <= 3; seq++ {
		f := &Frame{StreamID: 7, Seq: seq, Filename: "a.png", Width: 4, Height: 4, Channels: 1, Image: []byte{1, 2, 3},
			Keypoints: make([]Keypoint, 5), Descriptors: make([]float32, 5*DescriptorSize)}
		if _, _, err := d.Store(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if ok, problems, err := d.IntegrityCheck(ctx); !ok || err != nil {
		t.Fatalf("IntegrityCheck on whole frames = %v, %v, %v; want ok", ok, problems, err)
	}
	// Break one frame behind the writer's back: a keypoint row goes missing.
	if _, err := d.sql.ExecContext(ctx, "DELETE FROM keypoints WHERE id = (SELECT max(id) FROM keypoints WHERE image_id = 2)"); err != nil {
		t.Fatal(err)
	}
	ok, problems, err := d.IntegrityCheck(ctx)
	if err != nil || ok || len(problems) != 1 || problems[0].ImageID != 2 {
		t.Fatalf("IntegrityCheck after deleting a keypoint row = %v, %+v, %v; want one problem on image 2", ok, problems, err)
	}
}
