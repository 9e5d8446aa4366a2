package protocol

import "fmt"

// maxResultPixels is the largest tile whose TileResult could fit in a
// frame at all (the largest frame is 2^31-1 bytes).
const maxResultPixels = (maxFrameLimit - 64) / BytesPerPixel

// Validate reports whether j asks for a tile that makes sense on any node: a
// scene hash, an image of positive size, at least one sample and one path
// vertex, a non-empty rectangle inside the image whose result could fit in
// a frame, and no negative animation frame. The error matches ErrBadJob and says which field is wrong. A
// node answers a job that fails it with an Error of code CodeBadJob; what a
// node refuses by its own limits (tile pixels, image side, samples, depth)
// it answers with CodeLimit, naming the limit.
func (j TileJob) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %d: %s", ErrBadJob, j.Job, fmt.Sprintf(format, args...))
	}
	switch {
	case j.Scene == "":
		return bad("no scene hash")
	case j.Width <= 0 || j.Height <= 0:
		return bad("image of %dx%d pixels", j.Width, j.Height)
	case j.SPP < 1:
		return bad("%d samples per pixel, want at least 1", j.SPP)
	case j.MaxDepth < 1:
		return bad("maximum depth %d, want at least 1", j.MaxDepth)
	case j.X0 < 0 || j.Y0 < 0 || j.X0 >= j.X1 || j.Y0 >= j.Y1 || j.X1 > j.Width || j.Y1 > j.Height:
		return bad("rectangle [%d,%d)x[%d,%d) is empty or not inside the %dx%d image", j.X0, j.X1, j.Y0, j.Y1, j.Width, j.Height)
	case j.Frame != nil && *j.Frame < 0:
		return bad("frame %d, want 0 or more", *j.Frame)
	case j.X1-j.X0 > maxResultPixels || j.Y1-j.Y0 > maxResultPixels || j.Pixels() > maxResultPixels:
		return bad("a tile of %dx%d pixels: its result would not fit in any frame (at most %d pixels)", j.X1-j.X0, j.Y1-j.Y0, maxResultPixels)
	}
	return nil
}

// Pixels returns the number of pixels of the tile: its result carries
// Pixels()*BytesPerPixel bytes.
func (j TileJob) Pixels() int { return (j.X1 - j.X0) * (j.Y1 - j.Y0) }
