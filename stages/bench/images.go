package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/imaging-tui/imaging-tui/wire/probe"
)

// image is one encoded image of the set, held in memory for the limit.
type image struct {
	name string
	data []byte
	info probe.Info
}

// loadImages reads the image files of dir's top level (the files the
// generator would publish), sorted by name.
func loadImages(dir string) ([]image, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	var imgs []image
	for _, e := range entries {
		if !e.Type().IsRegular() && e.Type()&os.ModeSymlink == 0 || !probe.IsImageName(e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("images: %w", err)
		}
		info, err := probe.Probe(data)
		if err != nil {
			return nil, fmt.Errorf("images: %s: %w", e.Name(), err)
		}
		imgs = append(imgs, image{name: e.Name(), data: data, info: info})
	}
	if len(imgs) == 0 {
		return nil, errors.New("images: no image files (.jpg .jpeg .png .bmp .tif .tiff) in " + dir)
	}
	slices.SortFunc(imgs, func(a, b image) int { return strings.Compare(a.name, b.name) })
	return imgs, nil
}

// ImageSet describes the images a bench ran on.
type ImageSet struct {
	Dir           string  `json:"dir"`
	Count         int     `json:"count"`
	Size          string  `json:"size"`   // "2000x1500", or "400x300..2000x1500" when mixed
	Format        string  `json:"format"` // "jpeg", or "jpeg+png" when mixed
	MeanBytes     int64   `json:"mean_bytes"`
	MeanKeypoints float64 `json:"mean_keypoints"` // over the images the limit processed
	Generated     bool    `json:"generated,omitempty"`
}

func describe(dir string, imgs []image) ImageSet {
	set := ImageSet{Dir: dir, Count: len(imgs)}
	var formats []string
	var total int64
	minPx, maxPx := imgs[0].info, imgs[0].info
	for _, im := range imgs {
		total += int64(len(im.data))
		if !slices.Contains(formats, im.info.Format) {
			formats = append(formats, im.info.Format)
		}
		if im.info.Pixels() < minPx.Pixels() {
			minPx = im.info
		}
		if im.info.Pixels() > maxPx.Pixels() {
			maxPx = im.info
		}
	}
	slices.Sort(formats)
	set.Format = strings.Join(formats, "+")
	set.MeanBytes = total / int64(len(imgs))
	set.Size = fmt.Sprintf("%dx%d", minPx.Width, minPx.Height)
	if minPx.Width != maxPx.Width || minPx.Height != maxPx.Height {
		set.Size += fmt.Sprintf("..%dx%d", maxPx.Width, maxPx.Height)
	}
	return set
}
