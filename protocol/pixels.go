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
	return AppendPixels(make([]byte, 0, 4*len(rgb)), rgb)
}

// AppendPixels appends the wire form of rgb to dst, so that a node can reuse
// one buffer for every tile (Send does not keep the message).
func AppendPixels(dst []byte, rgb []float32) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, 4*len(rgb))...)
	p := dst[n:]
	for _, f := range rgb {
		binary.LittleEndian.PutUint32(p[:4], math.Float32bits(f))
		p = p[4:]
	}
	return dst
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
