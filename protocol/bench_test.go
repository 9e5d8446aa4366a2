package protocol

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// renderedTile returns n pixels that look like a path-traced tile at 16
// samples per pixel: a smooth shading times the mean of 16 noisy samples,
// with a few black (missed) pixels. Real renders have the same random low
// mantissa bits, which is what decides whether a lossless coder helps.
func renderedTile(n int) []float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	rgb := make([]float32, 3*n)
	for p := range n {
		shade := 0.2 + 0.6*float64(p%32)/32
		if rng.IntN(50) == 0 {
			continue
		}
		for c := range 3 {
			var sum float64
			for range 16 {
				sum += rng.ExpFloat64()
			}
			rgb[3*p+c] = float32(shade * float64(c+1) / 3 * sum / 16)
		}
	}
	return rgb
}

func tileResult32() TileResult {
	return TileResult{Job: 123456, Epoch: 2, Pixels: EncodePixels(renderedTile(32 * 32)), Rays: 40000, Nanos: 7_000_000}
}

// BenchmarkTileResult encodes and decodes a 32x32 tile result, as a Conn
// does (the decoded pixels are a copy).
func BenchmarkTileResult(b *testing.B) {
	m := tileResult32()
	b.Run("codec", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = AppendFrame(buf[:0], m)
			if _, err := decodePayload(buf[4:], false, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf))/(32*32), "bytes/pixel")
	})
	b.Run("codec+pixels", func(b *testing.B) {
		// What a node and a controller do: floats to frame to floats.
		b.ReportAllocs()
		rgb := renderedTile(32 * 32)
		var buf []byte
		for b.Loop() {
			r := m
			r.Pixels = EncodePixels(rgb)
			buf, _ = AppendFrame(buf[:0], r)
			got, err := decodePayload(buf[4:], false, nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := DecodePixels(got.(TileResult).Pixels, 32*32); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf))/(32*32), "bytes/pixel")
	})
	b.Run("codec+seal", func(b *testing.B) {
		// What a Conn does with a token: encode, seal, open, decode.
		b.ReportAllocs()
		_, tx := sealedReaderConn(b, nil)
		_, rx := sealedReaderConn(b, nil)
		rx.aead, rx.iv = tx.aead, tx.iv
		var buf []byte
		for b.Loop() {
			buf, _ = AppendFrame(buf[:0], m)
			buf = tx.seal(slices.Grow(buf, SealOverhead))
			p, err := rx.open(buf[:4], buf[4:])
			if err != nil {
				b.Fatal(err)
			}
			if _, err := decodePayload(p, false, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf))/(32*32), "bytes/pixel")
	})
	b.Run("msgpack-library", func(b *testing.B) {
		// For comparison: the same body through the library's reflection.
		b.ReportAllocs()
		var n int
		for b.Loop() {
			p, err := msgpack.Marshal(&m)
			if err != nil {
				b.Fatal(err)
			}
			var got TileResult
			if err := msgpack.Unmarshal(p, &got); err != nil {
				b.Fatal(err)
			}
			n = len(p)
		}
		b.ReportMetric(float64(n+6)/(32*32), "bytes/pixel")
	})
}

func BenchmarkTileJob(b *testing.B) {
	m := TileJob{Job: 123456, Scene: "9f86d081884c7d659a2feaa0c55ad015", Width: 1920, Height: 1080, SPP: 16,
		MaxDepth: 8, X0: 1888, Y0: 1056, X1: 1920, Y1: 1080, Epoch: 2}
	b.Run("codec", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		intern := ""
		for b.Loop() {
			buf, _ = AppendFrame(buf[:0], m)
			if _, err := decodePayload(buf[4:], false, &intern); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf)), "bytes/frame")
	})
	b.Run("msgpack-library", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := msgpack.Marshal(&m)
			if err != nil {
				b.Fatal(err)
			}
			var got TileJob
			if err := msgpack.Unmarshal(p, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoopback sends tile jobs over one loopback TCP connection to an
// echo "node" that answers each with a 4x4 tile result, pipelined (up to
// 256 jobs in flight). One op is one tile: a job out and a result back.
func BenchmarkLoopback(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchmarkLoopback(b, "") })
	b.Run("sealed", func(b *testing.B) { benchmarkLoopback(b, "s3cret") })
}

