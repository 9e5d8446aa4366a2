package node

import (
	"context"
	"errors"
	"image"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tessera/protocol"
	"tessera/render"
	"tessera/scheduler/schedtest"
)

// recordingRender is a fakeRender that records the jobs it renders and can
// hold each tile until the test lets it go.
type recordingRender struct {
	gate     chan struct{} // nil: no wait
	mu       sync.Mutex
	order    []int // Width of each job rendered (tests give each controller its own)
	started  chan image.Rectangle
	canceled atomic.Int32
}

func (r *recordingRender) RenderTile(ctx context.Context, set render.Settings, rect image.Rectangle, dst []float32) (uint64, error) {
	if r.started != nil {
		r.started <- rect
	}
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			r.canceled.Add(1)
			return 0, ctx.Err()
		}
	}
	r.mu.Lock()
	r.order = append(r.order, set.Width)
	r.mu.Unlock()
	schedtest.FillTile(dst, rect, set)
	return uint64(rect.Dx() * rect.Dy()), nil
}

// startFakeNode serves a Node whose scenes all render with rr, and counts
// the scenes it loads.
func startFakeNode(t *testing.T, cfg Config, rr renderer) (*Node, string, *atomic.Int32) {
	t.Helper()
	loads := new(atomic.Int32)
	n, addr := startNodeWith(t, cfg, func(n *Node) {
		n.load = func(*render.Bundle, render.Limits) (renderer, error) {
			loads.Add(1)
			return rr, nil
		}
	})
	return n, addr, loads
}

