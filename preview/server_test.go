package preview

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"tessera/discovery"
	"tessera/render"
	"tessera/scheduler"
)

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "zero", cfg: Config{}},
		{name: "no height", cfg: Config{Width: 4}},
		{name: "negative width", cfg: Config{Width: -1, Height: 4}},
		{name: "too wide", cfg: Config{Width: MaxSide + 1, Height: 4}},
		{name: "negative queue", cfg: Config{Width: 4, Height: 4, ClientQueue: -1}},
		{name: "negative timeout", cfg: Config{Width: 4, Height: 4, WriteTimeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if !errors.Is(err, ErrBadConfig) || s != nil {
				t.Fatalf("New(%+v) = %v, %v; want nil, ErrBadConfig", tt.cfg, s, err)
			}
		})
	}
	if _, err := New(Config{Width: MaxSide, Height: 1}); err != nil {
		t.Fatalf("New of the largest size: %v", err)
	}
}

func TestTileRejectsBadInput(t *testing.T) {
	s := newServer(t, Config{Width: 8, Height: 6})
	tests := []struct {
		name string
		r    image.Rectangle
		n    int // floats
		want string
	}{
		{name: "empty", r: image.Rect(2, 2, 2, 4), n: 0, want: "not inside"},
		{name: "past the right edge", r: image.Rect(6, 0, 10, 2), n: 4 * 2 * 3, want: "not inside"},
		{name: "negative corner", r: image.Rect(-1, 0, 2, 2), n: 3 * 2 * 3, want: "not inside"},
		{name: "too few floats", r: image.Rect(0, 0, 2, 2), n: 11, want: "11 floats, want 12"},
		{name: "too many floats", r: image.Rect(0, 0, 2, 2), n: 13, want: "13 floats, want 12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Tile(tt.r, make([]float32, tt.n), "n1")
			if !errors.Is(err, ErrBadTile) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Tile(%v, %d floats) = %v; want ErrBadTile saying %q", tt.r, tt.n, err, tt.want)
			}
		})
	}
	s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.state.tiles) != 0 {
		t.Fatalf("rejected tiles were kept: %d", len(s.state.tiles))
	}
}

// TestStreamSnapshotThenLive opens the stream mid-render: it must first get
// everything done so far, in snapshot order, then the live events.
func TestStreamSnapshotThenLive(t *testing.T) {
	s := newServer(t, Config{Width: 4, Height: 2, Title: "box.json"})
	left, right := image.Rect(0, 0, 2, 2), image.Rect(2, 0, 4, 2)
	leftPix, rightPix := gradient(left), gradient(right)
	mustTile(t, s, left, leftPix, "n1")
	s.Nodes([]scheduler.NodeStats{{ID: "n1", Name: "ada", Addr: "10.0.0.1:7701", Source: discovery.SourceMDNS, Tiles: 1, Rays: 5_000_000, Seconds: 2, State: scheduler.NodeWorking}})
	s.Progress(1, 2, 1000, 3*time.Second)
	s.flush()

	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	events := openStream(t, ts.URL)

	wantNames := []string{"hello", "nodes", "tile", "progress"}
	var got []event
	for range wantNames {
		got = append(got, events.next(t))
	}
	for i, ev := range got {
		if ev.name != wantNames[i] {
			t.Fatalf("snapshot event %d is %q, want %q (all: %v)", i, ev.name, wantNames[i], got)
		}
	}
	var hello helloEvent
	decode(t, got[0], &hello)
	if hello.Render == "" || hello.Width != 4 || hello.Height != 2 || hello.Title != "box.json" {
		t.Errorf("hello = %+v", hello)
	}
	var nodes struct {
		Nodes []struct {
			ID, Name, Addr, Source, State string
			Tiles                         int
			MraysPerSec                   float64
			Colour                        int
		}
	}
	decode(t, got[1], &nodes)
	if len(nodes.Nodes) != 1 || nodes.Nodes[0].Name != "ada" || nodes.Nodes[0].State != "working" || nodes.Nodes[0].MraysPerSec != 2.5 || nodes.Nodes[0].Colour != 0 {
		t.Errorf("nodes = %+v", nodes)
	}
	checkTile(t, got[2], left, leftPix, "n1", 0)
	var prog progressEvent
	decode(t, got[3], &prog)
	if prog != (progressEvent{Done: 1, Total: 2, Rays: 1000, ETASeconds: 3}) {
		t.Errorf("progress = %+v", prog)
	}

	mustTile(t, s, right, rightPix, "n2")
	s.Progress(2, 2, 2000, 0)
	s.Finish([]byte("png bytes"))
	checkTile(t, events.next(t), right, rightPix, "n2", 1)
	decode(t, events.next(t), &prog)
	if prog.Done != 2 || prog.ETASeconds != -1 {
		t.Errorf("progress = %+v, want 2 done and an unknown ETA", prog)
	}
	var fin finishedEvent
	decode(t, events.next(t), &fin)
	if fin != (finishedEvent{URL: "image.png", Bytes: len("png bytes")}) {
		t.Errorf("finished = %+v", fin)
	}
}

