package protocol

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestPixelsRoundTripBitExact(t *testing.T) {
	special := []float32{
		0, float32(math.Copysign(0, -1)), 1, -1, 0.5, 1e-3, 3.4e38,
		float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(1),          // smallest subnormal
		math.Float32frombits(0x7fc00001), // quiet NaN with a payload
		math.Float32frombits(0xff800123), // signalling NaN, negative
	}
	for len(special)%3 != 0 {
		special = append(special, 42)
	}
	b := EncodePixels(special)
	if len(b) != len(special)/3*BytesPerPixel {
		t.Fatalf("%d bytes for %d pixels", len(b), len(special)/3)
	}
	if b[4] != 0 || b[7] != 0x80 {
		t.Fatalf("-0 is not little-endian: % x", b[4:8])
	}
	got, err := DecodePixels(b, len(special)/3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range special {
		if math.Float32bits(got[i]) != math.Float32bits(special[i]) {
			t.Errorf("float %d: bits %08x, want %08x", i, math.Float32bits(got[i]), math.Float32bits(special[i]))
		}
	}
}

func TestDecodePixelsWrongSize(t *testing.T) {
	tests := []struct {
		name string
		size int
		n    int
	}{
		{name: "short", size: 11, n: 1},
		{name: "long", size: 25, n: 2},
		{name: "negative count", size: 0, n: -1},
		{name: "overflowing count", size: 12, n: math.MaxInt/6 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodePixels(make([]byte, tt.size), tt.n)
			if err == nil || !strings.Contains(err.Error(), "protocol: pixels:") {
				t.Fatalf("error %v", err)
			}
		})
	}
}

// oneBit returns a mask of n bytes with bit k set.
func oneBit(n, k int) []byte {
	m := make([]byte, n)
	m[k/8] |= 1 << (k % 8)
	return m
}

func TestTileJobValidate(t *testing.T) {
	ok := TileJob{Job: 1, Scene: "h", Width: 64, Height: 48, SPP: 1, MaxDepth: 1, X0: 32, Y0: 16, X1: 64, Y1: 48}
	tests := []struct {
		name string
		edit func(j *TileJob)
		want string // "" for valid
	}{
		{name: "valid", edit: func(j *TileJob) {}},
		{name: "whole image", edit: func(j *TileJob) { j.X0, j.Y0 = 0, 0 }},
		{name: "no scene", edit: func(j *TileJob) { j.Scene = "" }, want: "no scene hash"},
		{name: "zero width", edit: func(j *TileJob) { j.Width = 0 }, want: "image of 0x48"},
		{name: "no samples", edit: func(j *TileJob) { j.SPP = 0 }, want: "0 samples per pixel"},
		{name: "no depth", edit: func(j *TileJob) { j.MaxDepth = 0 }, want: "maximum depth 0"},
		{name: "empty rectangle", edit: func(j *TileJob) { j.X1 = j.X0 }, want: "[32,32)x[16,48) is empty"},
		{name: "negative corner", edit: func(j *TileJob) { j.Y0 = -1 }, want: "not inside the 64x48 image"},
		{name: "outside", edit: func(j *TileJob) { j.X1 = 65 }, want: "not inside"},
		{name: "frame 0", edit: func(j *TileJob) { j.Frame = intPtr(0) }},
		{name: "negative frame", edit: func(j *TileJob) { j.Frame = intPtr(-3) }, want: "frame -3, want 0 or more"},
		// The tile is 32x32: 1024 pixels, a mask of 128 bytes.
		{name: "pass", edit: func(j *TileJob) { j.SPP, j.From, j.To = 64, 16, 32 }},
		{name: "first pass", edit: func(j *TileJob) { j.SPP, j.To = 64, 4 }},
		{name: "masked pass", edit: func(j *TileJob) { j.SPP, j.From, j.To, j.Mask = 64, 16, 32, oneBit(128, 1023) }},
		{name: "from without to", edit: func(j *TileJob) { j.SPP, j.From = 64, 4 }, want: "samples [4,0)"},
		{name: "empty range", edit: func(j *TileJob) { j.SPP, j.From, j.To = 64, 8, 8 }, want: "not a range within the 64"},
		{name: "past spp", edit: func(j *TileJob) { j.SPP, j.From, j.To = 64, 32, 65 }, want: "not a range within the 64"},
		{name: "negative from", edit: func(j *TileJob) { j.SPP, j.From, j.To = 64, -1, 4 }, want: "samples [-1,4)"},
		{name: "mask without range", edit: func(j *TileJob) { j.Mask = oneBit(128, 0) }, want: "mask without a sample range"},
		{name: "short mask", edit: func(j *TileJob) { j.SPP, j.To, j.Mask = 64, 4, oneBit(127, 0) }, want: "mask of 127 bytes for 1024 pixels"},
		{name: "empty mask", edit: func(j *TileJob) { j.SPP, j.To, j.Mask = 64, 4, make([]byte, 128) }, want: "selects no pixel"},
		{name: "mask past the tile", edit: func(j *TileJob) {
			j.X1, j.Y1, j.SPP, j.To, j.Mask = 63, 47, 64, 4, oneBit(121, 0) // 31x31 = 961 pixels: bit 967 is past them
			j.Mask[120] |= 0x80
		}, want: "selects pixels past the 961"},
		{name: "too big", edit: func(j *TileJob) {
			j.Width, j.Height, j.X0, j.Y0, j.X1, j.Y1 = 1<<30, 1<<30, 0, 0, 1<<30, 1<<30
		}, want: "would not fit in any frame"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := ok
			tt.edit(&j)
			err := j.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && (!errors.Is(err, ErrBadJob) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate: %v, want ErrBadJob saying %q", err, tt.want)
			}
		})
	}
}
