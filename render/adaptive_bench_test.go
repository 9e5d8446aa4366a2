package render

import (
	"context"
	"flag"
	"fmt"
	"image"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var adaptiveBench = flag.String("adaptive-bench", "", "run TestAdaptiveEfficiency on these scenes of ../testdata/scenes, `a.json,b.glb`, and print its table")

// TestAdaptiveEfficiency measures what adaptive sampling buys: for each
// scene, the error (RMSE of the linear RGB clamped to [0,1], what an 8-bit
// image shows, against a 4096-spp reference rendered with samples of its
// own: Frame(1) of a scene where nothing moves) and the CPU time of fixed
// renders of 16 to 1024 spp and of adaptive ones of several noise
// thresholds (ceiling 1024), each rendered pass by pass through a Film on
// one locked thread (the thread's CPU time, which other programs on a
// loaded machine do not inflate). For each adaptive render, the time the
// fixed renders take to reach its RMSE (log-log interpolation between the
// two fixed renders around it) over its own is the speed-up. Long: behind
// -adaptive-bench.
func TestAdaptiveEfficiency(t *testing.T) {
	if *adaptiveBench == "" {
		t.Skip("-adaptive-bench not set")
	}
	for _, name := range strings.Split(*adaptiveBench, ",") {
		s := loadTestScene(t, name)
		set := s.Resolve(Settings{Width: 64, Height: 64, MaxDepth: 8})
		if strings.HasSuffix(name, ".glb") {
			set = s.Resolve(Settings{Width: 80, Height: 50, MaxDepth: 8})
		}
		refScene, err := s.Frame(1)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ref := parallelRender(t, refScene, set, 4096)
		t.Logf("%s %dx%d depth %d: reference of 4096 spp in %v (wall)", name, set.Width, set.Height, set.MaxDepth, time.Since(start).Round(time.Second))
		type point struct {
			label       string
			cpu         time.Duration
			samples     int64
			rmse        float64
			lo, med, hi int
		}
		var fixed, adaptive []point
		for spp := 16; spp <= 1024; spp *= 2 {
			fs := set
			fs.SPP = spp
			f, cpu := filmRender(t, s, fs, 0)
			lo, med, hi := f.SampleStats()
			fixed = append(fixed, point{fmt.Sprintf("-spp %d", spp), cpu, filmSamples(f), clampedRMSE(f.Image(), ref), lo, med, hi})
		}
		for _, noise := range []float64{0.2, 0.1, 0.05, 0.02, 0.01} {
			fs := set
			fs.SPP = 1024
			f, cpu := filmRender(t, s, fs, noise)
			lo, med, hi := f.SampleStats()
			adaptive = append(adaptive, point{fmt.Sprintf("-noise %g", noise), cpu, filmSamples(f), clampedRMSE(f.Image(), ref), lo, med, hi})
		}
		// The fixed renders' CPU time and samples at error e.
		at := func(e float64, get func(point) float64) (float64, bool) {
			for i := 0; i+1 < len(fixed); i++ {
				a, b := fixed[i], fixed[i+1]
				if a.rmse >= e && e >= b.rmse {
					u := (math.Log(a.rmse) - math.Log(e)) / (math.Log(a.rmse) - math.Log(b.rmse))
					return math.Exp(math.Log(get(a)) + u*(math.Log(get(b))-math.Log(get(a)))), true
				}
			}
			return 0, false
		}
		var b strings.Builder
		fmt.Fprintf(&b, "\n%s, %dx%d, depth %d, RMSE against 4096 spp (own samples):\n", name, set.Width, set.Height, set.MaxDepth)
		fmt.Fprintf(&b, "| render | spp min/median/max | samples | CPU s | RMSE | fixed CPU s at that RMSE | speed-up (CPU) | speed-up (samples) |\n|---|---|---|---|---|---|---|---|\n")
		for _, p := range fixed {
			fmt.Fprintf(&b, "| %s | %d/%d/%d | %d | %.2f | %.5f | | | |\n", p.label, p.lo, p.med, p.hi, p.samples, p.cpu.Seconds(), p.rmse)
		}
		for _, p := range adaptive {
			tf, ok := at(p.rmse, func(q point) float64 { return q.cpu.Seconds() })
			sf, _ := at(p.rmse, func(q point) float64 { return float64(q.samples) })
			if !ok {
				fmt.Fprintf(&b, "| %s | %d/%d/%d | %d | %.2f | %.5f | outside the fixed renders' range | | |\n", p.label, p.lo, p.med, p.hi, p.samples, p.cpu.Seconds(), p.rmse)
				continue
			}
			fmt.Fprintf(&b, "| %s | %d/%d/%d | %d | %.2f | %.5f | %.2f | %.2fx | %.2fx |\n", p.label, p.lo, p.med, p.hi, p.samples, p.cpu.Seconds(), p.rmse, tf, tf/p.cpu.Seconds(), sf/float64(p.samples))
		}
		t.Log(b.String())
	}
}

// filmRender renders set through a Film, pass by pass, every tile of 16
// on this locked thread, and returns it with the thread's CPU time.
func filmRender(t *testing.T, s *Scene, set Settings, noise float64) (*Film, time.Duration) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f, err := NewFilm(set.Width, set.Height, set.SPP, noise)
	if err != nil {
		t.Fatal(err)
	}
	tiles := Tiles(set.Width, set.Height, 16)
	pix := make([]float32, 3*16*16)
	start := threadCPU()
	for {
		from, to, ok := f.Next()
		if !ok {
			break
		}
		for _, r := range tiles {
			mask, n := f.Mask(r)
			if n == 0 {
				continue
			}
			if _, err := s.RenderPass(context.Background(), set, r, Pass{From: from, To: to, Mask: mask}, pix[:3*n]); err != nil {
				t.Fatal(err)
			}
			if err := f.Add(r, mask, pix[:3*n]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.EndPass(); err != nil {
			t.Fatal(err)
		}
	}
	return f, threadCPU() - start
}

// parallelRender renders set at spp samples with every core.
func parallelRender(t *testing.T, s *Scene, set Settings, spp int) *Image {
	t.Helper()
	set.SPP = spp
	img := NewImage(set.Width, set.Height)
	rows := make(chan int)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for y := range rows {
				r := image.Rect(0, y, set.Width, y+1)
				if _, err := s.RenderTile(context.Background(), set, r, img.Pix[3*y*set.Width:3*(y+1)*set.Width]); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for y := range set.Height {
		rows <- y
	}
	close(rows)
	wg.Wait()
	return img
}

func filmSamples(f *Film) int64 {
	var n int64
	for y := range f.height {
		for x := range f.width {
			n += int64(f.Samples(x, y))
		}
	}
	return n
}

// clampedRMSE is the RMSE of a and b, every channel clamped to [0, 1].
func clampedRMSE(a, b *Image) float64 {
	var sum float64
	for i := range a.Pix {
		d := min(max(float64(a.Pix[i]), 0), 1) - min(max(float64(b.Pix[i]), 0), 1)
		sum += d * d
	}
	return math.Sqrt(sum / float64(len(a.Pix)))
}
