package scheduler

// The controller's frames: a still is one frame; an animation is the
// frames of Config.Frames, whose tiles share one queue. A frame opens (its
// tiles join the queue, its image is made) when the queue runs dry, so that
// every node stays busy across frame boundaries and the earliest unfinished
// frame comes first; it is written (OnFrame) the moment its last tile is in
// and no check of its tiles is pending, and its image is then let go.

import (
	"slices"
	"time"

	"tessera/render"
)

// still is the frame number of a still: no animation evaluated.
const still = -1

// frameState is where a frame is in the render.
//
//	frameWaiting -> frameOpen     the queue reached it: its tiles are queued
//	frameOpen    -> frameWritten  its last tile is in, no check pending: handed to OnFrame
//	frameWritten -> frameOpen     a node that rendered some of it was caught lying: rendered again
type frameState uint8

const (
	frameWaiting frameState = iota
	frameOpen
	frameWritten
)

// frameRun is one frame of the render.
type frameRun struct {
	num    int // the animation's frame; still for a still
	state  frameState
	img    *render.Image // while open
	lo, hi int           // its tiles in run.tiles, once opened
	done   int           // of its tiles in the image
	rays   uint64        // of its tiles in the image
	opened time.Time
	wrote  time.Time

	// A progressive render's frame is one unit a pass, sharing its film.
	film    *filmRun // nil when not progressive
	pass    int      // the pass of film, 0 for the first
	skipped bool     // never opened: the film ended before it
	pixels  int      // the pixels its tiles render
}

// frameRenderer renders the frames of an animated scene in-process: the
// TileRenderer of frame f. A TileRenderer that is not one renders every
// frame as its still.
type frameRenderer interface {
	Frame(f int) (TileRenderer, error)
}

// sceneRenderer is the in-process renderer of Config.Scene.
type sceneRenderer struct{ *render.Scene }

func (s sceneRenderer) Frame(f int) (TileRenderer, error) {
	fs, err := s.Scene.Frame(f)
	if err != nil {
		return nil, err
	}
	return fs, nil
}

// rendererOf returns the in-process renderer of frame f (still: the
// still). It is safe for concurrent use (render caches the frames).
func (c *Controller) rendererOf(f int) (TileRenderer, error) {
	if fr, ok := c.renderer.(frameRenderer); ok && f != still {
		return fr.Frame(f)
	}
	return c.renderer, nil
}

// frameNums is the frames a render draws: Config.Frames, or the still.
func frameNums(cfg *Config) []int {
	if len(cfg.Frames) == 0 {
		return []int{still}
	}
	return cfg.Frames
}

// animation reports whether the render draws frames of an animation.
func (r *run) animation() bool { return len(r.cfg.Frames) > 0 }

// refill opens frames until the queue holds fresh tiles or every frame is
// open.
func (r *run) refill() {
	for k := r.written; k < r.opened; k++ {
		if f := &r.frames[k]; f.state == frameWaiting && !f.skipped && r.canOpen(k) {
			r.openFrame(k) // a pass of a film rendered again (restartFilm)
		}
	}
	for r.next == len(r.order) && r.opened < len(r.frames) {
		if r.frames[r.opened].skipped {
			r.opened++
			continue
		}
		if !r.canOpen(r.opened) {
			return
		}
		r.openFrame(r.opened)
		r.opened++
	}
}

// openFrame queues the tiles of frame k, centre outwards as every frame's.
func (r *run) openFrame(k int) {
	f := &r.frames[k]
	f.state = frameOpen
	f.img = render.NewImage(r.set.Width, r.set.Height)
	f.opened = r.clock.Now()
	f.lo = len(r.tiles)
	if f.film != nil {
		r.openPass(k)
	} else {
		for _, rect := range r.grid {
			r.order = append(r.order, len(r.tiles))
			r.tiles = append(r.tiles, tile{rect: rect, frame: k, npix: rect.Dx() * rect.Dy()})
		}
	}
	f.hi = len(r.tiles)
}

// writeFrames hands every frame that is complete to OnFrame, lets its image
// go and records its statistics. A still's image stays for the Result.
func (r *run) writeFrames() {
	for k := r.written; k < r.opened; k++ {
		f := &r.frames[k]
		if f.state != frameOpen || f.done < f.hi-f.lo || r.checksPending(f) {
			continue
		}
		f.state = frameWritten
		f.wrote = r.clock.Now()
		r.framesDone++
		fs := FrameStats{Frame: f.num, Tiles: f.hi - f.lo, Rays: f.rays,
			Seconds: f.wrote.Sub(f.opened).Seconds(), DoneAt: f.wrote.Sub(r.start).Seconds()}
		img := f.img
		if f.film != nil {
			r.endPass(k)
			if !f.film.ended {
				continue
			}
			r.stillsDone++
			fs = r.filmStats(f.film, f.wrote)
			img = f.film.film.Image()
		} else {
			r.stillsDone++
		}
		if !r.animation() {
			continue
		}
		r.stats.Frames = append(r.stats.Frames, fs)
		f.img = nil
		if r.cfg.OnFrame != nil {
			r.cfg.OnFrame(FrameEvent{Frame: f.num, Image: img, Stats: fs})
		}
	}
	for r.written < r.opened && r.frames[r.written].state == frameWritten {
		r.written++
	}
}