func benchmarkLoopback(b *testing.B, token string) {
	b.ReportAllocs()
	ctl, node := sealedPair(b, token)
	pixels := EncodePixels(renderedTile(16))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ctl.Close()
	defer node.Close()
	wg.Go(func() { // the node: a result per job
		for {
			m, err := node.Recv()
			if err != nil {
				return
			}
			j := m.(TileJob)
			if node.Send(TileResult{Job: j.Job, Epoch: j.Epoch, Pixels: pixels, Rays: 16, Nanos: 1000}) != nil {
				return
			}
		}
	})
	window := make(chan struct{}, 256)
	start := time.Now()
	wg.Go(func() { // the controller's sender
		job := TileJob{Scene: "9f86d081884c7d65", Width: 512, Height: 512, SPP: 1, MaxDepth: 1, X1: 4, Y1: 4}
		for i := range b.N {
			window <- struct{}{}
			job.Job = uint64(i + 1)
			if err := ctl.Send(job); err != nil {
				b.Error(err)
				return
			}
		}
	})
	for range b.N {
		m, err := ctl.Recv()
		if err != nil {
			b.Fatal(err)
		}
		if len(m.(TileResult).Pixels) != 16*BytesPerPixel {
			b.Fatal("wrong result")
		}
		<-window
	}
	elapsed := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)/elapsed, "tiles/s")
	b.ReportMetric(2*float64(b.N)/elapsed, "frames/s")
}

// BenchmarkPixelEncodings measures lossless encodings of a 32x32 tile of
// float32 RGB against the raw one, round trip, to decide whether one earns
// its cost. They live here, not in the package: see PROTOCOL.md, "Pixels".
func BenchmarkPixelEncodings(b *testing.B) {
	rgb := renderedTile(32 * 32)
	raw := EncodePixels(rgb)
	codecs := []struct {
		name   string
		encode func([]byte) []byte
		decode func([]byte) []byte
	}{
		{name: "raw", encode: bytes.Clone, decode: bytes.Clone},
		{name: "shuffle+flate", encode: func(p []byte) []byte { return deflate(shuffle(p)) },
			decode: func(p []byte) []byte { return unshuffle(inflate(p)) }},
		{name: "xor+shuffle+flate", encode: func(p []byte) []byte { return deflate(shuffle(xorPrev(p))) },
			decode: func(p []byte) []byte { return unxorPrev(unshuffle(inflate(p))) }},
	}
	for _, c := range codecs {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				enc := c.encode(raw)
				if dec := c.decode(enc); !bytes.Equal(dec, raw) {
					b.Fatal("not lossless")
				}
				n = len(enc)
			}
			b.ReportMetric(float64(n)/(32*32), "bytes/pixel")
		})
	}
}

// shuffle groups byte k of every float32 together (byte planes).
func shuffle(p []byte) []byte {
	n := len(p) / 4
	out := make([]byte, len(p))
	for i := range n {
		for k := range 4 {
			out[k*n+i] = p[4*i+k]
		}
	}
	return out
}

func unshuffle(p []byte) []byte {
	n := len(p) / 4
	out := make([]byte, len(p))
	for i := range n {
		for k := range 4 {
			out[4*i+k] = p[k*n+i]
		}
	}
	return out
}

// xorPrev replaces each float's bits by their XOR with the same channel of
// the previous pixel.
func xorPrev(p []byte) []byte {
	out := bytes.Clone(p)
	for i := len(p)/4 - 1; i >= 3; i-- {
		v := binary.LittleEndian.Uint32(p[4*i:]) ^ binary.LittleEndian.Uint32(p[4*(i-3):])
		binary.LittleEndian.PutUint32(out[4*i:], v)
	}
	return out
}

func unxorPrev(p []byte) []byte {
	out := bytes.Clone(p)
	for i := 3; i < len(p)/4; i++ {
		v := binary.LittleEndian.Uint32(out[4*i:]) ^ binary.LittleEndian.Uint32(out[4*(i-3):])
		binary.LittleEndian.PutUint32(out[4*i:], v)
	}
	return out
}

func deflate(p []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	w.Write(p)
	w.Close()
	return buf.Bytes()
}

func inflate(p []byte) []byte {
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(p)))
	if err != nil {
		return nil // the round trip then fails
	}
	return out
}

// BenchmarkPixels converts a 32x32 tile of floats to its wire form and back.
func BenchmarkPixels(b *testing.B) {
	rgb := renderedTile(32 * 32)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			EncodePixels(rgb)
		}
	})
	wire := EncodePixels(rgb)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodePixels(wire, 32*32); err != nil {
				b.Fatal(err)
			}
		}
	})
}
