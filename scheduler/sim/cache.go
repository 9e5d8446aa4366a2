package sim

import (
	"context"
	"fmt"
	"image"
	"runtime"
	"sync"

	"tessera/protocol"
	"tessera/render"
)

// Cache is the default Pixels: it loads the scene of the Scene frame as a
// node does, renders each image it is asked for (a scene and its
// settings) once, in tiles on every core, and answers every job with its
// tile cut from that image. Safe for concurrent use: jobs of an image being
// rendered wait for it.
type Cache struct {
	mu     sync.Mutex
	images map[imageKey]*cached
}

type imageKey struct {
	scene string
	set   render.Settings
}

type cached struct {
	done chan struct{} // closed when img (or err) is set
	img  *render.Image
	rays []uint64 // per row: rays of the row's pixels, spread evenly
	err  error
}

// NewCache returns an empty Cache.
func NewCache() *Cache { return &Cache{images: make(map[imageKey]*cached)} }

// Tile answers j from the image of its scene and settings, rendering it
// first if it is the first job of that image.
func (c *Cache) Tile(ctx context.Context, scene protocol.Scene, j protocol.TileJob) ([]byte, uint64, error) {
	if err := j.Validate(); err != nil {
		return nil, 0, err
	}
	if scene.Hash == "" || scene.Hash != j.Scene {
		return nil, 0, fmt.Errorf("sim: job %d is for scene %q, the connection has %q", j.Job, j.Scene, scene.Hash)
	}
	set := render.Settings{Width: j.Width, Height: j.Height, SPP: j.SPP, MaxDepth: j.MaxDepth}
	key := imageKey{scene: j.Scene, set: set}
	c.mu.Lock()
	im := c.images[key]
	first := im == nil
	if first {
		im = &cached{done: make(chan struct{})}
		c.images[key] = im
	}
	c.mu.Unlock()
	if first {
		im.img, im.rays, im.err = renderImage(scene, set)
		close(im.done)
	}
	select {
	case <-im.done:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	if im.err != nil {
		return nil, 0, im.err
	}
	r := image.Rect(j.X0, j.Y0, j.X1, j.Y1)
	pix := make([]float32, 0, 3*r.Dx()*r.Dy())
	var rays uint64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := im.img.Pix[3*(y*set.Width+r.Min.X) : 3*(y*set.Width+r.Max.X)]
		pix = append(pix, row...)
		rays += im.rays[y] * uint64(r.Dx()) / uint64(set.Width)
	}
	return protocol.EncodePixels(pix), rays, nil
}

// renderImage loads the scene of a Scene frame and renders it whole, a row
// band per goroutine, one per core.
func renderImage(m protocol.Scene, set render.Settings) (*render.Image, []uint64, error) {
	b := &render.Bundle{Main: m.Main, Files: make(map[string][]byte, len(m.Files))}
	for _, f := range m.Files {
		b.Files[f.Name] = f.Data
	}
	s, err := render.LoadBundle(b, render.Limits{})
	if err != nil {
		return nil, nil, fmt.Errorf("sim: loading the scene: %w", err)
	}
	img := render.NewImage(set.Width, set.Height)
	rays := make([]uint64, set.Height)
	var wg sync.WaitGroup
	errs := make([]error, set.Height)
	next := make(chan int, set.Height)
	for y := range set.Height {
		next <- y
	}
	close(next)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for y := range next {
				row := image.Rect(0, y, set.Width, y+1)
				buf := make([]float32, 3*set.Width)
				rays[y], errs[y] = s.RenderTile(context.Background(), set, row, buf)
				img.SetTile(row, buf)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, fmt.Errorf("sim: rendering the image: %w", err)
		}
	}
	return img, rays, nil
}

// Prepare renders the image of bundle b at settings set now, so that jobs
// of it are answered at once from the start.
func (c *Cache) Prepare(b *render.Bundle, set render.Settings) error {
	m := protocol.Scene{Hash: b.Hash(), Main: b.Main}
	for name, data := range b.Files {
		m.Files = append(m.Files, protocol.Blob{Name: name, Data: data})
	}
	key := imageKey{scene: m.Hash, set: set}
	im := &cached{done: make(chan struct{})}
	im.img, im.rays, im.err = renderImage(m, set)
	close(im.done)
	if im.err != nil {
		return im.err
	}
	c.mu.Lock()
	c.images[key] = im
	c.mu.Unlock()
	return nil
}
