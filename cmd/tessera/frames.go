package main

// Animations on the command line: -frame and -frames, the frame-number
// pattern of -o, which frames a render still has to do (resume), and the
// writer that puts each frame on disk as the controller finishes it.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"tessera/preview"
	"tessera/render"
	"tessera/scheduler"
)

// parseFrames reads -frames: frame numbers and ranges separated by commas,
// a range A-B (A <= B) with an optional step, A-B:S. Frames come in the
// order given, each once.
func parseFrames(spec string) ([]int, error) {
	bad := func(format string, args ...any) error {
		return badInput(fmt.Errorf("-frames %s: "+format, append([]any{spec}, args...)...))
	}
	num := func(s string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 || n > render.MaxFrame {
			return 0, bad("%q is not a frame number from 0 to %d", s, render.MaxFrame)
		}
		return n, nil
	}
	var out []int
	seen := map[int]bool{}
	add := func(f int) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, item := range strings.Split(spec, ",") {
		if strings.TrimSpace(item) == "" {
			return nil, bad("an empty item (expected N, A-B or A-B:STEP)")
		}
		rng, step := item, 1
		if i := strings.IndexByte(item, ':'); i >= 0 {
			s, err := strconv.Atoi(strings.TrimSpace(item[i+1:]))
			if err != nil || s < 1 {
				return nil, bad("step %q: expected a whole number of frames, at least 1", item[i+1:])
			}
			rng, step = item[:i], s
		}
		a, b, isRange := strings.Cut(rng, "-")
		from, err := num(a)
		if err != nil {
			return nil, err
		}
		to := from
		if isRange {
			if to, err = num(b); err != nil {
				return nil, err
			}
			if to < from {
				return nil, bad("range %s ends before it starts", rng)
			}
		} else if step != 1 {
			return nil, bad("a step applies to a range A-B, not to frame %d", from)
		}
		for f := from; f <= to; f += step {
			add(f)
		}
	}
	return out, nil
}

// frameName is the output file of frame f for the -o pattern: the last run
// of # in the file name becomes the frame number, zero-padded to its
// length (a longer number is written whole). A name without # is taken as
// it is for a single frame (-frame), and gets -#### before its extension
// for a range (-frames).
func frameName(pattern string, f int, rng bool) string {
	pattern = framePattern(pattern, rng)
	dir, base := filepath.Split(pattern)
	end := strings.LastIndexByte(base, '#')
	if end < 0 {
		return pattern
	}
	start := end
	for start > 0 && base[start-1] == '#' {
		start--
	}
	return dir + base[:start] + fmt.Sprintf("%0*d", end-start+1, f) + base[end+1:]
}

// framePattern is the -o pattern as frames are named by it: a range's
// name without # gets -#### before its extension.
func framePattern(pattern string, rng bool) string {
	dir, base := filepath.Split(pattern)
	if !rng || strings.IndexByte(base, '#') >= 0 {
		return pattern
	}
	ext := filepath.Ext(base)
	return dir + strings.TrimSuffix(base, ext) + "-####" + ext
}

// framePlan is what an animation render does: the frames asked for, those
// whose file is there already (skipped unless -overwrite), and where each
// goes.
type framePlan struct {
	asked   []int
	todo    []int
	skipped []int
	names   map[int]string
}

// planFrames decides which of the frames asked for are to be rendered and
// makes the output directory.
func (j *renderJob) planFrames() (*framePlan, error) {
	p := &framePlan{asked: j.frames, names: map[int]string{}}
	for _, f := range j.frames {
		name := frameName(j.out, f, j.frameRange)
		p.names[f] = name
		if st, err := os.Stat(name); err == nil && !j.overwrite {
			if !st.Mode().IsRegular() {
				return nil, badInput(fmt.Errorf("-o %s: frame %d's output %s is not a regular file", j.out, f, name))
			}
			p.skipped = append(p.skipped, f)
			continue
		}
		p.todo = append(p.todo, f)
	}
	if len(p.todo) > 0 {
		if dir := filepath.Dir(p.names[p.todo[0]]); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("-o %s: %w", j.out, err)
			}
		}
	}
	return p, nil
}

