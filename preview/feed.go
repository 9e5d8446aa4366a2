package preview

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"slices"
	"strconv"
	"time"

	"tessera/discovery"
	"tessera/render"
	"tessera/scheduler"
)

// Tile shows the tile r of the image, rendered by node nodeID. pix holds
// r.Dx()*r.Dy()*3 float32, linear RGB, row-major, as render.Scene.RenderTile
// writes it. Tile copies pix and returns: the conversion to sRGB and the
// sending happen in the background, in call order, so the caller pays for
// a copy and never waits for a browser. A tile received again replaces the
// earlier one. Tile errs (ErrBadTile) for a rectangle that is empty or not
// inside the image, or pixels of the wrong length, and then does nothing.
func (s *Server) Tile(r image.Rectangle, pix []float32, nodeID string) error {
	if r.Empty() || !r.In(s.Bounds()) {
		return fmt.Errorf("%w: rectangle %v is not inside the image %v", ErrBadTile, r, s.Bounds())
	}
	if w, h := r.Dx(), r.Dy(); len(pix) != w*h*3 {
		return fmt.Errorf("%w: tile %v from node %q: %d floats, want %d (%dx%dx3)", ErrBadTile, r, nodeID, len(pix), w*h*3, w, h)
	}
	pix = append([]float32(nil), pix...)
	s.enqueue(func() { s.applyTile(r, pix, nodeID) })
	return nil
}

func (s *Server) applyTile(r image.Rectangle, pix []float32, nodeID string) {
	w, h := r.Dx(), r.Dy()
	rgb, err := srgbBytes(w, h, pix)
	if err != nil {
		s.log.Error().Err(err).Str("node", nodeID).Stringer("tile", r).Msg("tile not shown")
		return
	}
	s.mu.Lock()
	colour := s.state.colourOf(nodeID)
	s.mu.Unlock()
	ev := encodeEvent("tile", tileEvent{X: r.Min.X, Y: r.Min.Y, W: w, H: h, Node: nodeID, Colour: colour, RGB: rgb})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.putTile(r, ev)
	s.publish(ev)
}

// srgbBytes converts a tile to packed 8-bit sRGB with render.Image.SRGB,
// exactly as the PNG output does.
func srgbBytes(w, h int, pix []float32) ([]byte, error) {
	img := (&render.Image{Width: w, Height: h, Pix: pix}).SRGB()
	if img == nil || img.Rect.Dx() != w || img.Rect.Dy() != h {
		return nil, fmt.Errorf("preview: render.Image.SRGB gave no %dx%d image", w, h)
	}
	rgb := make([]byte, 0, w*h*3)
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+w*4]
		for x := 0; x < len(row); x += 4 {
			rgb = append(rgb, row[x], row[x+1], row[x+2])
		}
	}
	return rgb, nil
}

// Nodes replaces the node table with the controller's snapshot of its
// nodes (scheduler.Progress.Nodes): one row each, with its source, tiles,
// speed (rays over its render time) and state. Call it whenever a node
// joins, leaves, changes state or finishes tiles. Nodes copies the slice.
func (s *Server) Nodes(nodes []scheduler.NodeStats) {
	nodes = append([]scheduler.NodeStats(nil), nodes...)
	s.enqueue(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		ev := nodesEvent{Nodes: make([]nodeJSON, 0, len(nodes))}
		for _, n := range nodes {
			ev.Nodes = append(ev.Nodes, nodeJSON{NodeStats: n, Colour: s.state.colourOf(n.ID)})
		}
		s.state.nodes = encodeEvent("nodes", ev)
		s.publish(s.state.nodes)
	})
}

// Progress reports done of total tiles, rays cast so far and the estimated
// time left (zero or negative: unknown).
func (s *Server) Progress(done, total int, rays uint64, eta time.Duration) {
	s.FramesProgress(done, total, 0, 0, rays, eta)
}

// FramesProgress is Progress for an animation: done of total tiles of
// every frame, framesDone of frames frames written, and the time left for
// the range.
func (s *Server) FramesProgress(done, total, framesDone, frames int, rays uint64, eta time.Duration) {
	etaSeconds := -1.0
	if eta > 0 {
		etaSeconds = eta.Seconds()
	}
	ev := progressEvent{Done: done, Total: total, Rays: rays, ETASeconds: etaSeconds, FramesDone: framesDone, Frames: frames}
	s.enqueue(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.state.progress = encodeEvent("progress", ev)
		s.publish(s.state.progress)
	})
}