// controllerConn dials addr and handshakes as a controller.
func controllerConn(t *testing.T, addr, token string) *protocol.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := protocol.Dial(ctx, addr, protocol.Config{ReadTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Handshake(ctx, protocol.Hello{Role: protocol.RoleController, ID: "test-controller"}, token); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c *protocol.Conn, msgs ...protocol.Message) {
	t.Helper()
	for _, m := range msgs {
		if err := c.Send(m); err != nil {
			t.Fatalf("send %T: %v", m, err)
		}
	}
}

func recv(t *testing.T, c *protocol.Conn) protocol.Message {
	t.Helper()
	m, err := c.Recv()
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return m
}

// job is a valid tile job of the fake scene.
func testJob(id uint64, w int, r image.Rectangle) protocol.TileJob {
	return protocol.TileJob{Job: id, Scene: schedtest.SceneFrame(schedtest.Bundle()).Hash, Width: w, Height: 16, SPP: 1, MaxDepth: 1,
		X0: r.Min.X, Y0: r.Min.Y, X1: r.Max.X, Y1: r.Max.Y, Epoch: uint32(id % 5)}
}

func TestNodeServesJobsAndPings(t *testing.T) {
	_, addr, _ := startFakeNode(t, Config{Workers: 2}, &recordingRender{})
	c := controllerConn(t, addr, "")
	send(t, c, schedtest.SceneFrame(schedtest.Bundle()))
	want := map[uint64]protocol.TileJob{}
	for i := range 6 {
		j := testJob(uint64(i+1), 32, image.Rect(i*4, 0, i*4+4, 3))
		want[j.Job] = j
		send(t, c, j)
	}
	send(t, c, protocol.Ping{Seq: 42})
	pong := false
	for len(want) > 0 || !pong {
		switch m := recv(t, c).(type) {
		case protocol.TileResult:
			j, ok := want[m.Job]
			if !ok {
				t.Fatalf("result for unknown or repeated job %d", m.Job)
			}
			delete(want, m.Job)
			if m.Epoch != j.Epoch || string(m.Pixels) != string(schedtest.JobPixels(j)) || m.Rays != uint64(j.Pixels()) {
				t.Errorf("job %d: wrong result (epoch %d rays %d)", m.Job, m.Epoch, m.Rays)
			}
		case protocol.Pong:
			pong = m.Seq == 42
		default:
			t.Fatalf("unexpected %#v", m)
		}
	}
}

// Two controllers on a one-worker node take turns, whoever queued first.
func TestNodeRoundRobinBetweenConnections(t *testing.T) {
	rr := &recordingRender{gate: make(chan struct{}), started: make(chan image.Rectangle, 64)}
	n, addr, _ := startFakeNode(t, Config{Workers: 1}, rr)
	a, b := controllerConn(t, addr, ""), controllerConn(t, addr, "")
	send(t, a, schedtest.SceneFrame(schedtest.Bundle()))
	send(t, b, schedtest.SceneFrame(schedtest.Bundle()))
	const per = 10
	for i := range per {
		send(t, a, testJob(uint64(i+1), 100, image.Rect(0, 0, 1, 1)))
	}
	<-rr.started // a's first job holds the worker
	for i := range per {
		send(t, b, testJob(uint64(i+1), 200, image.Rect(0, 0, 1, 1)))
	}
	schedtest.WaitFor(t, "every job queued", 5*time.Second, func() bool { return n.Counters().JobsQueued == 2*per-1 })
	go func() {
		for i := range 2 * per {
			rr.gate <- struct{}{}
			if i < 2*per-1 {
				<-rr.started
			}
		}
	}()
	for range per {
		recv(t, a)
		recv(t, b)
	}
	rr.mu.Lock()
	order := append([]int(nil), rr.order...)
	rr.mu.Unlock()
	// After a's first job, b's ten are spread among a's: in any window of
	// four consecutive jobs while both have work, each has at least one.
	for i := 1; i+4 <= 2*per-2; i++ {
		as := 0
		for _, w := range order[i : i+4] {
			if w == 100 {
				as++
			}
		}
		if as == 0 || as == 4 {
			t.Fatalf("order %v: jobs %d..%d all from one controller", order, i, i+3)
		}
	}
}

func TestNodeRefusesBadRequests(t *testing.T) {
	scene := schedtest.SceneFrame(schedtest.Bundle())
	inside := image.Rect(0, 0, 4, 4)
	for _, tc := range []struct {
		name   string
		cfg    Config
		msgs   []protocol.Message
		code   protocol.Code
		want   string
		closes bool // the node closes the connection after the Error
	}{
		{name: "unknown scene", msgs: []protocol.Message{testJob(1, 32, inside)}, code: protocol.CodeUnknownScene, want: "unknown scene"},
		{name: "rectangle outside", msgs: []protocol.Message{scene, testJob(1, 32, image.Rect(30, 0, 40, 4))}, code: protocol.CodeBadJob, want: "rectangle"},
		{name: "spp over limit", cfg: Config{Limits: render.Limits{MaxSPP: 4}}, msgs: []protocol.Message{scene, func() protocol.TileJob { j := testJob(1, 32, inside); j.SPP = 5; return j }()}, code: protocol.CodeLimit, want: "MaxSPP=4"},
		{name: "tile over limit", cfg: Config{Limits: render.Limits{MaxTilePixels: 8}}, msgs: []protocol.Message{scene, testJob(1, 32, inside)}, code: protocol.CodeLimit, want: "MaxTilePixels=8"},
		{name: "depth over limit", cfg: Config{Limits: render.Limits{MaxDepth: 1}}, msgs: []protocol.Message{scene, func() protocol.TileJob { j := testJob(1, 32, inside); j.MaxDepth = 2; return j }()}, code: protocol.CodeLimit, want: "MaxDepth=1"},
		{name: "image over limit", cfg: Config{Limits: render.Limits{MaxImageSide: 16}}, msgs: []protocol.Message{scene, testJob(1, 32, inside)}, code: protocol.CodeLimit, want: "MaxImageSide=16"},
		// A scene that does not load ends the connection (PROTOCOL.md).
		{name: "scene hash wrong", msgs: []protocol.Message{protocol.Scene{Hash: "beef", Main: scene.Main, Files: scene.Files}}, code: protocol.CodeBadScene, want: "hash", closes: true},
		{name: "scene file twice", msgs: []protocol.Message{protocol.Scene{Hash: scene.Hash, Main: scene.Main, Files: append(scene.Files, scene.Files...)}}, code: protocol.CodeBadScene, want: "twice", closes: true},
		// Job id 0 is reserved, and an id is unique among the jobs in
		// flight: either breaks the protocol.
		{name: "job id 0", msgs: []protocol.Message{scene, testJob(0, 32, inside)}, code: protocol.CodeBadFrame, want: "job id 0", closes: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr, _ := startFakeNode(t, tc.cfg, &recordingRender{})
			c := controllerConn(t, addr, "")
			send(t, c, tc.msgs...)
			m, ok := recv(t, c).(protocol.Error)
			if !ok || m.Code != tc.code || !strings.Contains(m.Message, tc.want) {
				t.Fatalf("got %#v, want Error %s saying %q", m, tc.code, tc.want)
			}
			if tc.closes {
				if m.Job != 0 {
					t.Errorf("Error for job %d, want job 0: it concerns the connection", m.Job)
				}
				if m, err := c.Recv(); err == nil {
					t.Fatalf("got %#v after the Error, want the connection closed", m)
				}
				return
			}
			// The connection still works.
			send(t, c, protocol.Ping{Seq: 7})
			for {
				if p, ok := recv(t, c).(protocol.Pong); ok && p.Seq == 7 {
					break
				}
			}
		})
	}
}

