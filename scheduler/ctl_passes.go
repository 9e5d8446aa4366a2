package scheduler

// Progressive rendering (Config.Progressive): a frame is rendered in
// passes, render.PassEnds(Settings.SPP), each pass a unit of run.frames
// with tiles of its own. A pass opens only once the one before it is
// written: its tiles and their masks (the pixels still taking samples) come
// from the film of the passes before it, which the controller alone holds
// and decides on (render.Film's fixed rule), so that the image is the same
// whatever nodes rendered it. A tile whose pixels have all stopped is not
// sent. A pass is written once its last tile is in and no check of its
// tiles is pending: its sums go into the film in pass order, and the film
// then holds a whole image of every pixel's samples so far (OnPass). The
// frame ends when the film takes no more passes (its last one, or every
// pixel stopped) or when the next pass is not expected to end within
// Config.Budget; its remaining passes are then skipped.

import (
	"context"
	"errors"
	"image"
	"math"
	"slices"
	"time"

	"tessera/protocol"
	"tessera/render"
)

// filmRun is one frame of a progressive render: its film and what the
// budget needs.
type filmRun struct {
	film    *render.Film
	first   int       // its first pass's index in run.frames
	units   int       // its passes' units in run.frames (the film's passes before any Cap)
	ended   bool      // no more passes: the frame is complete
	work    float64   // pixel-samples of the passes written
	started time.Time // when its first pass opened
}

// PassEvent is a pass of a progressive render, written: the film holds
// every pixel's samples up to it. Image is the receiver's.
type PassEvent struct {
	Frame   int           // the animation's frame; -1 for a still
	Pass    int           // 1 for the first
	SPP     int           // the samples a pixel that took it has now
	Pixels  int           // the pixels it rendered
	Tiles   int           // the tiles it sent
	Image   *render.Image // the image of every pass so far
	Elapsed time.Duration // since Run started
	Last    bool          // the frame takes no more passes
}

// PassStats is one pass in the stats.
type PassStats struct {
	Frame   int     `json:"frame,omitempty"`
	Pass    int     `json:"pass"`
	SPP     int     `json:"spp"`
	Pixels  int     `json:"pixels"` // pixels it rendered
	Tiles   int     `json:"tiles"`
	Seconds float64 `json:"seconds"`       // from its opening to its writing
	DoneAt  float64 `json:"doneAtSeconds"` // since the render started
}

// progressive reports whether the render is done in passes.
func (r *run) progressive() bool { return r.cfg.Progressive }

// passUnits makes the units of a progressive render: for each frame, one
// per pass of its film.
func (r *run) passUnits(nums []int) error {
	for _, n := range nums {
		film, err := render.NewFilm(r.set.Width, r.set.Height, r.set.SPP, r.cfg.Noise)
		if err != nil {
			return err
		}
		fr := &filmRun{film: film, first: len(r.frames), units: len(film.Ends())}
		for k := range film.Ends() {
			r.frames = append(r.frames, frameRun{num: n, pass: k, film: fr})
		}
	}
	return nil
}

// canOpen reports whether unit k may open: a pass only once the pass
// before it of its frame is written (its mask depends on it).
func (r *run) canOpen(k int) bool {
	f := &r.frames[k]
	return f.film == nil || f.pass == 0 || r.frames[k-1].state == frameWritten
}

// openPass queues the tiles of pass f.pass that have pixels taking samples,
// with their masks.
func (r *run) openPass(k int) {
	f := &r.frames[k]
	fr := f.film
	from, to, _ := fr.film.Next()
	if f.pass == 0 {
		fr.started = f.opened
	}
	for _, rect := range r.grid {
		mask, n := fr.film.Mask(rect)
		if n == 0 {
			continue // every pixel stopped: not sent
		}
		r.order = append(r.order, len(r.tiles))
		r.tiles = append(r.tiles, tile{rect: rect, frame: k, npix: n, pass: render.Pass{From: from, To: to, Mask: mask}})
		f.pixels += n
	}
	r.total += len(r.tiles) - f.lo - len(r.grid)
}

