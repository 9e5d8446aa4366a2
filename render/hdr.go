package render

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Radiance pictures (.hdr), as the format's description in the Radiance
// reference manual ("Radiance File Formats", picture file) has them:
//
//   - a header of text lines: "#?RADIANCE" (or "#?RGBE"), then lines such as
//     FORMAT=32-bit_rle_rgbe, EXPOSURE=f (cumulative: the pixels were
//     multiplied by every EXPOSURE, so they are divided here), COLORCORR=r g b
//     (the same per primary) and any others (ignored), ended by an empty line;
//   - a resolution line "-Y H +X W" (the usual one: rows top to bottom, each
//     left to right), or any of the other seven orders: the sign is the
//     direction along the axis, and "+X W -Y H" and the like run their
//     scanlines down columns;
//   - the scanlines, each either flat (4 bytes a pixel: R, G, B mantissas
//     and a shared exponent E, the value (M+0.5)·2^(E-136), 0 when E is 0),
//     possibly with the old run-length form (a pixel 1,1,1,n repeats the one
//     before it n times, n shifted left by 8 more for each repeat in a row),
//     or in the newer run-length form for lines of 8 to 32767 pixels: the
//     bytes 2, 2, then the length in 15 bits big-endian, then each of the 4
//     components in turn as runs (a count byte over 128: one byte repeated
//     count-128 times; otherwise count literal bytes).
//
// Every error names the byte offset where it was found.

// hdrMaxSide bounds a side in the resolution line before any pixel
// is counted against the texture limit: more is certainly a broken file.
const hdrMaxSide = 1 << 24

// hdrError is a malformed Radiance picture: what is wrong, and the byte
// offset in the file at which it was found.
type hdrError struct {
	off int
	msg string
	err error // or what is wrong, when it is an error of its own (a *LimitError)
}

func (e *hdrError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return e.msg
}

func (e *hdrError) Unwrap() error { return e.err }

// hdrDecoder reads one picture from data.
type hdrDecoder struct {
	data []byte
	off  int
}

func (d *hdrDecoder) fail(off int, format string, args ...any) error {
	return &hdrError{off: off, msg: fmt.Sprintf(format, args...)}
}

// line returns the next header line without its newline.
func (d *hdrDecoder) line(what string) (string, int, error) {
	start := d.off
	i := bytes.IndexByte(d.data[start:], '\n')
	if i < 0 {
		return "", start, d.fail(len(d.data), "truncated: the file ends (%d bytes) inside the %s", len(d.data), what)
	}
	d.off = start + i + 1
	return string(d.data[start : start+i]), start, nil
}

// hdrPicture is a decoded picture: linear RGB, row 0 at the top, each row
// left to right.
type hdrPicture struct {
	w, h int
	pix  []float32 // 3 per pixel
}