func TestNodeLimitsInFlightPerConnection(t *testing.T) {
	rr := &recordingRender{gate: make(chan struct{})}
	_, addr, _ := startFakeNode(t, Config{Workers: 1, MaxInFlight: 3}, rr)
	c := controllerConn(t, addr, "")
	send(t, c, schedtest.SceneFrame(schedtest.Bundle()))
	for i := range 4 {
		send(t, c, testJob(uint64(i+1), 32, image.Rect(0, 0, 1, 1)))
	}
	m, ok := recv(t, c).(protocol.Error)
	if !ok || m.Code != protocol.CodeBusy || m.Job != 4 || !strings.Contains(m.Message, "MaxInFlight=3") {
		t.Fatalf("got %#v, want busy for job 4 naming MaxInFlight=3", m)
	}
	// Another connection has its own budget.
	d := controllerConn(t, addr, "")
	send(t, d, schedtest.SceneFrame(schedtest.Bundle()), testJob(1, 32, image.Rect(0, 0, 1, 1)))
	close(rr.gate)
	for range 3 {
		if _, ok := recv(t, c).(protocol.TileResult); !ok {
			t.Fatal("want the 3 accepted jobs' results")
		}
	}
	if _, ok := recv(t, d).(protocol.TileResult); !ok {
		t.Fatal("second connection: want its result")
	}
}

func TestNodeDuplicateJobIDRefused(t *testing.T) {
	rr := &recordingRender{gate: make(chan struct{})}
	_, addr, _ := startFakeNode(t, Config{Workers: 1}, rr)
	c := controllerConn(t, addr, "")
	j := testJob(9, 32, image.Rect(0, 0, 2, 2))
	send(t, c, schedtest.SceneFrame(schedtest.Bundle()), j, j)
	// An answer with job 9 could not say which of the two it is for: the
	// repeat breaks the protocol, and the connection ends.
	m, ok := recv(t, c).(protocol.Error)
	if !ok || m.Code != protocol.CodeBadFrame || m.Job != 0 || !strings.Contains(m.Message, "already in flight") {
		t.Fatalf("got %#v, want bad-frame for the connection naming the repeated id", m)
	}
	close(rr.gate)
	if m, err := c.Recv(); err == nil {
		t.Fatalf("got %#v, want the connection closed", m)
	}
}

