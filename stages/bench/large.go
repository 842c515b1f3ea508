package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	goimage "image"
	"image/draw"
	_ "image/jpeg" // source images may be JPEG
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Size of the frames --large generates: a 12-megapixel 4:3 camera frame.
const (
	LargeWidth  = 4000
	LargeHeight = 3000
)

// largeNoise is the amplitude of the uniform noise added to every channel
// of a large frame, in levels of 255: a camera's sensor noise. Without it
// an upscaled image is so smooth that PNG stores it in 3–8 MB; with it, in
// 16–20 MB, like a real 12-megapixel frame.
const largeNoise = 4

// makeLarge writes n LargeWidth×LargeHeight PNG files into dir, upscaling
// the images in turn (bilinear, plus largeNoise), and returns their names.
// The output depends only on the inputs. Sources must be JPEG or PNG (the
// decoders of the standard library).
func makeLarge(ctx context.Context, imgs []image, n int, dir string) ([]string, error) {
	names := make([]string, n)
	errs := make([]error, n)
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i := range n {
		src := imgs[i%len(imgs)]
		names[i] = fmt.Sprintf("large_%03d_%s.png", i, strings.TrimSuffix(src.name, filepath.Ext(src.name)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			errs[i] = writeLarge(src, filepath.Join(dir, names[i]), uint64(i))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return names, nil
}

func writeLarge(src image, path string, seed uint64) error {
	m, _, err := goimage.Decode(bytes.NewReader(src.data))
	if err != nil {
		return fmt.Errorf("large frames: decode %s (JPEG or PNG sources only): %w", src.name, err)
	}
	big := upscale(m, LargeWidth, LargeHeight, largeNoise, seed)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("large frames: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(w, big)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("large frames: write %s: %w", path, err)
	}
	return nil
}

// upscale resizes m to w×h with bilinear interpolation (pixel centres
// aligned), into an opaque RGBA image that PNG stores as 8-bit RGB. With
// noise > 0 it adds uniform noise in [-noise, noise] to every channel, from
// a generator seeded by seed and the row (so the result does not depend on
// how rows are shared among goroutines).
func upscale(m goimage.Image, w, h, noise int, seed uint64) *goimage.RGBA {
	b := m.Bounds()
	src := goimage.NewRGBA(goimage.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Bounds(), m, b.Min, draw.Src)
	sw, sh := b.Dx(), b.Dy()
	dst := goimage.NewRGBA(goimage.Rect(0, 0, w, h))

	// Source coordinate of each destination column, in 1/256 pixel.
	const one = 256
	xs0 := make([]int, w)
	xf := make([]int, w)
	for x := range w {
		sx := ((2*x+1)*sw*one/(2*w) - one/2)
		sx = min(max(sx, 0), (sw-1)*one)
		xs0[x], xf[x] = sx/one, sx%one
	}
	rows := make(chan int, h)
	for y := range h {
		rows <- y
	}
	close(rows)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for y := range rows {
				sy := ((2*y+1)*sh*one/(2*h) - one/2)
				sy = min(max(sy, 0), (sh-1)*one)
				y0, fy := sy/one, sy%one
				y1 := min(y0+1, sh-1)
				r0 := src.Pix[y0*src.Stride:]
				r1 := src.Pix[y1*src.Stride:]
				out := dst.Pix[y*dst.Stride:]
				rnd := rand.New(rand.NewPCG(seed, uint64(y)))
				for x := range w {
					x0, fx := xs0[x], xf[x]
					x1 := min(x0+1, sw-1)
					for c := range 3 {
						a := int(r0[4*x0+c])*(one-fx) + int(r0[4*x1+c])*fx
						d := int(r1[4*x0+c])*(one-fx) + int(r1[4*x1+c])*fx
						v := (a*(one-fy) + d*fy + one*one/2) / (one * one)
						if noise > 0 {
							v += rnd.IntN(2*noise+1) - noise
						}
						out[4*x+c] = uint8(min(max(v, 0), 255))
					}
					out[4*x+3] = 0xff
				}
			}
		}()
	}
	wg.Wait()
	return dst
}
