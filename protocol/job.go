package protocol

import (
	"fmt"
	"math/bits"
)

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
	case j.To < 0 || j.From < 0 || j.To == 0 && j.From != 0:
		return bad("samples [%d,%d): want 0 <= from < to, or both left out", j.From, j.To)
	case j.To > 0 && (j.From >= j.To || j.To > j.SPP):
		return bad("samples [%d,%d) are not a range within the %d samples per pixel", j.From, j.To, j.SPP)
	case j.Mask != nil && j.To == 0:
		return bad("a pixel mask without a sample range")
	case j.Mask != nil && len(j.Mask) != (j.Pixels()+7)/8:
		return bad("a pixel mask of %d bytes for %d pixels, want %d", len(j.Mask), j.Pixels(), (j.Pixels()+7)/8)
	case j.Mask != nil && j.Pixels()%8 != 0 && j.Mask[len(j.Mask)-1]>>(j.Pixels()%8) != 0:
		return bad("the pixel mask selects pixels past the %d of the tile", j.Pixels())
	case j.Mask != nil && j.ResultPixels() == 0:
		return bad("the pixel mask selects no pixel")
	}
	return nil
}

// ResultPixels returns the number of pixels the job's result carries: the
// tile's, or for a pass with a mask the pixels the mask selects.
func (j TileJob) ResultPixels() int {
	if j.Mask == nil {
		return j.Pixels()
	}
	n := 0
	for _, b := range j.Mask {
		n += bits.OnesCount8(b)
	}
	return n
}

// Pixels returns the number of pixels of the tile: its result carries
// Pixels()*BytesPerPixel bytes.
func (j TileJob) Pixels() int { return (j.X1 - j.X0) * (j.Y1 - j.Y0) }