// describe says which frames a list holds, briefly: "1-48", "1, 5, 9-12".
func describeFrames(fs []int) string {
	var parts []string
	for i := 0; i < len(fs); {
		k := i
		for k+1 < len(fs) && fs[k+1] == fs[k]+1 {
			k++
		}
		if k > i {
			parts = append(parts, fmt.Sprintf("%d-%d", fs[i], fs[k]))
		} else {
			parts = append(parts, strconv.Itoa(fs[i]))
		}
		i = k + 1
	}
	if len(parts) > 6 {
		parts = append(parts[:5], "...", parts[len(parts)-1])
	}
	return strings.Join(parts, ", ")
}

// frameWriter puts frames on disk in the background, in the order they
// come, so that the controller never waits for a disk. A frame that cannot
// be written stops the render (cancel, with the error as its cause).
type frameWriter struct {
	plan   *framePlan
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []scheduler.FrameEvent
	closed  bool
	err     error
	written map[int]bool
	last    *render.Image // the last frame written, for the preview's link
	done    chan struct{}
}

func newFrameWriter(plan *framePlan, cancel context.CancelCauseFunc) *frameWriter {
	w := &frameWriter{plan: plan, cancel: cancel, written: map[int]bool{}, done: make(chan struct{})}
	w.cond = sync.NewCond(&w.mu)
	go w.run()
	return w
}

// put queues a finished frame; it never blocks.
func (w *frameWriter) put(ev scheduler.FrameEvent) {
	w.mu.Lock()
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	w.cond.Signal()
}

func (w *frameWriter) run() {
	defer close(w.done)
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && !w.closed {
			w.cond.Wait()
		}
		if len(w.queue) == 0 {
			w.mu.Unlock()
			return
		}
		ev := w.queue[0]
		w.queue = w.queue[1:]
		failed := w.err != nil
		w.mu.Unlock()
		if failed {
			continue // the render is stopping: the frames after a failure are not written
		}
		name := w.plan.names[ev.Frame]
		err := ev.Image.Save(name)
		if err == nil {
			// A partial image left by an earlier, interrupted render of
			// this frame is obsolete now.
			if perr := os.Remove(partialName(name)); perr != nil && !errors.Is(perr, os.ErrNotExist) {
				err = perr
			}
		}
		w.mu.Lock()
		if err != nil && w.err == nil {
			w.err = fmt.Errorf("frame %d: %w", ev.Frame, err)
			w.cancel(w.err)
		}
		if err == nil {
			w.written[ev.Frame] = true
			w.last = ev.Image
		}
		w.mu.Unlock()
	}
}

// close waits for every frame queued to be written and returns the first
// error.
func (w *frameWriter) close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.cond.Signal()
	<-w.done
	return w.err
}

// count returns how many frames were written.
func (w *frameWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.written)
}

// previewFrames shows an animation on the preview page: the earliest frame
// not finished, its tiles as they come (a later frame's tiles wait until it
// is shown), and the strip of finished frames.
type previewFrames struct {
	pv    *preview.Server
	order []int
	shown int // index in order of the frame shown
	done  map[int]bool
	held  map[int][]scheduler.TileEvent
}

func newPreviewFrames(pv *preview.Server, order []int) *previewFrames {
	p := &previewFrames{pv: pv, order: order, done: map[int]bool{}, held: map[int][]scheduler.TileEvent{}}
	pv.Frame(order[0])
	return p
}

func (p *previewFrames) tile(ev scheduler.TileEvent) {
	switch {
	case p.shown < len(p.order) && ev.Frame == p.order[p.shown]:
		p.pv.Tile(ev.Rect, ev.Pixels, ev.NodeID)
	case !p.done[ev.Frame]:
		p.held[ev.Frame] = append(p.held[ev.Frame], ev)
	}
}

func (p *previewFrames) frameDone(ev scheduler.FrameEvent) {
	p.done[ev.Frame] = true
	delete(p.held, ev.Frame)
	p.pv.FrameDone(ev.Frame, ev.Image)
	was := p.shown
	for p.shown < len(p.order) && p.done[p.order[p.shown]] {
		p.shown++
	}
	if p.shown != was && p.shown < len(p.order) {
		f := p.order[p.shown]
		p.pv.Frame(f)
		for _, t := range p.held[f] {
			p.pv.Tile(t.Rect, t.Pixels, t.NodeID)
		}
		delete(p.held, f)
	}
}
