package scheduler

import (
	"context"
	"errors"
	"image"
	"net"
	"testing"
	"time"

	"tessera/render"
)

// loadTestScene loads a scene of testdata.
func loadTestScene(t testing.TB, name string) (*render.Scene, *render.Bundle) {
	t.Helper()
	s, b, err := render.LoadFile("../testdata/scenes/"+name, render.Limits{})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return s, b
}

// localRender renders in this process, the reference every distributed
// render must equal byte for byte.
func localRender(t testing.TB, s *render.Scene, set render.Settings) *render.Image {
	t.Helper()
	img, _, err := render.Render(context.Background(), s, set, render.Options{Workers: 2, Tile: 16})
	if err != nil {
		t.Fatalf("local render: %v", err)
	}
	return img
}

// startNode serves a Node on 127.0.0.1:0 until the test ends.
func startNode(t testing.TB, cfg NodeConfig) (*Node, string) {
	t.Helper()
	return startNodeWith(t, cfg, nil)
}

// startNodeWith is startNode with a hook to change the node before it serves.
func startNodeWith(t testing.TB, cfg NodeConfig, hook func(*Node)) (*Node, string) {
	t.Helper()
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatalf("NewNode: %v", err)
	}
	if hook != nil {
		hook(n)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- n.Serve(l) }()
	t.Cleanup(func() {
		n.Close()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return n, l.Addr().String()
}

// sameImage fails the test unless a and b are identical, bit for bit.
func sameImage(t testing.TB, got, want *render.Image) {
	t.Helper()
	if got.Width != want.Width || got.Height != want.Height {
		t.Fatalf("image is %dx%d, want %dx%d", got.Width, got.Height, want.Width, want.Height)
	}
	diff := 0
	first := -1
	for i := range got.Pix {
		if !samePixels(got.Pix[i:i+1], want.Pix[i:i+1]) {
			if first < 0 {
				first = i
			}
			diff++
		}
	}
	if diff > 0 {
		p := first / 3
		t.Fatalf("%d of %d values differ; first at pixel (%d,%d): %v, want %v", diff, len(got.Pix), p%got.Width, p/got.Width, got.Pix[first], want.Pix[first])
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// slowScenes makes a node render every tile no faster than d: a slower
// machine, so that tests can act while a render is under way.
func slowScenes(d time.Duration) func(*Node) {
	return func(n *Node) {
		n.load = func(b *render.Bundle, lim render.Limits) (TileRenderer, error) {
			s, err := render.LoadBundle(b, lim)
			if err != nil {
				return nil, err
			}
			return slowRender{s: s, d: d}, nil
		}
	}
}

type slowRender struct {
	s *render.Scene
	d time.Duration
}

func (r slowRender) RenderTile(ctx context.Context, set render.Settings, rect image.Rectangle, dst []float32) (uint64, error) {
	t := time.NewTimer(r.d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return r.s.RenderTile(ctx, set, rect, dst)
}