func TestNodeCancel(t *testing.T) {
	rr := &recordingRender{gate: make(chan struct{}), started: make(chan image.Rectangle, 8)}
	n, addr, _ := startFakeNode(t, Config{Workers: 1}, rr)
	c := controllerConn(t, addr, "")
	send(t, c, schedtest.SceneFrame(schedtest.Bundle()))
	send(t, c, testJob(1, 32, image.Rect(0, 0, 1, 1)), testJob(2, 32, image.Rect(1, 0, 2, 1)), testJob(3, 32, image.Rect(2, 0, 3, 1)))
	<-rr.started                                                 // job 1 runs
	send(t, c, protocol.Cancel{Job: 2}, protocol.Cancel{Job: 1}) // one queued, one running
	schedtest.WaitFor(t, "the running job to stop", 5*time.Second, func() bool { return rr.canceled.Load() == 1 })
	<-rr.started // job 3
	rr.gate <- struct{}{}
	if r, ok := recv(t, c).(protocol.TileResult); !ok || r.Job != 3 {
		t.Fatalf("got %#v, want only job 3's result", r)
	}
	if got := n.Counters().JobsDone; got != 1 {
		t.Errorf("jobs done %d, want 1", got)
	}
}

func TestNodeDropsJobsOfAClosedConnection(t *testing.T) {
	rr := &recordingRender{gate: make(chan struct{}), started: make(chan image.Rectangle, 8)}
	n, addr, _ := startFakeNode(t, Config{Workers: 1}, rr)
	c := controllerConn(t, addr, "")
	send(t, c, schedtest.SceneFrame(schedtest.Bundle()))
	for i := range 4 {
		send(t, c, testJob(uint64(i+1), 32, image.Rect(i, 0, i+1, 1)))
	}
	<-rr.started
	c.Close()
	schedtest.WaitFor(t, "the running tile to be cancelled and the queue dropped", 5*time.Second, func() bool {
		k := n.Counters()
		return rr.canceled.Load() == 1 && k.JobsQueued == 0 && k.JobsRunning == 0 && k.Conns == 0
	})
	if k := n.Counters(); k.JobsDone != 0 {
		t.Errorf("%d jobs done for a controller that left", k.JobsDone)
	}
}

func TestNodeSceneCache(t *testing.T) {
	small := schedtest.Bundle()
	other := &render.Bundle{Main: "other.json", Files: map[string][]byte{"other.json": []byte(`{"x":1}`)}}
	_, addr, loads := startFakeNode(t, Config{MaxSceneBytes: 8}, &recordingRender{})
	ping := func(c *protocol.Conn) { // a Pong comes after every earlier frame was handled
		t.Helper()
		send(t, c, protocol.Ping{Seq: 1})
		for {
			if _, ok := recv(t, c).(protocol.Pong); ok {
				return
			}
		}
	}
	a := controllerConn(t, addr, "")
	send(t, a, schedtest.SceneFrame(small))
	job := testJob(1, 32, image.Rect(0, 0, 1, 1))
	send(t, a, job)
	recv(t, a)
	b := controllerConn(t, addr, "")
	send(t, b, schedtest.SceneFrame(small), job) // cached: not loaded again
	recv(t, b)
	if got := loads.Load(); got != 1 {
		t.Fatalf("scene loaded %d times for two connections, want 1", got)
	}
	send(t, b, schedtest.SceneFrame(other)) // over the 8-byte bound with the first: evicts it
	ping(b)
	schedtest.WaitFor(t, "the second scene to load", 5*time.Second, func() bool { return loads.Load() == 2 })
	c := controllerConn(t, addr, "")
	send(t, c, job) // the evicted scene is unknown to a new connection...
	if m, ok := recv(t, c).(protocol.Error); !ok || m.Code != protocol.CodeUnknownScene {
		t.Fatalf("got %#v, want unknown-scene for an evicted scene", m)
	}
	send(t, a, job) // ...but the connection that sent it keeps it
	if _, ok := recv(t, a).(protocol.TileResult); !ok {
		t.Fatal("want a result on the connection that sent the evicted scene")
	}
}