// endPass adds pass unit k, whose tiles are all in and checked, to its
// film and decides what comes next: the next pass, or the end of the
// frame, which skips its other passes.
func (r *run) endPass(k int) {
	f := &r.frames[k]
	fr := f.film
	for i := f.lo; i < f.hi; i++ {
		t := &r.tiles[i]
		pix := gatherPass(f.img, t.rect, t.pass.Mask, t.npix)
		if err := fr.film.Add(t.rect, t.pass.Mask, pix); err != nil {
			panic("scheduler: a pass's tile does not fit its film: " + err.Error()) // the loop made both
		}
	}
	live := fr.film.Live()
	if _, err := fr.film.EndPass(); err != nil {
		panic("scheduler: a pass ended with pixels missing: " + err.Error())
	}
	f.img = nil
	from, end := 0, fr.film.Ends()[f.pass]
	if f.pass > 0 {
		from = fr.film.Ends()[f.pass-1]
	}
	fr.work += float64(live) * float64(end-from)
	now := r.clock.Now()
	ps := PassStats{Frame: f.num, Pass: f.pass + 1, SPP: end, Pixels: live, Tiles: f.hi - f.lo,
		Seconds: now.Sub(f.opened).Seconds(), DoneAt: now.Sub(r.start).Seconds()}
	if !r.animation() {
		ps.Frame = 0
	}
	r.stats.Passes = append(r.stats.Passes, ps)
	fr.ended = !r.nextPassFits(fr, now)
	if fr.ended {
		for j := k + 1; j < fr.first+fr.units; j++ {
			r.skipUnit(j)
		}
	} else if n := len(fr.film.Ends()); fr.first+n < fr.first+fr.units && r.frames[fr.first+n].state == frameWaiting {
		for j := fr.first + n; j < fr.first+fr.units; j++ {
			r.skipUnit(j) // the film was capped: its next pass is its last
		}
	}
	if r.cfg.OnPass != nil {
		r.cfg.OnPass(PassEvent{Frame: f.num, Pass: f.pass + 1, SPP: end, Pixels: live, Tiles: f.hi - f.lo,
			Image: fr.film.Image(), Elapsed: now.Sub(r.start), Last: fr.ended})
	}
}

// nextPassFits reports whether fr takes another pass: its film has one,
// and with a budget, the pass is expected to end within it at the rate of
// the passes so far (pixel-samples per second since the first opened).
// When the whole pass is not, but an eighth of it or more is, the film is
// capped (Film.Cap) at the samples that are: its next pass is its last.
func (r *run) nextPassFits(fr *filmRun, now time.Time) bool {
	from, to, ok := fr.film.Next()
	if !ok {
		return false
	}
	if r.cfg.Budget <= 0 {
		return true
	}
	spent := now.Sub(fr.started)
	if fr.work <= 0 || spent <= 0 {
		return true
	}
	rate := fr.work / spent.Seconds()
	left := r.cfg.Budget.Seconds() - now.Sub(r.start).Seconds()
	fits := int(math.Min(float64(to-from), left*rate/float64(fr.film.Live())))
	switch {
	case fits >= to-from:
		return true
	case fits < max(1, (to-from)/8):
		return false
	}
	return fr.film.Cap(from+fits) == nil
}

// skipUnit ends unit k, a pass never opened, without tiles.
func (r *run) skipUnit(k int) {
	f := &r.frames[k]
	if f.skipped {
		return
	}
	f.state = frameWritten
	f.skipped = true
	f.lo, f.hi = len(r.tiles), len(r.tiles)
	r.framesDone++
	r.total -= len(r.grid)
}

// gatherPass returns the pixels of rect that mask selects (n of them) from
// img, where a pass's tiles are scattered.
func gatherPass(img *render.Image, rect image.Rectangle, mask []byte, n int) []float32 {
	out := make([]float32, 0, 3*n)
	k := 0
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x, k = x+1, k+1 {
			if mask != nil && mask[k>>3]&(1<<(k&7)) == 0 {
				continue
			}
			i := 3 * (y*img.Width + x)
			out = append(out, img.Pix[i:i+3]...)
		}
	}
	return out
}

// scatterPass writes the pixels of rect that mask selects into img (the
// others are left as they are); nil pix clears them.
func scatterPass(img *render.Image, rect image.Rectangle, mask []byte, pix []float32) {
	k, j := 0, 0
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x, k = x+1, k+1 {
			if mask != nil && mask[k>>3]&(1<<(k&7)) == 0 {
				continue
			}
			i := 3 * (y*img.Width + x)
			if pix == nil {
				img.Pix[i], img.Pix[i+1], img.Pix[i+2] = 0, 0, 0
			} else {
				copy(img.Pix[i:i+3], pix[3*j:3*j+3])
			}
			j++
		}
	}
}

