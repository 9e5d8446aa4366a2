package render

import (
	"errors"
	"image"
	"strings"
	"testing"
)

func TestLimitsCheckSettingsAndTile(t *testing.T) {
	ok := Settings{Width: 64, Height: 32, SPP: 4, MaxDepth: 8}
	small := Limits{MaxImageSide: 64, MaxSPP: 4, MaxDepth: 8, MaxTilePixels: 16}
	for _, tc := range []struct {
		name  string
		lim   Limits
		set   Settings
		tile  image.Rectangle
		limit string // the limit named; "" for a plain ErrBadSettings or ErrBadTile; "-" for valid
	}{
		{name: "defaults", set: ok, tile: image.Rect(0, 0, 32, 32), limit: "-"},
		{name: "at every limit", lim: small, set: ok, tile: image.Rect(0, 0, 4, 4), limit: "-"},
		{name: "wide", lim: small, set: Settings{Width: 65, Height: 1, SPP: 1, MaxDepth: 1}, tile: image.Rect(0, 0, 1, 1), limit: "MaxImageSide=64"},
		{name: "tall", lim: small, set: Settings{Width: 1, Height: 65, SPP: 1, MaxDepth: 1}, tile: image.Rect(0, 0, 1, 1), limit: "MaxImageSide=64"},
		{name: "samples", lim: small, set: Settings{Width: 1, Height: 1, SPP: 5, MaxDepth: 1}, tile: image.Rect(0, 0, 1, 1), limit: "MaxSPP=4"},
		{name: "depth", lim: small, set: Settings{Width: 1, Height: 1, SPP: 1, MaxDepth: 9}, tile: image.Rect(0, 0, 1, 1), limit: "MaxDepth=8"},
		{name: "tile", lim: small, set: ok, tile: image.Rect(0, 0, 17, 1), limit: "MaxTilePixels=16"},
		{name: "default samples", set: Settings{Width: 1, Height: 1, SPP: 1<<16 + 1, MaxDepth: 1}, tile: image.Rect(0, 0, 1, 1), limit: "MaxSPP=65536"},
		{name: "default tile", set: Settings{Width: 2048, Height: 2048, SPP: 1, MaxDepth: 1}, tile: image.Rect(0, 0, 1025, 1024), limit: "MaxTilePixels=1048576"},
		{name: "no samples", set: Settings{Width: 1, Height: 1, SPP: 0, MaxDepth: 1}, tile: image.Rect(0, 0, 1, 1)},
		{name: "tile outside", set: ok, tile: image.Rect(60, 0, 65, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.lim.CheckTile(tc.set, tc.tile)
			switch {
			case tc.limit == "-":
				if err != nil {
					t.Fatalf("CheckTile: %v", err)
				}
			case tc.limit == "":
				if err == nil || errors.Is(err, ErrLimit) || !(errors.Is(err, ErrBadSettings) || errors.Is(err, ErrBadTile)) {
					t.Fatalf("CheckTile: %v, want ErrBadSettings or ErrBadTile and no limit", err)
				}
			default:
				var le *LimitError
				if !errors.As(err, &le) || !strings.Contains(err.Error(), "limit "+tc.limit) {
					t.Fatalf("CheckTile: %v, want a *LimitError naming %s", err, tc.limit)
				}
			}
		})
	}
}