func TestNodeMaxConnsAndHandshakeDeadline(t *testing.T) {
	n, addr, _ := startFakeNode(t, Config{MaxConns: 2, HandshakeTimeout: 200 * time.Millisecond}, &recordingRender{})
	a := controllerConn(t, addr, "")
	mute, err := net.Dial("tcp", addr) // says nothing
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	// The third connection is refused with an error naming the limit.
	third, err := protocol.Dial(context.Background(), addr, protocol.Config{ReadTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	m, err := third.Recv()
	if e, ok := m.(protocol.Error); err != nil || !ok || e.Code != protocol.CodeBusy || !strings.Contains(e.Message, "MaxConns=2") {
		t.Fatalf("third connection got %#v, %v: want busy naming MaxConns=2", m, err)
	}
	// The mute one is closed at the handshake deadline, freeing its place.
	_ = mute.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	for {
		if _, err := mute.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("a connection that never said hello is still open after 5 s")
			}
			break
		}
	}
	schedtest.WaitFor(t, "the mute connection to be forgotten", 5*time.Second, func() bool { return n.Counters().Conns == 1 })
	b := controllerConn(t, addr, "")
	send(t, a, protocol.Ping{Seq: 1})
	send(t, b, protocol.Ping{Seq: 2})
	recv(t, a)
	recv(t, b)
}

