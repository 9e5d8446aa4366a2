package render

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// ErrFormat is returned by Save for a file name whose extension is neither
// .png nor .pfm.
var ErrFormat = errors.New("render: unknown image format")

// copyTile copies between the tile pix (rectangle r) and the image, in the
// direction given by into.
func (m *Image) copyTile(r image.Rectangle, pix []float32, into bool) {
	if len(pix) < r.Dx()*r.Dy()*3 {
		return
	}
	in := r.Intersect(image.Rect(0, 0, m.Width, m.Height))
	for y := in.Min.Y; y < in.Max.Y; y++ {
		src := ((y-r.Min.Y)*r.Dx() + in.Min.X - r.Min.X) * 3
		dst := (y*m.Width + in.Min.X) * 3
		n := in.Dx() * 3
		if into {
			copy(m.Pix[dst:dst+n], pix[src:src+n])
		} else {
			copy(pix[src:src+n], m.Pix[dst:dst+n])
		}
	}
}

// linearToSRGB encodes a linear value as 8-bit sRGB, clamping to [0, 1].
func linearToSRGB(v float32) uint8 {
	x := float64(v)
	switch {
	case !(x > 0): // NaN too
		return 0
	case x >= 1:
		return 255
	case x <= 0.0031308:
		x *= 12.92
	default:
		x = 1.055*math.Pow(x, 1/2.4) - 0.055
	}
	return uint8(math.Round(x * 255))
}

func (m *Image) srgb() *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, m.Width, m.Height))
	for i := 0; i < m.Width*m.Height; i++ {
		out.Pix[i*4] = linearToSRGB(m.Pix[i*3])
		out.Pix[i*4+1] = linearToSRGB(m.Pix[i*3+1])
		out.Pix[i*4+2] = linearToSRGB(m.Pix[i*3+2])
		out.Pix[i*4+3] = 255
	}
	return out
}

func (m *Image) writePNG(w io.Writer) error {
	if err := png.Encode(w, m.srgb()); err != nil {
		return fmt.Errorf("render: write PNG: %w", err)
	}
	return nil
}

// writePFM writes the colour PFM format: a "PF" header, the size, a
// negative scale for little-endian floats, then rows from bottom to top.
func (m *Image) writePFM(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "PF\n%d %d\n-1.0\n", m.Width, m.Height)
	row := make([]byte, m.Width*12)
	for y := m.Height - 1; y >= 0; y-- {
		for i, v := range m.Pix[y*m.Width*3 : (y+1)*m.Width*3] {
			binary.LittleEndian.PutUint32(row[i*4:], math.Float32bits(v))
		}
		bw.Write(row)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("render: write PFM: %w", err)
	}
	return nil
}

func (m *Image) save(path string) error {
	var write func(io.Writer) error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		write = m.writePNG
	case ".pfm":
		write = m.writePFM
	default:
		return fmt.Errorf("%w: %q (expected .png or .pfm)", ErrFormat, path)
	}
	return writeAtomic(path, write)
}

// writeAtomic writes a file so that a reader sees either the whole new
// file or none (or the old one): into a temporary file beside it
// (.NAME.tmp-*), flushed to the disk, then renamed over path, and the
// directory flushed, so that a crash or a power cut leaves no half file
// under the name. A temporary file a crash left behind never has the
// name of an output.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // not every file system syncs a directory; the rename stands either way
		d.Close()
	}
	return nil
}
