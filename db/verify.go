package db

import (
	"context"
	"fmt"
	"strings"
)

// Problem is one thing IntegrityCheck found wrong.
type Problem struct {
	ImageID int64  // 0 for a problem of the file itself
	What    string // e.g. "3 keypoint rows, keypoint_count says 5000"
}

// completenessSQL finds images whose features are not whole: a keypoint row
// count or a descriptor blob that disagrees with keypoint_count.
const completenessSQL = `SELECT i.id, i.keypoint_count,
	(SELECT count(*) FROM keypoints k WHERE k.image_id = i.id),
	(SELECT count(*) FROM descriptors d WHERE d.image_id = i.id),
	(SELECT coalesce(sum(length(d.descriptor_data)), 0) FROM descriptors d WHERE d.image_id = i.id)
FROM images i`

// IntegrityCheck runs SQLite's integrity and foreign-key checks and checks
// that every stored frame is whole: keypoint_count keypoint rows and one
// descriptor blob of keypoint_count×128 float32 values. It reports ok when
// it found no problem; the problems found are returned, at most 100.
func (d *DB) IntegrityCheck(ctx context.Context) (ok bool, problems []Problem, err error) {
	if err := d.usable(); err != nil {
		return false, nil, err
	}
	rows, err := d.sql.QueryContext(ctx, "PRAGMA integrity_check(100)")
	if err != nil {
		return false, nil, wrapErr("integrity check", err)
	}
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			rows.Close()
			return false, nil, wrapErr("integrity check", err)
		}
		if !strings.EqualFold(msg, "ok") {
			problems = append(problems, Problem{What: msg})
		}
	}
	rows.Close()
	var fkBad int
	if err := d.sql.QueryRowContext(ctx, "SELECT count(*) FROM pragma_foreign_key_check").Scan(&fkBad); err != nil {
		return false, nil, wrapErr("foreign key check", err)
	}
	if fkBad > 0 {
		problems = append(problems, Problem{What: fmt.Sprintf("%d rows break a foreign key", fkBad)})
	}
	rows, err = d.sql.QueryContext(ctx, completenessSQL)
	if err != nil {
		return false, nil, wrapErr("completeness check", err)
	}
	defer rows.Close()
	for rows.Next() && len(problems) < 100 {
		var id, want, kps, descs, blob int64
		if err := rows.Scan(&id, &want, &kps, &descs, &blob); err != nil {
			return false, nil, wrapErr("completeness check", err)
		}
		switch {
		case kps != want:
			problems = append(problems, Problem{id, fmt.Sprintf("%d keypoint rows, keypoint_count says %d", kps, want)})
		case descs != 1:
			problems = append(problems, Problem{id, fmt.Sprintf("%d descriptor rows, want 1", descs)})
		case blob != want*DescriptorSize*4:
			problems = append(problems, Problem{id, fmt.Sprintf("descriptor blob of %d bytes, want %d", blob, want*DescriptorSize*4)})
		}
	}
	if err := rows.Err(); err != nil {
		return false, nil, wrapErr("completeness check", err)
	}
	return len(problems) == 0, problems, nil
}