func TestNodeToken(t *testing.T) {
	_, addr, _ := startFakeNode(t, Config{Token: "room-42"}, &recordingRender{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tok := range []string{"", "wrong"} {
		c, err := protocol.Dial(ctx, addr, protocol.Config{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Handshake(ctx, protocol.Hello{Role: protocol.RoleController, ID: "intruder"}, tok)
		c.Close()
		if err == nil {
			t.Fatalf("token %q: handshake succeeded", tok)
		}
	}
	c := controllerConn(t, addr, "room-42")
	send(t, c, protocol.Ping{Seq: 3})
	if p, ok := recv(t, c).(protocol.Pong); !ok || p.Seq != 3 {
		t.Fatalf("got %#v, want pong", p)
	}
}

func TestNodeUnexpectedFrameCloses(t *testing.T) {
	_, addr, _ := startFakeNode(t, Config{}, &recordingRender{})
	c := controllerConn(t, addr, "")
	send(t, c, protocol.TileResult{Job: 1})
	if m, ok := recv(t, c).(protocol.Error); !ok || m.Code != protocol.CodeBadFrame {
		t.Fatalf("got %#v, want bad-frame", m)
	}
	if _, err := c.Recv(); err == nil {
		t.Fatal("connection still open after a bad frame")
	}
}

func TestNewNodeBadConfig(t *testing.T) {
	for _, cfg := range []Config{{Workers: -1}, {MaxConns: -1}, {HandshakeTimeout: -time.Second}, {MaxSceneBytes: -5},
		{Limits: render.Limits{MaxSPP: -1}}, {Limits: render.Limits{MaxTilePixels: 24 << 20}}} { // 24 Mi pixels: a 288 MiB result, over a 272 MiB frame
		if _, err := New(cfg); !errors.Is(err, ErrBadConfig) {
			t.Errorf("New(%+v): %v, want ErrBadConfig", cfg, err)
		}
	}
}

// results reads the pixels of n TileResults, by job, skipping pongs.
func results(t *testing.T, c *protocol.Conn, n int) map[uint64]string {
	t.Helper()
	got := map[uint64]string{}
	for len(got) < n {
		switch m := recv(t, c).(type) {
		case protocol.TileResult:
			got[m.Job] = string(m.Pixels)
		case protocol.Pong:
		default:
			t.Fatalf("unexpected %#v", m)
		}
	}
	return got
}

// TestNodeRendersFrames: a job with a frame renders that frame of the
// scene's animation, evaluated on the node, equal to the local render of
// the frame; one without renders the still; the scene is sent once.
func TestNodeRendersFrames(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "orbit.glb")
	_, addr := startNode(t, Config{Workers: 2})
	c := controllerConn(t, addr, "")
	frame := schedtest.SceneFrame(bundle)
	send(t, c, frame)
	r := image.Rect(8, 4, 24, 16)
	set := render.Settings{Width: 32, Height: 20, SPP: 2, MaxDepth: 3}
	want := map[uint64][]float32{}
	for i, f := range []int{-1, 1, 24, 48} {
		job := protocol.TileJob{Job: uint64(i + 1), Scene: frame.Hash, Width: set.Width, Height: set.Height, SPP: set.SPP, MaxDepth: set.MaxDepth,
			X0: r.Min.X, Y0: r.Min.Y, X1: r.Max.X, Y1: r.Max.Y}
		s := scene
		if f >= 0 {
			job.Frame = &f
			fs, err := scene.Frame(f)
			if err != nil {
				t.Fatal(err)
			}
			s = fs
		}
		pix := make([]float32, 3*r.Dx()*r.Dy())
		if _, err := s.RenderTile(context.Background(), set, r, pix); err != nil {
			t.Fatal(err)
		}
		want[job.Job] = pix
		send(t, c, job)
	}
	got := results(t, c, len(want))
	for id, pix := range want {
		if got[id] != string(protocol.EncodePixels(pix)) {
			t.Errorf("job %d: pixels differ from the local render of its frame", id)
		}
	}
	if got[1] == got[2] || got[2] == got[4] {
		t.Error("the still and frames 1 and 48 gave the same pixels")
	}
	// A frame past the last is refused as a bad job.
	big := render.MaxFrame + 1
	send(t, c, protocol.TileJob{Job: 9, Scene: frame.Hash, Width: 32, Height: 20, SPP: 1, MaxDepth: 1, X1: 4, Y1: 4, Frame: &big})
	for {
		if e, ok := recv(t, c).(protocol.Error); ok {
			if e.Job != 9 || e.Code != protocol.CodeBadJob || !strings.Contains(e.Message, "frame 1048575") {
				t.Fatalf("got %+v, want bad-job for frame 1048575", e)
			}
			break
		}
	}
}

// A job with a sample range renders that pass: the sums of those samples of
// the pixels its mask selects, as render.Scene.RenderPass writes them, of
// the still and of a frame.
func TestNodeRendersPasses(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "orbit.glb")
	_, addr := startNode(t, Config{Workers: 2})
	c := controllerConn(t, addr, "")
	frame := schedtest.SceneFrame(bundle)
	send(t, c, frame)
	r := image.Rect(8, 4, 19, 11) // 77 pixels: a mask of 10 bytes
	set := render.Settings{Width: 32, Height: 20, SPP: 16, MaxDepth: 3}
	mask := make([]byte, render.MaskBytes(77))
	for k := 0; k < 77; k += 2 {
		mask[k/8] |= 1 << (k % 8)
	}
	f := 5
	fs, err := scene.Frame(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64][]float32{}
	for i, tt := range []struct {
		s     *render.Scene
		frame *int
		p     render.Pass
	}{
		{scene, nil, render.Pass{From: 0, To: 4}},
		{scene, nil, render.Pass{From: 4, To: 8, Mask: mask}},
		{fs, &f, render.Pass{From: 8, To: 16, Mask: mask}},
	} {
		job := protocol.TileJob{Job: uint64(i + 1), Scene: frame.Hash, Width: set.Width, Height: set.Height, SPP: set.SPP, MaxDepth: set.MaxDepth,
			X0: r.Min.X, Y0: r.Min.Y, X1: r.Max.X, Y1: r.Max.Y, Frame: tt.frame, From: tt.p.From, To: tt.p.To, Mask: tt.p.Mask}
		pix := make([]float32, 3*tt.p.Selected(77))
		if _, err := tt.s.RenderPass(context.Background(), set, r, tt.p, pix); err != nil {
			t.Fatal(err)
		}
		want[job.Job] = pix
		send(t, c, job)
	}
	got := results(t, c, len(want))
	for id, pix := range want {
		if got[id] != string(protocol.EncodePixels(pix)) {
			t.Errorf("job %d: %d bytes, differing from RenderPass's %d pixels", id, len(got[id]), len(pix)/3)
		}
	}
}
