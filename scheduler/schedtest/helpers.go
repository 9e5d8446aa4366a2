package schedtest

import (
	"context"
	"image"
	"math"
	"sort"
	"testing"
	"time"

	"tessera/protocol"
	"tessera/render"
)

// FakePixel is the value of pixel (x, y) as every fake renderer of the
// controller's and the node's tests computes it: a function of its
// coordinates and the settings only, like the real renderer's.
func FakePixel(x, y int, set render.Settings) [3]float32 {
	return [3]float32{float32(x) + 0.25, float32(y) + 0.5, float32(set.SPP)}
}

// FillTile writes FakePixel for every pixel of r into dst (row-major RGB).
func FillTile(dst []float32, r image.Rectangle, set render.Settings) {
	i := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			p := FakePixel(x, y, set)
			copy(dst[i:i+3], p[:])
			i += 3
		}
	}
}

// FakeImage is what every render with fake pixels must produce.
func FakeImage(set render.Settings) *render.Image {
	img := render.NewImage(set.Width, set.Height)
	FillTile(img.Pix, image.Rect(0, 0, set.Width, set.Height), set)
	return img
}

// JobPixels are the right fake pixels of a job, encoded for a TileResult.
func JobPixels(j protocol.TileJob) []byte {
	set := render.Settings{Width: j.Width, Height: j.Height, SPP: j.SPP, MaxDepth: j.MaxDepth}
	r := image.Rect(j.X0, j.Y0, j.X1, j.Y1)
	pix := make([]float32, 3*r.Dx()*r.Dy())
	FillTile(pix, r, set)
	return protocol.EncodePixels(pix)
}

// Bundle is a scene bundle for tests whose renderer is fake.
func Bundle() *render.Bundle {
	return &render.Bundle{Main: "fake.json", Files: map[string][]byte{"fake.json": []byte(`{}`)}}
}

// SceneFrame is the Scene message of b as a controller sends it: the
// bundle's content hash, its files in name order.
func SceneFrame(b *render.Bundle) protocol.Scene {
	m := protocol.Scene{Hash: b.Hash(), Main: b.Main}
	for name, data := range b.Files {
		m.Files = append(m.Files, protocol.Blob{Name: name, Data: data})
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Name < m.Files[j].Name })
	return m
}

// WaitFor polls cond until it holds, failing the test if it does not
// within d.
func WaitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// LoadScene loads a scene of the repository's testdata/scenes, from a
// package directory one level below the root.
func LoadScene(t testing.TB, name string) (*render.Scene, *render.Bundle) {
	t.Helper()
	s, b, err := render.LoadFile("../testdata/scenes/"+name, render.Limits{})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return s, b
}

// LocalRender renders the whole image in this process, one tile: the
// reference every distributed render must equal byte for byte (a pixel does
// not depend on the tile it is rendered in).
func LocalRender(t testing.TB, s *render.Scene, set render.Settings) *render.Image {
	t.Helper()
	img := render.NewImage(set.Width, set.Height)
	if _, err := s.RenderTile(context.Background(), set, image.Rect(0, 0, set.Width, set.Height), img.Pix); err != nil {
		t.Fatalf("local render: %v", err)
	}
	return img
}

// SameImage fails the test unless got and want are identical, bit for bit
// (NaNs equal to themselves).
func SameImage(t testing.TB, got, want *render.Image) {
	t.Helper()
	if got.Width != want.Width || got.Height != want.Height {
		t.Fatalf("image is %dx%d, want %dx%d", got.Width, got.Height, want.Width, want.Height)
	}
	diff, first := 0, -1
	for i := range got.Pix {
		if math.Float32bits(got.Pix[i]) != math.Float32bits(want.Pix[i]) {
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