// passAt is the index of pixel p of rect among those mask selects; -1
// when it is not selected.
func passAt(rect image.Rectangle, mask []byte, p image.Point) int {
	k := (p.Y-rect.Min.Y)*rect.Dx() + p.X - rect.Min.X
	if mask == nil {
		return k
	}
	if mask[k>>3]&(1<<(k&7)) == 0 {
		return -1
	}
	j := 0
	for i := range k {
		if mask[i>>3]&(1<<(i&7)) != 0 {
			j++
		}
	}
	return j
}

// previewTile is what OnTile shows of tile t of a pass: its pixels as they
// will be once the pass is written (the others as they are).
func (r *run) previewTile(t *tile, pix []float32) []float32 {
	fr := r.frames[t.frame].film
	out := make([]float32, 3*t.rect.Dx()*t.rect.Dy())
	if err := fr.film.Preview(t.rect, t.pass.Mask, pix, out); err != nil {
		return nil
	}
	return out
}

// passRenderer renders passes of a progressive render; *render.Scene is one.
type passRenderer interface {
	RenderPass(ctx context.Context, set render.Settings, r image.Rectangle, p render.Pass, dst []float32) (rays uint64, err error)
}

var errNoPasses = errors.New("scheduler: the in-process renderer cannot render passes of a progressive render")

// renderWork renders with rend the whole tile rect (p.To 0) or pass p of
// it.
func renderWork(ctx context.Context, rend TileRenderer, set render.Settings, rect image.Rectangle, p render.Pass, dst []float32) (uint64, error) {
	if p.To == 0 {
		return rend.RenderTile(ctx, set, rect, dst)
	}
	pr, ok := rend.(passRenderer)
	if !ok {
		return 0, errNoPasses
	}
	return pr.RenderPass(ctx, set, rect, p, dst)
}

// restartFilm renders a progressive frame (a still, or one frame of an
// animation) again from its first pass: every tile of its passes leaves
// the render (its leases cancelled; checks still pending judge their
// claims and change nothing else), the passes are reset, and the film
// starts anew; other frames are untouched. For a node caught lying after
// a pass it rendered part of was added to the film. A frame already
// handed to OnFrame is written anew once its passes end again, as a
// fixed render's frame a liar had rendered part of (reopenFramesOf).
func (r *run) restartFilm(fr *filmRun) {
	num, share := r.frames[fr.first].num, 0 // share: its units' part of r.total
	for k := fr.first; k < fr.first+fr.units; k++ {
		f := &r.frames[k]
		switch {
		case f.skipped:
		case f.state == frameWaiting:
			share += len(r.grid)
		default:
			share += f.hi - f.lo
		}
		for i := f.lo; i < f.hi; i++ {
			t := &r.tiles[i]
			for _, l := range slices.Clone(t.leases) {
				if l.s.out != nil {
					l.s.out.Push(protocol.Cancel{Job: l.job})
				}
				r.unlease(l)
				if l.audit != nil {
					r.auditLost(l)
				}
			}
			if t.state == tileDone && !t.dead {
				r.done--
				if t.by != nil {
					t.by.tiles--
					t.by.rays -= t.rays
				}
				r.stats.Rays -= t.rays
			}
			t.state, t.dead, t.by, t.rays, t.pix = tileDone, true, nil, 0, nil
		}
		if f.state == frameWritten {
			r.framesDone--
		}
		*f = frameRun{num: f.num, pass: f.pass, film: fr}
	}
	if fr.ended {
		r.stillsDone--
	}
	film, err := render.NewFilm(r.set.Width, r.set.Height, r.set.SPP, r.cfg.Noise)
	if err != nil {
		panic("scheduler: " + err.Error()) // it was made before with the same settings
	}
	fr.film, fr.ended, fr.work, fr.started = film, false, 0, time.Time{}
	// Its units below r.opened wait again; refill opens them first.
	r.written = min(r.written, fr.first)
	if r.animation() {
		r.stats.Passes = slices.DeleteFunc(r.stats.Passes, func(ps PassStats) bool { return ps.Frame == num })
		r.stats.Frames = slices.DeleteFunc(r.stats.Frames, func(fs FrameStats) bool { return fs.Frame == num })
	} else {
		r.stats.Passes = nil
	}
	r.total += len(r.grid)*fr.units - share
	r.allDone = time.Time{}
	r.stats.Restarts++
}

// filmSamples is every pixel's samples in film's passes ended, summed.
func filmSamples(film *render.Film) int64 {
	var n int64
	w, h := film.Size()
	for y := range h {
		for x := range w {
			n += int64(film.Samples(x, y))
		}
	}
	return n
}