// Frame starts showing frame n of an animation: the tiles shown so far are
// cleared (on the page too), and the tiles given from now on are frame
// n's, after every call before.
func (s *Server) Frame(n int) {
	s.enqueue(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.state.tiles = s.state.tiles[:0]
		clear(s.state.tileAt)
		s.state.frame = encodeEvent("frame", frameEvent{Frame: n})
		s.publish(s.state.frame)
	})
}

// MaxStrip is how many finished frames the strip under the image keeps:
// the latest.
const MaxStrip = 120

// stripWidth is the width of a finished frame's picture in the strip.
const stripWidth = 96

// FrameDone adds frame n of an animation, finished, to the strip of
// finished frames under the image: a small picture of img (converted in the
// background; img must not change afterwards). A frame done again (it was
// rendered anew) replaces its picture.
func (s *Server) FrameDone(n int, img *render.Image) {
	s.enqueue(func() {
		small := thumbnail(img, stripWidth)
		var buf bytes.Buffer
		if err := small.WritePNG(&buf); err != nil {
			s.log.Error().Err(err).Int("frame", n).Msg("frame not shown in the strip")
			return
		}
		ev := encodeEvent("strip", stripEvent{Frame: n, PNG: buf.Bytes()})
		s.mu.Lock()
		defer s.mu.Unlock()
		st := &s.state
		if i := slices.IndexFunc(st.stripFrames, func(f int) bool { return f == n }); i >= 0 {
			st.strip = slices.Delete(st.strip, i, i+1)
			st.stripFrames = slices.Delete(st.stripFrames, i, i+1)
		}
		st.strip = append(st.strip, ev)
		st.stripFrames = append(st.stripFrames, n)
		if len(st.strip) > MaxStrip {
			st.strip = slices.Delete(st.strip, 0, 1)
			st.stripFrames = slices.Delete(st.stripFrames, 0, 1)
		}
		s.publish(ev)
	})
}

// thumbnail shrinks img to width w (its aspect kept), each pixel the mean
// of the pixels it covers; an image narrower than w stays as it is.
func thumbnail(img *render.Image, w int) *render.Image {
	if img.Width <= w {
		return img
	}
	h := max(1, img.Height*w/img.Width)
	out := render.NewImage(w, h)
	for y := range h {
		y0, y1 := y*img.Height/h, max((y+1)*img.Height/h, y*img.Height/h+1)
		for x := range w {
			x0, x1 := x*img.Width/w, max((x+1)*img.Width/w, x*img.Width/w+1)
			var sum [3]float64
			for yy := y0; yy < y1; yy++ {
				for xx := x0; xx < x1; xx++ {
					p := img.Pix[3*(yy*img.Width+xx):]
					sum[0], sum[1], sum[2] = sum[0]+float64(p[0]), sum[1]+float64(p[1]), sum[2]+float64(p[2])
				}
			}
			n := float64((y1 - y0) * (x1 - x0))
			o := 3 * (y*w + x)
			out.Pix[o], out.Pix[o+1], out.Pix[o+2] = float32(sum[0]/n), float32(sum[1]/n), float32(sum[2]/n)
		}
	}
	return out
}

// Finish publishes the finished image, encoded as PNG, at /image.png and
// shows a link to it on the page, after every tile given before. Finish
// copies png.
func (s *Server) Finish(png []byte) {
	png = append([]byte(nil), png...)
	s.enqueue(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.state.png = png
		s.state.finished = encodeEvent("finished", finishedEvent{URL: "image.png", Bytes: len(png)})
		s.publish(s.state.finished)
	})
}

// state is what a page needs to catch up: the last event of each kind and
// every tile. Guarded by Server.mu.
type state struct {
	hello       []byte
	nodes       []byte
	frame       []byte   // the frame shown, for an animation
	strip       [][]byte // finished frames' pictures, oldest first
	stripFrames []int    // their frame numbers
	progress    []byte
	finished    []byte
	png         []byte
	tiles       [][]byte                // encoded tile events, in arrival order
	tileAt      map[image.Rectangle]int // index in tiles of each rectangle
	colours     map[string]int          // node id -> colour index, in order of first sight
	clients     map[*client]struct{}
	nextColor   int
}

