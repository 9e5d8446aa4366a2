package preview

import (
	"fmt"
	"image"
	"testing"
)

// BenchmarkTile measures one 32x32 tile. "caller" is what the controller's
// goroutine pays in Tile (checks and a copy); "total" adds the background
// work: the sRGB conversion, the encoding and the fan-out, here to pages
// that read nothing (their queues fill, then they are marked for a resync).
func BenchmarkTile(b *testing.B) {
	for _, pages := range []int{0, 4} {
		for _, mode := range []string{"caller", "total"} {
			b.Run(fmt.Sprintf("%s/pages=%d", mode, pages), func(b *testing.B) {
				s := newServer(b, Config{Width: 1024, Height: 1024})
				for range pages {
					c := s.subscribe()
					<-c.kick
					s.resync(c)
					b.Cleanup(func() { s.unsubscribe(c) })
				}
				r := image.Rect(0, 0, 32, 32)
				pix := gradient(r)
				b.ReportAllocs()
				b.SetBytes(int64(len(pix) * 4))
				i := 0
				for b.Loop() {
					x, y := (i%32)*32, (i/32%32)*32
					if err := s.Tile(r.Add(image.Pt(x, y)), pix, "n1"); err != nil {
						b.Fatal(err)
					}
					i++
					switch {
					case mode == "total":
						s.flush()
					case i%64 == 0: // keep the queue short, off the clock
						b.StopTimer()
						s.flush()
						b.StartTimer()
					}
				}
			})
		}
	}
}
