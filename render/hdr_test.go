package render

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// rgbe encodes a colour as Radiance does (float2rgbe): a shared exponent
// from the largest component, mantissas truncated.
func rgbe(c [3]float32) [4]byte {
	v := max(c[0], c[1], c[2])
	if v < 1e-32 {
		return [4]byte{}
	}
	m, e := math.Frexp(float64(v))
	k := m * 256 / float64(v)
	return [4]byte{byte(float64(c[0]) * k), byte(float64(c[1]) * k), byte(float64(c[2]) * k), byte(e + 128)}
}

// unrgbe is the value the reader gives an RGBE pixel.
func unrgbe(p [4]byte) [3]float32 {
	if p[3] == 0 {
		return [3]float32{}
	}
	f := math.Ldexp(1, int(p[3])-136)
	return [3]float32{float32((float64(p[0]) + 0.5) * f), float32((float64(p[1]) + 0.5) * f), float32((float64(p[2]) + 0.5) * f)}
}

// hdrForm is how hdrBytes writes scanlines.
type hdrForm int

const (
	hdrFlat   hdrForm = iota // 4 bytes a pixel
	hdrRLE                   // the newer run-length form (lines of 8 to 32767 pixels)
	hdrOldRLE                // flat with the old form's repeats of the previous pixel
)

