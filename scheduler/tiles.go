package scheduler

import (
	"image"
	"math"
	"sort"

	"tessera/render"
)

// tileGrid cuts a w x h image into tiles of side at most size and returns
// them centre outwards: by the distance of the tile's centre from the image's
// centre, ties in reading order, so the order is the same on every run.
func tileGrid(w, h, size int) []image.Rectangle {
	var rects []image.Rectangle
	for y := 0; y < h; y += size {
		for x := 0; x < w; x += size {
			rects = append(rects, image.Rect(x, y, min(x+size, w), min(y+size, h)))
		}
	}
	// Distances in doubled coordinates stay integers.
	dist := func(r image.Rectangle) int {
		dx := r.Min.X + r.Max.X - w
		dy := r.Min.Y + r.Max.Y - h
		return dx*dx + dy*dy
	}
	sort.SliceStable(rects, func(i, j int) bool { return dist(rects[i]) < dist(rects[j]) })
	return rects
}

// samePixels compares bit for bit, so that NaNs compare equal to themselves.
func samePixels(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// putTile writes a tile's pixels into img; nil pix clears the tile to black.
func putTile(img *render.Image, r image.Rectangle, pix []float32) {
	if pix == nil {
		pix = make([]float32, 3*r.Dx()*r.Dy())
	}
	img.SetTile(r, pix)
}