// decodeHDR decodes a Radiance picture of at most maxPixels pixels. Errors
// are *hdrError (wrapping a *LimitError for too many pixels).
func decodeHDR(data []byte, maxPixels int) (*hdrPicture, error) {
	d := &hdrDecoder{data: data}
	magic, _, err := d.line("first line")
	if err != nil {
		if !bytes.HasPrefix(data, []byte("#?")) {
			return nil, d.fail(0, `not a Radiance picture: expected "#?RADIANCE" at byte 0`)
		}
		return nil, err
	}
	if magic != "#?RADIANCE" && magic != "#?RGBE" {
		return nil, d.fail(0, `not a Radiance picture: expected "#?RADIANCE" at byte 0, got %q`, clip(magic))
	}
	scale := [3]float64{1, 1, 1}
	for {
		ln, at, err := d.line("header")
		if err != nil {
			return nil, err
		}
		if ln == "" {
			break
		}
		key, val, ok := strings.Cut(ln, "=")
		if !ok {
			continue // a comment or a command line of the picture's history
		}
		switch strings.TrimSpace(key) {
		case "FORMAT":
			if f := strings.TrimSpace(val); f != "32-bit_rle_rgbe" {
				return nil, d.fail(at, "header: FORMAT=%s: expected 32-bit_rle_rgbe (XYZ pictures are not read)", clip(f))
			}
		case "EXPOSURE":
			e, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err != nil || !(e > 0) || math.IsInf(e, 0) {
				return nil, d.fail(at, "header: EXPOSURE=%s: expected a number > 0", clip(val))
			}
			for c := range scale {
				scale[c] /= e
			}
			if !scaleOK(scale) {
				return nil, d.fail(at, "header: EXPOSURE=%s: the exposures together scale the pixels out of range", clip(val))
			}
		case "COLORCORR":
			f := strings.Fields(val)
			if len(f) != 3 {
				return nil, d.fail(at, "header: COLORCORR=%s: expected three numbers > 0", clip(val))
			}
			for c := range scale {
				k, err := strconv.ParseFloat(f[c], 64)
				if err != nil || !(k > 0) || math.IsInf(k, 0) {
					return nil, d.fail(at, "header: COLORCORR=%s: expected three numbers > 0", clip(val))
				}
				scale[c] /= k
			}
			if !scaleOK(scale) {
				return nil, d.fail(at, "header: COLORCORR=%s: the corrections together scale the pixels out of range", clip(val))
			}
		}
	}
	res, at, err := d.line("resolution line")
	if err != nil {
		return nil, err
	}
	o, err := parseResolution(res)
	if err != nil {
		return nil, d.fail(at, "resolution line %q: %v", clip(res), err)
	}
	w, h := o.width(), o.height()
	if px := int64(w) * int64(h); px > int64(maxPixels) {
		return nil, &hdrError{off: at, err: &LimitError{Limit: "MaxTexturePixels", What: fmt.Sprintf("pixels (%dx%d)", w, h), Value: px, Max: int64(maxPixels)}}
	}
	pic := &hdrPicture{w: w, h: h, pix: make([]float32, w*h*3)}
	line := make([]byte, 4*o.n2) // one scanline of RGBE
	for s := 0; s < o.n1; s++ {
		if err := d.scanline(line, s, o.n1); err != nil {
			return nil, err
		}
		for k := 0; k < o.n2; k++ {
			x, y := o.place(s, k)
			i := (y*w + x) * 3
			p := line[4*k : 4*k+4]
			if p[3] == 0 {
				continue // black
			}
			f := math.Ldexp(1, int(p[3])-136)
			for c := 0; c < 3; c++ {
				pic.pix[i+c] = float32(min((float64(p[c])+0.5)*f*scale[c], math.MaxFloat32))
			}
		}
	}
	return pic, nil
}

// scaleOK reports whether the pixels' scale factors are usable: neither 0
// nor infinite.
func scaleOK(s [3]float64) bool {
	for _, k := range s {
		if !(k > 1e-30 && k < 1e30) {
			return false
		}
	}
	return true
}

// clip shortens text quoted in an error.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// hdrOrder is a resolution line: n1 scanlines along axis a1 ('X' or 'Y'),
// of n2 pixels along the other, in the directions of the signs.
type hdrOrder struct {
	a1         byte
	plus1      bool // scanlines advance towards +a1 (+Y is up, +X right)
	plus2      bool // pixels advance towards +a2
	n1, n2     int
	transposed bool // a1 is X: scanlines are columns
}

func (o hdrOrder) width() int {
	if o.transposed {
		return o.n1
	}
	return o.n2
}

func (o hdrOrder) height() int {
	if o.transposed {
		return o.n2
	}
	return o.n1
}

// place returns the column and row (row 0 at the top) of pixel k of
// scanline s.
func (o hdrOrder) place(s, k int) (x, y int) {
	c1, c2 := s, k // coordinates along +a1 and +a2 (+Y up, +X right)
	if !o.plus1 {
		c1 = o.n1 - 1 - s
	}
	if !o.plus2 {
		c2 = o.n2 - 1 - k
	}
	if o.transposed {
		return c1, o.n2 - 1 - c2
	}
	return c2, o.n1 - 1 - c1
}

