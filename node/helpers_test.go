package node

import (
	"context"
	"errors"
	"image"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"tessera/render"
)

// TestMain fails the package if any test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startNode serves a Node on 127.0.0.1:0 until the test ends.
func startNode(t testing.TB, cfg Config) (*Node, string) {
	t.Helper()
	return startNodeWith(t, cfg, nil)
}

// startNodeWith is startNode with a hook to change the node before it serves.
func startNodeWith(t testing.TB, cfg Config, hook func(*Node)) (*Node, string) {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
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

// slowScenes makes a node render every tile no faster than d: a slower
// machine, so that tests can act while a render is under way.
func slowScenes(d time.Duration) func(*Node) {
	return func(n *Node) {
		n.load = func(b *render.Bundle, lim render.Limits) (renderer, error) {
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

func (r slowRender) Frame(f int) (renderer, error) {
	s, err := r.s.Frame(f)
	return slowRender{s: s, d: r.d}, err
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

// gatedScenes makes a node render a tile only once gate is closed (or the
// job is cancelled), so that a test holds the node mid-render.
func gatedScenes(gate <-chan struct{}) func(*Node) {
	return func(n *Node) {
		n.load = func(b *render.Bundle, lim render.Limits) (renderer, error) {
			s, err := render.LoadBundle(b, lim)
			if err != nil {
				return nil, err
			}
			return gatedRender{s: s, gate: gate}, nil
		}
	}
}

type gatedRender struct {
	s    *render.Scene
	gate <-chan struct{}
}

func (r gatedRender) Frame(f int) (renderer, error) {
	s, err := r.s.Frame(f)
	return gatedRender{s: s, gate: r.gate}, err
}

func (r gatedRender) RenderTile(ctx context.Context, set render.Settings, rect image.Rectangle, dst []float32) (uint64, error) {
	select {
	case <-r.gate:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return r.s.RenderTile(ctx, set, rect, dst)
}