// hdrBytes writes a Radiance picture of scanlines (each a slice of RGBE
// pixels) with header lines extra and resolution line res.
func hdrBytes(extra []string, res string, lines [][][4]byte, form hdrForm) []byte {
	var b bytes.Buffer
	b.WriteString("#?RADIANCE\n# written by a tessera test\nFORMAT=32-bit_rle_rgbe\n")
	for _, l := range extra {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n" + res + "\n")
	for _, line := range lines {
		if form == hdrRLE && (len(line) < 8 || len(line) > 0x7fff) {
			form = hdrFlat // what a writer does: the run-length form cannot hold such lines
		}
		switch form {
		case hdrFlat:
			for _, p := range line {
				b.Write(p[:])
			}
		case hdrOldRLE:
			for i := 0; i < len(line); {
				b.Write(line[i][:])
				n := 1
				for i+n < len(line) && line[i+n] == line[i] && n < 256 {
					n++
				}
				if n > 1 {
					b.Write([]byte{1, 1, 1, byte(n - 1)})
				}
				i += n
			}
		case hdrRLE:
			w := len(line)
			b.Write([]byte{2, 2, byte(w >> 8), byte(w)})
			for c := 0; c < 4; c++ {
				for i := 0; i < w; {
					// A run of 3 or more equal bytes, or literals up to the next run.
					n := 1
					for i+n < w && line[i+n][c] == line[i][c] && n < 127 {
						n++
					}
					if n >= 3 {
						b.Write([]byte{byte(128 + n), line[i][c]})
						i += n
						continue
					}
					j := i
					for j < w && j-i < 128 && !(j+2 < w && line[j][c] == line[j+1][c] && line[j][c] == line[j+2][c]) {
						j++
					}
					if j == i {
						j = i + 1
					}
					b.WriteByte(byte(j - i))
					for ; i < j; i++ {
						b.WriteByte(line[i][c])
					}
				}
			}
		}
	}
	return b.Bytes()
}

// testPicture returns w x h RGBE pixels, row 0 at the top, with runs and
// noise, and their decoded values.
func testPicture(w, h int) ([][][4]byte, []float32) {
	rows := make([][][4]byte, h)
	var want []float32
	for y := range rows {
		rows[y] = make([][4]byte, w)
		for x := range rows[y] {
			c := [3]float32{float32(x) / float32(w), float32(y+1) * 0.37, 5}
			if x%7 < 3 { // runs
				c = [3]float32{0.5, 0.25, float32(y) * 100}
			}
			if (x*31+y*17)%11 == 0 {
				c = [3]float32{}
			}
			rows[y][x] = rgbe(c)
			v := unrgbe(rows[y][x])
			want = append(want, v[:]...)
		}
	}
	return rows, want
}

func TestDecodeHDRForms(t *testing.T) {
	rows, want := testPicture(40, 5)
	for _, tt := range []struct {
		name string
		form hdrForm
	}{{"flat", hdrFlat}, {"run-length", hdrRLE}, {"old run-length", hdrOldRLE}} {
		t.Run(tt.name, func(t *testing.T) {
			pic, err := decodeHDR(hdrBytes(nil, "-Y 5 +X 40", rows, tt.form), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if pic.w != 40 || pic.h != 5 {
				t.Fatalf("size %dx%d, want 40x5", pic.w, pic.h)
			}
			if i := firstDiff(pic.pix, want); i >= 0 {
				t.Fatalf("pixel %d channel %d = %v, want %v", i/3, i%3, pic.pix[i], want[i])
			}
		})
	}
	t.Run("short lines are flat whatever they start with", func(t *testing.T) {
		rows := [][][4]byte{{{2, 2, 0, 130}, {1, 1, 1, 1}, {9, 9, 9, 140}}}
		pic, err := decodeHDR(hdrBytes(nil, "-Y 1 +X 3", rows, hdrFlat), 100)
		if err != nil {
			t.Fatal(err)
		}
		a, c := unrgbe(rows[0][0]), unrgbe(rows[0][2])
		want := append(append(a[:], a[:]...), c[:]...)
		if i := firstDiff(pic.pix, want); i >= 0 {
			t.Fatalf("pixel %d channel %d = %v, want %v", i/3, i%3, pic.pix[i], want[i])
		}
	})
	t.Run("old repeats in a row shift by 8", func(t *testing.T) {
		p := rgbe([3]float32{1, 2, 3})
		rows := [][][4]byte{{p, {1, 1, 1, 3}, {1, 1, 1, 1}}} // 1 + 3 + 256 pixels
		pic, err := decodeHDR(hdrBytes(nil, "-Y 1 +X 260", rows, hdrFlat), 1000)
		if err != nil {
			t.Fatal(err)
		}
		v := unrgbe(p)
		for i := 0; i < 260; i++ {
			if got := [3]float32(pic.pix[3*i : 3*i+3]); got != v {
				t.Fatalf("pixel %d = %v, want %v", i, got, v)
			}
		}
	})
}

// TestDecodeHDROrientations: every resolution line puts each pixel where
// its order says. The file's pixels are numbered in file order; the
// picture is checked against where each must land.
func TestDecodeHDROrientations(t *testing.T) {
	const w, h = 3, 2
	// want[row][col] for each line: the file-order index of the pixel shown there.
	tests := []struct {
		res  string
		want [h][w]int
	}{
		{"-Y 2 +X 3", [h][w]int{{0, 1, 2}, {3, 4, 5}}},
		{"-Y 2 -X 3", [h][w]int{{2, 1, 0}, {5, 4, 3}}},
		{"+Y 2 +X 3", [h][w]int{{3, 4, 5}, {0, 1, 2}}},
		{"+Y 2 -X 3", [h][w]int{{5, 4, 3}, {2, 1, 0}}},
		{"+X 3 -Y 2", [h][w]int{{0, 2, 4}, {1, 3, 5}}},
		{"+X 3 +Y 2", [h][w]int{{1, 3, 5}, {0, 2, 4}}},
		{"-X 3 -Y 2", [h][w]int{{4, 2, 0}, {5, 3, 1}}},
		{"-X 3 +Y 2", [h][w]int{{5, 3, 1}, {4, 2, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.res, func(t *testing.T) {
			n1, _ := strconv.Atoi(strings.Fields(tt.res)[1])
			n2 := w * h / n1
			var lines [][][4]byte
			for s := 0; s < n1; s++ {
				var line [][4]byte
				for k := 0; k < n2; k++ {
					line = append(line, rgbe([3]float32{float32(s*n2 + k + 1), 0, 0}))
				}
				lines = append(lines, line)
			}
			pic, err := decodeHDR(hdrBytes(nil, tt.res, lines, hdrFlat), 100)
			if err != nil {
				t.Fatal(err)
			}
			if pic.w != w || pic.h != h {
				t.Fatalf("size %dx%d, want %dx%d", pic.w, pic.h, w, h)
			}
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					got := int(math.Round(float64(pic.pix[(y*w+x)*3]))) - 1
					if got != tt.want[y][x] {
						t.Errorf("row %d column %d shows pixel %d of the file, want %d", y, x, got, tt.want[y][x])
					}
				}
			}
		})
	}
}

func TestDecodeHDRExposure(t *testing.T) {
	p := rgbe([3]float32{1, 1, 1})
	v := unrgbe(p)[0]
	rows := [][][4]byte{{p}}
	tests := []struct {
		name  string
		extra []string
		want  [3]float32
	}{
		{"none", nil, [3]float32{v, v, v}},
		{"exposure", []string{"EXPOSURE= 2.0"}, [3]float32{v / 2, v / 2, v / 2}},
		{"cumulative", []string{"EXPOSURE=2", "SOFTWARE=x", "EXPOSURE=4"}, [3]float32{v / 8, v / 8, v / 8}},
		{"colour correction", []string{"COLORCORR=1 2 0.5"}, [3]float32{v, v / 2, v * 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pic, err := decodeHDR(hdrBytes(tt.extra, "-Y 1 +X 1", rows, hdrFlat), 1)
			if err != nil {
				t.Fatal(err)
			}
			if got := [3]float32(pic.pix); got != tt.want {
				t.Errorf("pixel %v, want %v", got, tt.want)
			}
		})
	}
}

// TestDecodeHDRBroken: every broken file fails with what is wrong and the
// byte offset where it was found, through the scene loader too (the error
// names the .hdr file).
func TestDecodeHDRBroken(t *testing.T) {
	rows, _ := testPicture(16, 2)
	good := hdrBytes(nil, "-Y 2 +X 16", rows, hdrRLE)
	hdrStart := bytes.Index(good, []byte("-Y 2")) + len("-Y 2 +X 16\n")
	header := string(good[:hdrStart])
	// A run-length line whose red runs: a run of 20 repeated bytes in a line of 16.
	longRun := []byte(header + "\x02\x02\x00\x10\x94\x05")
	// A literal run of 17 bytes in a line of 16.
	longLiteral := []byte(header + "\x02\x02\x00\x10\x11")
	tests := []struct {
		name string
		data []byte
		max  int
		off  int
		want string
	}{
		{"empty", nil, 100, 0, `not a Radiance picture`},
		{"not a picture", []byte("P6\n2 2\n255\n"), 100, 0, `not a Radiance picture: expected "#?RADIANCE" at byte 0, got "P6"`},
		{"truncated header", good[:30], 100, 30, "truncated: the file ends (30 bytes) inside the header"},
		{"no resolution line", []byte("#?RADIANCE\n\n-Y 2"), 100, 16, "truncated: the file ends (16 bytes) inside the resolution line"},
		{"XYZ", []byte("#?RADIANCE\nFORMAT=32-bit_rle_xyze\n\n-Y 1 +X 1\n\x80\x80\x80\x80"), 100, 11, "header: FORMAT=32-bit_rle_xyze: expected 32-bit_rle_rgbe"},
		{"bad exposure", []byte("#?RADIANCE\nEXPOSURE=-1\n\n-Y 1 +X 1\n\x80\x80\x80\x80"), 100, 11, "header: EXPOSURE=-1: expected a number > 0"},
		{"exposures out of range", []byte("#?RADIANCE\nEXPOSURE=1e20\nEXPOSURE=1e20\n\n-Y 1 +X 1\n\x80\x80\x80\x80"), 100, 25, "header: EXPOSURE=1e20: the exposures together scale the pixels out of range"},
		{"bad colour correction", []byte("#?RADIANCE\nCOLORCORR=1 1\n\n-Y 1 +X 1\n\x80\x80\x80\x80"), 100, 11, "header: COLORCORR=1 1: expected three numbers > 0"},
		{"bad resolution", []byte("#?RADIANCE\n\n-Y 2 +Y 3\n"), 100, 12, `resolution line "-Y 2 +Y 3": both axes are Y`},
		{"resolution of three fields", []byte("#?RADIANCE\n\n-Y 2 +X\n"), 100, 12, `resolution line "-Y 2 +X": expected four fields`},
		{"zero width", []byte("#?RADIANCE\n\n-Y 2 +X 0\n"), 100, 12, `resolution line "-Y 2 +X 0": expected a size from 1 to 16777216 pixels, got "0"`},
		{"huge dimensions", []byte("#?RADIANCE\n\n-Y 100000 +X 200000\n"), 1 << 26, 12, "20000000000 pixels (200000x100000) exceed limit MaxTexturePixels=67108864"},
		{"dimensions past any limit", []byte("#?RADIANCE\n\n-Y 99999999999999999999 +X 2\n"), 1 << 26, 12, `resolution line "-Y 99999999999999999999 +X 2": expected a size from 1 to 16777216 pixels, got "99999999999999999999"`},
		{"truncated pixels", good[:len(good)-5], 100, len(good) - 5, fmt.Sprintf("truncated: the file ends (%d bytes) in scanline 2 of 2", len(good)-5)},
		{"truncated flat pixels", []byte(header + "\x80\x80\x80\x80"), 100, hdrStart + 4, "truncated: the file ends (" + strconv.Itoa(hdrStart+4) + " bytes) in scanline 1 of 2"},
		{"run longer than the line", longRun, 100, hdrStart + 4, "scanline 1 of 2, red: a run of 20 pixels is longer than the 16 left in the line"},
		{"literals longer than the line", longLiteral, 100, hdrStart + 4, "scanline 1 of 2, red: a run of 17 pixels is longer than the 16 left in the line"},
		{"zero-length run", []byte(header + "\x02\x02\x00\x10\x00"), 100, hdrStart + 4, "scanline 1 of 2, red: a run of length 0"},
		{"run-length header of another width", []byte(header + "\x02\x02\x00\x11"), 100, hdrStart, "scanline 1 of 2: its run-length header gives 17 pixels, the picture has 16"},
		{"old repeat longer than the line", []byte(header + "\x80\x80\x80\x80\x01\x01\x01\x20"), 100, hdrStart + 4, "scanline 1 of 2: a repeat of 32 pixels is longer than the 15 left in the line"},
		{"old repeat first in a line", []byte(header + "\x01\x01\x01\x02"), 100, hdrStart, "scanline 1 of 2: a repeat (1,1,1,2) with no pixel before it in the line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeHDR(tt.data, tt.max)
			var he *hdrError
			if !errors.As(err, &he) {
				t.Fatalf("error %v (%T), want an *hdrError", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) || he.off != tt.off {
				t.Errorf("error %q at byte %d, want %q at byte %d", err, he.off, tt.want, tt.off)
			}
			files := map[string]string{
				"scene.json":   `{` + okCamera + `, "environment": {"file": "maps/sky.hdr"}, "objects": []}`,
				"maps/sky.hdr": string(tt.data),
			}
			_, err = loadFiles(t, files, Limits{MaxTexturePixels: tt.max})
			if want := fmt.Sprintf("render: maps/sky.hdr: byte %d: %s", tt.off, tt.want); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("loading a scene: error %v, want one containing %q", err, want)
			}
		})
	}
}

// readPFM reads a PFM of RGB written by Blender or tessera: rows bottom to
// top in the file, returned top to bottom.
func readPFM(t testing.TB, path string) *Image {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w, h int
	var scale float64
	n, err := fmt.Sscanf(string(data), "PF\n%d %d\n%g\n", &w, &h, &scale)
	if n != 3 || err != nil {
		t.Fatalf("%s: not a PFM: %v", path, err)
	}
	body := data[len(data)-w*h*12:]
	order := binary.ByteOrder(binary.LittleEndian)
	if scale > 0 {
		order = binary.BigEndian
	}
	img := NewImage(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w*3; x++ {
			img.Pix[y*w*3+x] = math.Float32frombits(order.Uint32(body[((h-1-y)*w*3+x)*4:]))
		}
	}
	return img
}

// TestDecodeHDRAsBlender: a map written by Blender's Radiance writer
// (testdata/env/shrink.py: sunset.hdr scaled to 128x64, run-length
// encoded) decodes to exactly the pixels Blender itself reads from it.
func TestDecodeHDRAsBlender(t *testing.T) {
	data, err := os.ReadFile("../testdata/env/sunset-128.hdr")
	if err != nil {
		t.Fatal(err)
	}
	pic, err := decodeHDR(data, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := readPFM(t, "../testdata/env/sunset-128.pfm")
	if pic.w != want.Width || pic.h != want.Height {
		t.Fatalf("size %dx%d, Blender's %dx%d", pic.w, pic.h, want.Width, want.Height)
	}
	if i := firstDiff(pic.pix, want.Pix); i >= 0 {
		t.Fatalf("pixel (%d, %d) channel %d = %v, Blender reads %v", i/3%pic.w, i/3/pic.w, i%3, pic.pix[i], want.Pix[i])
	}
}

// sharedModel reads a file of the team's shared models (../shared/models
// beside the repository, or beside a worktree's parent), or skips the test:
// they are not part of the repository.
func sharedModel(t *testing.T, name string) []byte {
	t.Helper()
	for _, dir := range []string{"../../shared/models/", "../../../shared/models/"} {
		if data, err := os.ReadFile(dir + name); err == nil {
			return data
		}
	}
	t.Skipf("%s is not at hand", name)
	return nil
}

// TestDecodeHDRRealMaps decodes the team's full-size maps when they are at
// hand.
func TestDecodeHDRRealMaps(t *testing.T) {
	for _, name := range []string{"forest", "studio", "sunset"} {
		t.Run(name, func(t *testing.T) {
			data := sharedModel(t, "env/"+name+".hdr")
			pic, err := decodeHDR(data, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if pic.w != 1024 || pic.h != 512 {
				t.Errorf("size %dx%d, want 1024x512", pic.w, pic.h)
			}
		})
	}
}

// FuzzHDR decodes arbitrary bytes as a Radiance picture, alone and as a
// scene's environment: an *hdrError or a picture, never a panic, memory
// bounded by the pixel limit, and a scene that loads renders.
func FuzzHDR(f *testing.F) {
	rows, _ := testPicture(16, 3)
	for _, form := range []hdrForm{hdrFlat, hdrRLE, hdrOldRLE} {
		f.Add(hdrBytes([]string{"EXPOSURE=2"}, "-Y 3 +X 16", rows, form))
	}
	f.Add(hdrBytes(nil, "+X 16 -Y 3", rows, hdrRLE))
	f.Add(readSeed(f, "../testdata/env/sunset-128.hdr")[:4000])
	f.Add([]byte("#?RGBE\nCOLORCORR=1 2 3\n\n-Y 1 +X 2\n\x01\x01\x01\x01\x80\x80\x80\x80"))
	f.Add([]byte("#?RADIANCE\n\n-Y 1 +X 8\n\x02\x02\x00\x08\x88\x01\x08\x01\x02\x03\x04\x05\x06\x07\x08\x88\x00\x88\x80"))
	scene := []byte(`{` + okCamera + `, "image": {"width": 4, "height": 4, "spp": 1},
  "environment": {"file": "e.hdr", "rotate": 30},
  "materials": {` + whiteMat + `},
  "objects": [{"type": "sphere", "center": [0, 1, 0], "radius": 1, "material": "white"}]}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		pic, err := decodeHDR(data, fuzzLimits.MaxTexturePixels)
		var he *hdrError
		if err != nil && !errors.As(err, &he) {
			t.Fatalf("error %v (%T), want an *hdrError", err, err)
		}
		if err == nil && len(pic.pix) != pic.w*pic.h*3 {
			t.Fatalf("%dx%d picture with %d values", pic.w, pic.h, len(pic.pix))
		}
		b := &Bundle{Main: "scene.json", Files: map[string][]byte{"scene.json": scene, "e.hdr": data}}
		s, err := LoadBundle(b, fuzzLimits)
		checkLoadErr(t, err)
		if err == nil {
			fuzzRender(t, s)
		}
	})
}