// parseResolution parses a resolution line such as "-Y 512 +X 1024".
func parseResolution(s string) (hdrOrder, error) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return hdrOrder{}, fmt.Errorf(`expected four fields such as "-Y 512 +X 1024"`)
	}
	axis := func(t string) (byte, bool, error) {
		if len(t) != 2 || (t[0] != '+' && t[0] != '-') || (t[1] != 'X' && t[1] != 'Y') {
			return 0, false, fmt.Errorf("expected +X, -X, +Y or -Y, got %q", clip(t))
		}
		return t[1], t[0] == '+', nil
	}
	size := func(t string) (int, error) {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > hdrMaxSide {
			return 0, fmt.Errorf("expected a size from 1 to %d pixels, got %q", hdrMaxSide, clip(t))
		}
		return n, nil
	}
	var o hdrOrder
	var a2 byte
	var err error
	if o.a1, o.plus1, err = axis(f[0]); err != nil {
		return o, err
	}
	if a2, o.plus2, err = axis(f[2]); err != nil {
		return o, err
	}
	if o.a1 == a2 {
		return o, fmt.Errorf("both axes are %c", a2)
	}
	if o.n1, err = size(f[1]); err != nil {
		return o, err
	}
	if o.n2, err = size(f[3]); err != nil {
		return o, err
	}
	o.transposed = o.a1 == 'X'
	return o, nil
}

// channelNames name the components of an RGBE pixel in errors.
var channelNames = [4]string{"red", "green", "blue", "exponent"}

// scanline reads scanline s (of n) into line, 4 bytes a pixel.
func (d *hdrDecoder) scanline(line []byte, s, n int) error {
	w := len(line) / 4
	data := d.data
	truncated := func() error {
		return d.fail(len(data), "truncated: the file ends (%d bytes) in scanline %d of %d", len(data), s+1, n)
	}
	if w >= 8 && w <= 0x7fff && d.off+4 <= len(data) && data[d.off] == 2 && data[d.off+1] == 2 && data[d.off+2]&0x80 == 0 {
		if got := int(data[d.off+2])<<8 | int(data[d.off+3]); got != w {
			return d.fail(d.off, "scanline %d of %d: its run-length header gives %d pixels, the picture has %d", s+1, n, got, w)
		}
		d.off += 4
		for c := 0; c < 4; c++ {
			for i := 0; i < w; {
				if d.off >= len(data) {
					return truncated()
				}
				at, count := d.off, int(data[d.off])
				d.off++
				if count > 128 {
					count -= 128
					if count > w-i {
						return d.fail(at, "scanline %d of %d, %s: a run of %d pixels is longer than the %d left in the line", s+1, n, channelNames[c], count, w-i)
					}
					if d.off >= len(data) {
						return truncated()
					}
					v := data[d.off]
					d.off++
					for ; count > 0; count-- {
						line[4*i+c] = v
						i++
					}
					continue
				}
				if count == 0 {
					return d.fail(at, "scanline %d of %d, %s: a run of length 0", s+1, n, channelNames[c])
				}
				if count > w-i {
					return d.fail(at, "scanline %d of %d, %s: a run of %d pixels is longer than the %d left in the line", s+1, n, channelNames[c], count, w-i)
				}
				if d.off+count > len(data) {
					return truncated()
				}
				for _, v := range data[d.off : d.off+count] {
					line[4*i+c] = v
					i++
				}
				d.off += count
			}
		}
		return nil
	}
	// Flat pixels, with the old form's repeats.
	shift := 0
	for i := 0; i < w; {
		if d.off+4 > len(data) {
			return truncated()
		}
		at, p := d.off, data[d.off:d.off+4]
		d.off += 4
		if p[0] == 1 && p[1] == 1 && p[2] == 1 {
			if i == 0 {
				return d.fail(at, "scanline %d of %d: a repeat (1,1,1,%d) with no pixel before it in the line", s+1, n, p[3])
			}
			if shift > 24 {
				return d.fail(at, "scanline %d of %d: more than 4 repeats in a row", s+1, n)
			}
			count := int(p[3]) << shift
			if count > w-i {
				return d.fail(at, "scanline %d of %d: a repeat of %d pixels is longer than the %d left in the line", s+1, n, count, w-i)
			}
			for ; count > 0; count-- {
				copy(line[4*i:4*i+4], line[4*i-4:4*i])
				i++
			}
			shift += 8
			continue
		}
		copy(line[4*i:4*i+4], p)
		i++
		shift = 0
	}
	return nil
}