// checksPending reports whether a check of one of f's tiles is pending.
func (r *run) checksPending(f *frameRun) bool {
	for i := f.lo; i < f.hi; i++ {
		if r.tiles[i].checks > 0 {
			return true
		}
	}
	return false
}

// reopenFramesOf renders again every frame already written that holds a
// tile of rec, a node caught lying: the frame's image is gone, so all of
// its tiles are rendered again, and the frame is written anew.
func (r *run) reopenFramesOf(rec *nodeRec) {
	for k := range r.opened {
		f := &r.frames[k]
		if f.film != nil && f.state == frameWritten && !f.skipped && slices.ContainsFunc(r.tiles[f.lo:f.hi], func(t tile) bool { return t.by == rec }) {
			// Its sums are in the film, and the passes after it were
			// decided from them: the frame is rendered again from its
			// first pass, and written anew.
			r.log.Warn().Int("frame", f.num).Int("pass", f.pass+1).Msg("a node caught lying rendered part of a pass already in the film: rendering every pass of its frame again")
			r.restartFilm(f.film)
			continue
		}
		if f.state != frameWritten || !slices.ContainsFunc(r.tiles[f.lo:f.hi], func(t tile) bool { return t.by == rec }) {
			continue
		}
		f.state = frameOpen
		f.img = render.NewImage(r.set.Width, r.set.Height)
		r.framesDone--
		r.written = min(r.written, k)
		r.stats.Frames = slices.DeleteFunc(r.stats.Frames, func(fs FrameStats) bool { return fs.Frame == f.num })
		for i := f.lo; i < f.hi; i++ {
			t := &r.tiles[i]
			if t.state != tileDone {
				continue
			}
			r.forgetTile(i)
			r.requeue(i)
		}
		r.log.Warn().Int("frame", f.num).Msg("rendering a written frame again: a node that rendered part of it returned wrong pixels")
	}
}

// forgetTile takes a done tile's pixels out of the counts of its node and
// frame, and out of its frame's image.
func (r *run) forgetTile(i int) {
	t := &r.tiles[i]
	f := &r.frames[t.frame]
	r.done--
	f.done--
	f.rays -= t.rays
	if t.by != nil {
		t.by.tiles--
		t.by.rays -= t.rays
	}
	r.stats.Rays -= t.rays
	if f.img != nil {
		putTile(f.img, t.rect, nil)
	}
	t.by, t.rays = nil, 0
}

// partial returns the frames begun and not written, with their images as
// far as they got (missing tiles black).
func (r *run) partial() []FrameEvent {
	var out []FrameEvent
	for k := range r.opened {
		f := &r.frames[k]
		if fr := f.film; fr != nil {
			// The frame's last pass written, once per frame.
			if !fr.ended && fr.film.Passes() > 0 && (k+1 == r.opened || r.frames[k+1].film != fr) {
				out = append(out, FrameEvent{Frame: f.num, Image: fr.film.Image(), Stats: FrameStats{Frame: f.num, Tiles: r.filmTiles(fr)}})
			}
			continue
		}
		if f.state == frameOpen && f.done > 0 {
			out = append(out, FrameEvent{Frame: f.num, Image: f.img,
				Stats: FrameStats{Frame: f.num, Tiles: f.done, Rays: f.rays}})
		}
	}
	return out
}

// filmTiles counts the tiles of fr's passes in their images.
func (r *run) filmTiles(fr *filmRun) int {
	n := 0
	for k := fr.first; k < fr.first+fr.units; k++ {
		n += r.frames[k].done
	}
	return n
}

// filmStats is the FrameStats of a progressive frame, written at now.
func (r *run) filmStats(fr *filmRun, now time.Time) FrameStats {
	first := &r.frames[fr.first]
	fs := FrameStats{Frame: first.num, Seconds: now.Sub(fr.started).Seconds(), DoneAt: now.Sub(r.start).Seconds()}
	for k := fr.first; k < fr.first+fr.units; k++ {
		fs.Tiles += r.frames[k].done
		fs.Rays += r.frames[k].rays
	}
	return fs
}