func newState(width, height int, title string) state {
	// The id only has to differ between the renders one page may see on
	// one address, one after the other: the start time does.
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	return state{
		hello:   encodeEvent("hello", helloEvent{Render: id, Width: width, Height: height, Title: title}),
		tileAt:  make(map[image.Rectangle]int),
		colours: make(map[string]int),
		clients: make(map[*client]struct{}),
	}
}

func (st *state) colourOf(nodeID string) int {
	c, ok := st.colours[nodeID]
	if !ok {
		c = st.nextColor
		st.colours[nodeID] = c
		st.nextColor++
	}
	return c
}

func (st *state) putTile(r image.Rectangle, ev []byte) {
	if i, ok := st.tileAt[r]; ok {
		st.tiles[i] = ev
		return
	}
	st.tileAt[r] = len(st.tiles)
	st.tiles = append(st.tiles, ev)
}

// snapshot returns the events that bring a fresh page up to date. The
// events are immutable, so the caller may write them without the lock.
func (st *state) snapshot() [][]byte {
	evs := make([][]byte, 0, len(st.tiles)+len(st.strip)+5)
	evs = append(evs, st.hello)
	if st.nodes != nil {
		evs = append(evs, st.nodes)
	}
	evs = append(evs, st.strip...)
	if st.frame != nil {
		evs = append(evs, st.frame)
	}
	evs = append(evs, st.tiles...)
	if st.progress != nil {
		evs = append(evs, st.progress)
	}
	if st.finished != nil {
		evs = append(evs, st.finished)
	}
	return evs
}

type helloEvent struct {
	Render string `json:"render"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Title  string `json:"title"`
}

type nodeJSON struct {
	scheduler.NodeStats
	Colour int
}

// MarshalJSON writes the row the page shows.
func (n nodeJSON) MarshalJSON() ([]byte, error) {
	var mrays float64
	if n.Seconds > 0 {
		mrays = float64(n.Rays) / n.Seconds / 1e6
	}
	if math.IsNaN(mrays) || math.IsInf(mrays, 0) {
		mrays = 0 // JSON has no NaN
	}
	return json.Marshal(struct {
		ID          string              `json:"id"`
		Name        string              `json:"name"`
		Addr        string              `json:"addr"`
		Source      discovery.Source    `json:"source"`
		Tiles       int                 `json:"tiles"`
		MraysPerSec float64             `json:"mraysPerSec"`
		State       scheduler.NodeState `json:"state"`
		Checked     int                 `json:"checked"`
		Audited     int                 `json:"audited"`
		Trust       scheduler.Trust     `json:"trust"`
		Colour      int                 `json:"colour"`
	}{n.ID, n.Name, n.Addr, n.Source, n.Tiles, mrays, n.State, n.Checked, n.Audited, n.Trust, n.Colour})
}

type nodesEvent struct {
	Nodes []nodeJSON `json:"nodes"`
}

type tileEvent struct {
	X      int    `json:"x"`
	Y      int    `json:"y"`
	W      int    `json:"w"`
	H      int    `json:"h"`
	Node   string `json:"node"`
	Colour int    `json:"colour"`
	RGB    []byte `json:"rgb"` // base64 in JSON
}

type progressEvent struct {
	Done       int     `json:"done"`
	Total      int     `json:"total"`
	Rays       uint64  `json:"rays"`
	ETASeconds float64 `json:"etaSeconds"`
	FramesDone int     `json:"framesDone,omitempty"`
	Frames     int     `json:"frames,omitempty"` // 0 for a still
}

type frameEvent struct {
	Frame int `json:"frame"`
}

type stripEvent struct {
	Frame int    `json:"frame"`
	PNG   []byte `json:"png"` // base64 in JSON
}

type finishedEvent struct {
	URL   string `json:"url"`
	Bytes int    `json:"bytes"`
}

// encodeEvent returns one server-sent event. json.Marshal never writes a
// newline, so the data fits the one data line the format allows per field.
func encodeEvent(name string, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		// Unreachable: only our own structs of strings, finite numbers
		// and bytes get here.
		data = []byte("{}")
	}
	ev := make([]byte, 0, len(name)+len(data)+16)
	ev = append(ev, "event: "...)
	ev = append(ev, name...)
	ev = append(ev, "\ndata: "...)
	ev = append(ev, data...)
	ev = append(ev, "\n\n"...)
	return ev
}
