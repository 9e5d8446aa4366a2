package render

import "image"

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
