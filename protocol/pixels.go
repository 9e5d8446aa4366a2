package protocol

import (
	"encoding/binary"
	"fmt"
	"math"
)

// BytesPerPixel is the size of one pixel in TileResult.Pixels: three
// little-endian IEEE 754 float32, red, green, blue.
const BytesPerPixel = 12

// EncodePixels returns the wire form of linear RGB floats (3 a pixel,
// row-major): each float32 as 4 little-endian bytes, bit for bit (NaN
// payloads, signed zeros and subnormals survive).
func EncodePixels(rgb []float32) []byte {
	b := make([]byte, 4*len(rgb))
	p := b
	for _, f := range rgb {
		binary.LittleEndian.PutUint32(p[:4], math.Float32bits(f))
		p = p[4:]
	}
	return b
}

// DecodePixels is the inverse of EncodePixels for a tile of n pixels. It
// fails unless b holds exactly n pixels.
func DecodePixels(b []byte, n int) ([]float32, error) {
	if n < 0 || n > math.MaxInt/BytesPerPixel || len(b) != n*BytesPerPixel {
		return nil, fmt.Errorf("protocol: pixels: %d bytes, want %d for %d pixels of %d bytes", len(b), n*BytesPerPixel, n, BytesPerPixel)
	}
	rgb := make([]float32, 3*n)
	for i := range rgb {
		rgb[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[:4]))
		b = b[4:]
	}
	return rgb, nil
}