// TestResyncAfterOverflow fills a client's queue: publishing must not
// block, and the client's next write must be a snapshot holding every tile.
func TestResyncAfterOverflow(t *testing.T) {
	s := newServer(t, Config{Width: 8, Height: 8, ClientQueue: 2})
	c := s.subscribe()
	t.Cleanup(func() { s.unsubscribe(c) })
	<-c.kick
	if snap := s.resync(c); len(snap) != 1 {
		t.Fatalf("first snapshot of an empty render has %d events, want 1 (hello)", len(snap))
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		for y := range 8 {
			r := image.Rect(0, y, 8, y+1)
			if err := s.Tile(r, gradient(r), "n1"); err != nil {
				t.Error(err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Tile blocked on a client that reads nothing")
	}
	s.flush()

	select {
	case <-c.kick:
	default:
		t.Fatal("an overflowing client was not marked for a resync")
	}
	snap := s.resync(c)
	if tiles := countEvents(snap, "tile"); tiles != 8 {
		t.Fatalf("resync snapshot has %d tiles, want 8", tiles)
	}
	if len(c.events) != 0 || c.stale {
		t.Fatalf("after resync: %d queued, stale %v; want an empty, fresh queue", len(c.events), c.stale)
	}
	r := image.Rect(0, 0, 1, 1)
	mustTile(t, s, r, gradient(r), "n1")
	s.flush()
	if len(c.events) != 1 {
		t.Fatalf("after resync a new tile queued %d events, want 1", len(c.events))
	}
}

// TestSlowReaderGetsEveryTile stops reading while many tiles are published,
// with a queue of one: whichever way they come (live or by resync), every
// tile must reach the page.
func TestSlowReaderGetsEveryTile(t *testing.T) {
	const w, h = 16, 16
	s := newServer(t, Config{Width: w, Height: h, ClientQueue: 1})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	events := openStream(t, ts.URL)
	if ev := events.next(t); ev.name != "hello" {
		t.Fatalf("first event %q, want hello", ev.name)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for y := g; y < h; y += 4 {
				for x := range w {
					r := image.Rect(x, y, x+1, y+1)
					if err := s.Tile(r, gradient(r), "n"); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	seen := map[image.Point]bool{}
	for len(seen) < w*h {
		ev := events.next(t)
		if ev.name != "tile" {
			continue
		}
		var te tileEvent
		decode(t, ev, &te)
		seen[image.Pt(te.X, te.Y)] = true
	}
}

// TestTileCopiesPixels reuses the caller's buffer at once, as a controller
// does: the page must still get the pixels as they were.
func TestTileCopiesPixels(t *testing.T) {
	s := newServer(t, Config{Width: 3, Height: 2})
	r := s.Bounds()
	pix := gradient(r)
	want := append([]float32(nil), pix...)
	mustTile(t, s, r, pix, "n1")
	for i := range pix {
		pix[i] = 0
	}
	s.flush()
	s.mu.Lock()
	snap := s.state.snapshot()
	s.mu.Unlock()
	data, ok := bytes.CutPrefix(snap[1], []byte("event: tile\ndata: "))
	if !ok {
		t.Fatalf("second snapshot event is not a tile: %q", snap[1])
	}
	checkTile(t, event{name: "tile", data: string(data)}, r, want, "n1", 0)
}

func TestImageBeforeAndAfterFinish(t *testing.T) {
	s := newServer(t, Config{Width: 2, Height: 2})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	if code, _, _ := get(t, ts.URL+"/image.png"); code != http.StatusNotFound {
		t.Fatalf("GET /image.png before Finish: %d, want 404", code)
	}
	png := []byte("\x89PNG not really")
	s.Finish(png)
	png[1] = 'X' // Finish must have copied it
	s.flush()    // Finish queues the image; the finished event goes with it
	code, hdr, body := get(t, ts.URL+"/image.png")
	if code != http.StatusOK || hdr.Get("Content-Type") != "image/png" || string(body) != "\x89PNG not really" {
		t.Fatalf("GET /image.png after Finish: %d %q %q", code, hdr.Get("Content-Type"), body)
	}
}

func TestPageIsSelfContained(t *testing.T) {
	s := newServer(t, Config{Width: 2, Height: 2})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	tests := []struct {
		path, contentType, contains string
	}{
		{path: "/", contentType: "text/html; charset=utf-8", contains: `<canvas id="image"`},
		{path: "/assets/app.js", contentType: "text/javascript; charset=utf-8", contains: "putImageData"},
		{path: "/assets/style.css", contentType: "text/css; charset=utf-8", contains: "#overlay"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, hdr, body := get(t, ts.URL+tt.path)
			if code != http.StatusOK || hdr.Get("Content-Type") != tt.contentType || !bytes.Contains(body, []byte(tt.contains)) {
				t.Fatalf("GET %s: %d %q, body has %q: %v", tt.path, code, hdr.Get("Content-Type"), tt.contains, bytes.Contains(body, []byte(tt.contains)))
			}
			if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("Content-Security-Policy %q does not keep the page to its own origin", csp)
			}
		})
	}
	if code, _, _ := get(t, ts.URL+"/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing: %d, want 404", code)
	}
	// Offline: no asset names another host.
	err := fs.WalkDir(assetFiles, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assetFiles, path)
		if bytes.Contains(b, []byte("http://")) || bytes.Contains(b, []byte("https://")) || bytes.Contains(b, []byte("//cdn")) {
			t.Errorf("%s refers to another host", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"http://", "https://"} {
		if bytes.Contains(indexHTML, []byte(bad)) {
			t.Errorf("index.html refers to another host (%s)", bad)
		}
	}
}

// TestShutdownEndsStreams serves on a real listener with a page connected:
// Shutdown must end the stream, make Serve return and leave no goroutine.
func TestShutdownEndsStreams(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := newServer(t, Config{Width: 2, Height: 2})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	resp, err := client.Get("http://" + l.Addr().String() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ev := readEvent(t, bufio.NewReader(resp.Body)); ev.name != "hello" {
		t.Fatalf("first event %q, want hello", ev.name)
	}
	for range 50 { // leave work queued: Shutdown must wait for it or drop it
		mustTile(t, s, s.Bounds(), gradient(s.Bounds()), "n1")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v, want http.ErrServerClosed", err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatalf("stream did not end cleanly: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after Shutdown: %v", err)
	}
}

// --- helpers ---

func newServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustTile(t testing.TB, s *Server, r image.Rectangle, pix []float32, node string) {
	t.Helper()
	if err := s.Tile(r, pix, node); err != nil {
		t.Fatal(err)
	}
}

// gradient returns linear RGB pixels for r that depend on the position,
// including values outside [0, 1].
func gradient(r image.Rectangle) []float32 {
	pix := make([]float32, 0, r.Dx()*r.Dy()*3)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			pix = append(pix, float32(x)/7, float32(y)/5, float32((x*7+y*3)%11)/8-0.2)
		}
	}
	return pix
}

type event struct{ name, data string }

func decode(t testing.TB, ev event, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(ev.data), v); err != nil {
		t.Fatalf("event %s: %v: %s", ev.name, err, ev.data)
	}
}

func checkTile(t testing.TB, ev event, r image.Rectangle, pix []float32, node string, colour int) {
	t.Helper()
	var te tileEvent
	decode(t, ev, &te)
	want := (&render.Image{Width: r.Dx(), Height: r.Dy(), Pix: pix}).SRGB()
	if te.X != r.Min.X || te.Y != r.Min.Y || te.W != r.Dx() || te.H != r.Dy() || te.Node != node || te.Colour != colour {
		t.Fatalf("tile event %+v, want %v from %s colour %d", te, r, node, colour)
	}
	for i := range r.Dx() * r.Dy() {
		if !bytes.Equal(te.RGB[i*3:i*3+3], want.Pix[i*4:i*4+3]) {
			t.Fatalf("tile %v pixel %d: %v, want %v (render.Image.SRGB)", r, i, te.RGB[i*3:i*3+3], want.Pix[i*4:i*4+3])
		}
	}
}

func countEvents(evs [][]byte, name string) int {
	n := 0
	for _, ev := range evs {
		if bytes.HasPrefix(ev, []byte("event: "+name+"\n")) {
			n++
		}
	}
	return n
}

func get(t testing.TB, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// stream reads server-sent events in a goroutine that ends with the test.
type stream struct{ events chan event }

func openStream(t testing.TB, base string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("GET /events: Content-Type %q", ct)
	}
	s := &stream{events: make(chan event, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(s.events)
		br := bufio.NewReader(resp.Body)
		for {
			ev, err := parseEvent(br)
			if err != nil {
				return
			}
			select {
			case s.events <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return s
}

func (s *stream) next(t testing.TB) event {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("event stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return event{}
}

func readEvent(t testing.TB, br *bufio.Reader) event {
	t.Helper()
	ev, err := parseEvent(br)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// parseEvent reads one event of the form the server writes: an event line,
// a data line, a blank line.
func parseEvent(br *bufio.Reader) (event, error) {
	var ev event
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.name != "" {
				return ev, nil
			}
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// TestPreviewNodesStates: every state of the controller's node table shows
// on the preview page under the same name, the paused ones included.
func TestPreviewNodesStates(t *testing.T) {
	for _, st := range []scheduler.NodeState{scheduler.NodeConnecting, scheduler.NodeWorking, scheduler.NodeLost, scheduler.NodeExcluded,
		scheduler.NodePausedBusy, scheduler.NodePausedSchedule, scheduler.NodePaused, scheduler.NodeSuspended} {
		b, err := json.Marshal(nodeJSON{NodeStats: scheduler.NodeStats{ID: "n", State: st}})
		var row struct{ State string }
		if err != nil || json.Unmarshal(b, &row) != nil || row.State != st.String() {
			t.Errorf("scheduler state %s shows as %s on the page (%v)", st, b, err)
		}
	}
}

// TestFramesOfAnAnimation: Frame clears the tiles and says which frame the
// next ones are of; FrameDone puts a small picture of a finished frame in
// the strip (again for a frame done anew: replaced); a page that connects
// late gets the strip, the frame shown and only that frame's tiles.
func TestFramesOfAnAnimation(t *testing.T) {
	s := newServer(t, Config{Width: 200, Height: 100})
	left, right := image.Rect(0, 0, 100, 100), image.Rect(100, 0, 200, 100)
	s.Frame(1)
	mustTile(t, s, left, gradient(left), "n1")
	done := render.NewImage(200, 100)
	for i := range done.Pix {
		done.Pix[i] = 0.5
	}
	s.FrameDone(1, done)
	s.Frame(2)
	mustTile(t, s, right, gradient(right), "n1")
	s.FramesProgress(3, 4, 1, 2, 100, time.Second)
	s.flush()

	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	events := openStream(t, ts.URL)
	wantNames := []string{"hello", "strip", "frame", "tile", "progress"}
	var got []event
	for range wantNames {
		got = append(got, events.next(t))
	}
	for i, ev := range got {
		if ev.name != wantNames[i] {
			t.Fatalf("snapshot event %d is %q, want %q (all: %v)", i, ev.name, wantNames[i], got)
		}
	}
	var st stripEvent
	decode(t, got[1], &st)
	pic, err := png.Decode(bytes.NewReader(st.PNG))
	if err != nil || st.Frame != 1 {
		t.Fatalf("strip: frame %d, %v", st.Frame, err)
	}
	// 96 wide, the aspect kept, every pixel the mean of radiance 0.5 in sRGB.
	if b := pic.Bounds(); b.Dx() != 96 || b.Dy() != 48 {
		t.Errorf("strip picture %v, want 96x48", b)
	}
	if r, _, _, _ := pic.At(10, 10).RGBA(); r>>8 != uint32(done.SRGB().Pix[0]) {
		t.Errorf("strip pixel %d, want %d", r>>8, done.SRGB().Pix[0])
	}
	var fr frameEvent
	decode(t, got[2], &fr)
	if fr.Frame != 2 {
		t.Errorf("frame shown %d, want 2", fr.Frame)
	}
	checkTile(t, got[3], right, gradient(right), "n1", 0)
	var prog progressEvent
	decode(t, got[4], &prog)
	if prog.FramesDone != 1 || prog.Frames != 2 || prog.Done != 3 {
		t.Errorf("progress %+v, want 1 of 2 frames, 3 tiles", prog)
	}
	// Frame 1 done anew replaces its picture; live, the page hears of it.
	s.FrameDone(1, done)
	if ev := events.next(t); ev.name != "strip" {
		t.Fatalf("got %q, want strip", ev.name)
	}
	s.flush()
	s.mu.Lock()
	n := len(s.state.strip)
	s.mu.Unlock()
	if n != 1 {
		t.Errorf("%d pictures in the strip after frame 1 twice, want 1", n)
	}
}
