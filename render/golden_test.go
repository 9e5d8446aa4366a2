package render

import (
	"bytes"
	"errors"
	"flag"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden images in ../testdata/golden")

// TestGolden renders two tiny scenes and compares them with the images in
// testdata/golden. After an intended change of the renderer's output,
// regenerate them with: go test ./render -run TestGolden -update (and look
// at them).
func TestGolden(t *testing.T) {
	tests := []struct {
		name  string
		scene string
		set   Settings
	}{
		{"cornell", "cornell", Settings{Width: 32, Height: 32, SPP: 8}},
		{"spheres", "spheres", Settings{Width: 48, Height: 30, SPP: 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := loadTestScene(t, tt.scene+".json")
			img, _ := renderAll(t, s, tt.set, 2, 16)
			var buf bytes.Buffer
			if err := img.WritePNG(&buf); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("..", "testdata", "golden", tt.name+".png")
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			want, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			got := img.SRGB()
			if got.Bounds() != want.Bounds() {
				t.Fatalf("size %v, golden %v", got.Bounds(), want.Bounds())
			}
			// Exact on the architecture that wrote the golden file; a
			// compiler that fuses multiply-adds differently would change
			// the noise, not the mean, so compare the mean difference.
			diff, n, exact := 0.0, 0, true
			b := want.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					r, g, bl, _ := want.At(x, y).RGBA()
					c := got.NRGBAAt(x, y)
					for _, d := range []float64{float64(c.R) - float64(r>>8), float64(c.G) - float64(g>>8), float64(c.B) - float64(bl>>8)} {
						diff += math.Abs(d)
						n++
						exact = exact && d == 0
					}
				}
			}
			if mean := diff / float64(n); mean > 0.5 {
				t.Errorf("mean difference from %s is %.2f levels of 255 (more than 0.5): the renderer's output changed; if that is intended, run with -update and look at the image", path, mean)
			} else if !exact {
				t.Logf("%s: mean difference %.3f levels", path, mean)
			}
		})
	}
}

func TestImageOutput(t *testing.T) {
	m := NewImage(2, 2)
	m.SetTile(image.Rect(0, 0, 2, 2), []float32{
		0, 0.5, 1, 2, -1, float32(math.NaN()),
		0.0031308, 0.2158605, 0.5, 1, 1, 1,
	})
	t.Run("sRGB", func(t *testing.T) {
		got := m.SRGB()
		want := []uint8{0, 188, 255, 255, 0, 0, 10, 128, 188, 255, 255, 255}
		for i, w := range want {
			if c := got.Pix[i/3*4+i%3]; c != w {
				t.Errorf("channel %d = %d, want %d", i, c, w)
			}
			if a := got.Pix[i/3*4+3]; a != 255 {
				t.Errorf("alpha %d", a)
			}
		}
	})
	t.Run("PNG round trip", func(t *testing.T) {
		var buf bytes.Buffer
		if err := m.WritePNG(&buf); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, g, _, _ := img.At(0, 1).RGBA(); g>>8 != 128 {
			t.Errorf("pixel (0,1) green = %d, want 128", g>>8)
		}
	})
	t.Run("PFM layout", func(t *testing.T) {
		var buf bytes.Buffer
		if err := m.WritePFM(&buf); err != nil {
			t.Fatal(err)
		}
		data := buf.Bytes()
		header := "PF\n2 2\n-1.0\n"
		if !bytes.HasPrefix(data, []byte(header)) || len(data) != len(header)+2*2*12 {
			t.Fatalf("PFM of %d bytes starting %q", len(data), data[:min(len(data), 12)])
		}
		// Rows bottom to top, little-endian float32.
		f := func(i int) float32 {
			o := len(header) + 4*i
			return math.Float32frombits(uint32(data[o]) | uint32(data[o+1])<<8 | uint32(data[o+2])<<16 | uint32(data[o+3])<<24)
		}
		if f(0) != 0.0031308 || f(5) != 1 || f(6) != 0 || f(7) != 0.5 {
			t.Errorf("PFM floats %v %v %v %v, want the bottom row first", f(0), f(5), f(6), f(7))
		}
	})
	t.Run("Save by extension", func(t *testing.T) {
		dir := t.TempDir()
		for _, name := range []string{"a.png", "a.PFM"} {
			if err := m.Save(filepath.Join(dir, name)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if err := m.Save(filepath.Join(dir, "a.jpg")); err == nil {
			t.Error("saved a .jpg; want ErrFormat")
		}
		// Atomic: an existing file is replaced whole, no temporary file
		// stays, and a write that fails leaves the old file as it was.
		old := filepath.Join(dir, "a.png")
		before, _ := os.ReadFile(old)
		m2 := NewImage(3, 1)
		if err := m2.Save(old); err != nil {
			t.Fatal(err)
		}
		after, _ := os.ReadFile(old)
		var want bytes.Buffer
		if err := m2.WritePNG(&want); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(before, after) || !bytes.Equal(after, want.Bytes()) {
			t.Error("Save over an existing file did not replace it with the new image")
		}
		if err := writeAtomic(old, func(w io.Writer) error {
			w.Write([]byte("half an ima"))
			return errors.New("disk full")
		}); err == nil {
			t.Error("a failed write reported no error")
		}
		if got, _ := os.ReadFile(old); !bytes.Equal(got, after) {
			t.Error("a failed write changed the file")
		}
		if st, err := os.Stat(old); err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("mode %v, %v, want 0644", st.Mode(), err)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Errorf("temporary file %s left behind", e.Name())
			}
		}
	})
	t.Run("Tile and SetTile clip to the image", func(t *testing.T) {
		got := m.Tile(image.Rect(1, 1, 3, 2))
		want := []float32{1, 1, 1, 0, 0, 0}
		if firstDiff(got, want) >= 0 {
			t.Errorf("Tile = %v, want %v", got, want)
		}
		m2 := NewImage(2, 2)
		m2.SetTile(image.Rect(1, 1, 3, 3), []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
		if want := []float32{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}; firstDiff(m2.Pix, want) >= 0 {
			t.Errorf("SetTile = %v, want %v", m2.Pix, want)
		}
	})
}
