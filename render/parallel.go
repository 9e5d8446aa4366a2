package render

import (
	"context"
	"fmt"
	"image"
	"runtime"
	"sync"
)

// Options configure Render.
type Options struct {
	Workers  int                   // goroutines rendering tiles; 0: runtime.NumCPU()
	Tile     int                   // tile side in pixels; 0: 32
	Progress func(done, total int) // called after each tile from one goroutine at a time; may be nil

	// OnTile, when not nil, is called with each finished tile and the rays
	// it cast, before Progress and from the same goroutine.
	OnTile func(r image.Rectangle, rays uint64)
}

// Stats describe a finished Render.
type Stats struct {
	Rays  uint64 // rays cast: camera, bounce and shadow
	Tiles int    // tiles rendered
}

// Tiles cuts a width x height image into tiles of side tile (the last row
// and column may be smaller), row by row.
func Tiles(width, height, tile int) []image.Rectangle {
	if tile <= 0 {
		tile = 32
	}
	var out []image.Rectangle
	for y := 0; y < height; y += tile {
		for x := 0; x < width; x += tile {
			out = append(out, image.Rect(x, y, min(x+tile, width), min(y+tile, height)))
		}
	}
	return out
}

// Render renders the whole image in this process with opt.Workers
// goroutines, one tile at a time each. Each worker counts its own rays; the
// counts are summed at the end. On cancellation it returns the image as far
// as it got, the statistics of the tiles that finished, and ctx.Err().
func Render(ctx context.Context, s *Scene, set Settings, opt Options) (*Image, Stats, error) {
	set = s.Resolve(set)
	if err := s.lim.CheckSettings(set); err != nil {
		return nil, Stats{}, err
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	tiles := Tiles(set.Width, set.Height, opt.Tile)
	img := NewImage(set.Width, set.Height)

	jobs := make(chan image.Rectangle)
	type result struct {
		r    image.Rectangle
		pix  []float32
		rays uint64
	}
	results := make(chan result)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range jobs {
				pix := make([]float32, r.Dx()*r.Dy()*3)
				rays, err := s.RenderTile(ctx, set, r, pix)
				if err != nil {
					errs[w] = err
					continue // drain the queue; the feeder stops on ctx
				}
				results <- result{r: r, pix: pix, rays: rays}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, r := range tiles {
			select {
			case jobs <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()

	var st Stats
	for res := range results {
		img.SetTile(res.r, res.pix)
		st.Rays += res.rays
		st.Tiles++
		if opt.OnTile != nil {
			opt.OnTile(res.r, res.rays)
		}
		if opt.Progress != nil {
			opt.Progress(st.Tiles, len(tiles))
		}
	}
	for _, err := range errs {
		if err != nil {
			return img, st, err
		}
	}
	if err := ctx.Err(); err != nil && st.Tiles < len(tiles) {
		return img, st, err
	}
	if st.Tiles != len(tiles) {
		return img, st, fmt.Errorf("render: %d of %d tiles rendered", st.Tiles, len(tiles))
	}
	return img, st, nil
}
