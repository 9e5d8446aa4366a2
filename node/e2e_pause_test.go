package node

import (
	"context"
	"image"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tessera/discovery"
	"tessera/node/guest"
	"tessera/protocol"
	"tessera/render"
	"tessera/scheduler"
	"tessera/scheduler/schedtest"
)

// End-to-end tests of a node that pauses: a real Service (its watch, its
// Node) and a steady Node on 127.0.0.1, under the real controller.

// loadCPU is a two-core machine whose other programs use the share the test
// sets, from one reading to the next.
type loadCPU struct {
	other atomic.Uint64 // math.Float64bits of the share
	mu    sync.Mutex
	last  time.Time
	s     guest.CPUSample
}

func (c *loadCPU) set(share float64) { c.other.Store(math.Float64bits(share)) }

func (c *loadCPU) Read() (guest.CPUSample, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if !c.last.IsZero() {
		dt := 2 * now.Sub(c.last)
		c.s.Total += dt
		c.s.Busy += time.Duration(math.Float64frombits(c.other.Load()) * float64(dt))
	}
	c.last = now
	return c.s, nil
}

// holdRender renders each tile no faster than d, and not at all while
// held: a node the test can stop mid-tile, or from finishing the image too
// soon.
type holdRender struct {
	s *render.Scene
	d time.Duration

	mu   sync.Mutex
	held chan struct{} // nil: not held; closed by release
}

func (r *holdRender) hold() {
	r.mu.Lock()
	r.held = make(chan struct{})
	r.mu.Unlock()
}

func (r *holdRender) release() {
	r.mu.Lock()
	close(r.held)
	r.held = nil
	r.mu.Unlock()
}

// scenes makes n render with r.
func (r *holdRender) scenes(n *Node) {
	n.load = func(bd *render.Bundle, lim render.Limits) (renderer, error) {
		s, err := render.LoadBundle(bd, lim)
		r.mu.Lock()
		r.s = s
		r.mu.Unlock()
		return r, err
	}
}

func (r *holdRender) RenderTile(ctx context.Context, set render.Settings, rect image.Rectangle, dst []float32) (uint64, error) {
	r.mu.Lock()
	held, scene := r.held, r.s
	r.mu.Unlock()
	if held != nil {
		select {
		case <-held:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return slowRender{s: scene, d: r.d}.RenderTile(ctx, set, rect, dst)
}

// startService runs a node Service on 127.0.0.1:0 until the test ends;
// hook changes its node before it serves.
func startService(t *testing.T, cfg ServiceConfig, hook func(*Node)) (*Service, string) {
	t.Helper()
	svc, err := NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hook(svc.node)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Service.Run: %v", err)
		}
	})
	return svc, l.Addr().String()
}

// tileLog collects the controller's tile events by node, so that a test
// can wait for a node's next tile.
type tileLog struct {
	mu     sync.Mutex
	counts map[string]int
	signal chan struct{} // closed at the next tile
}

func newTileLog() *tileLog { return &tileLog{counts: map[string]int{}, signal: make(chan struct{})} }

func (l *tileLog) add(e scheduler.TileEvent) {
	l.mu.Lock()
	l.counts[e.NodeID]++
	close(l.signal)
	l.signal = make(chan struct{})
	l.mu.Unlock()
}

func (l *tileLog) count(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[id]
}

type runResult struct {
	res *scheduler.Result
	err error
}

// renderOnGuestAndSteady starts a render of the scene on the nodes guest
// (at addr a) and steady (at b), the tiles it writes logged by node.
func renderOnGuestAndSteady(t *testing.T, scene *render.Scene, bundle *render.Bundle, set render.Settings, a, b string) (*tileLog, <-chan runResult) {
	t.Helper()
	tiles := newTileLog()
	c, err := scheduler.NewController(scheduler.Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, Local: 0, OnTile: tiles.add})
	if err != nil {
		t.Fatal(err)
	}
	c.AddNode(discovery.Node{ID: "guest", Addr: a, Source: discovery.SourceFlag})
	c.AddNode(discovery.Node{ID: "steady", Addr: b, Source: discovery.SourceFlag})
	done := make(chan runResult, 1)
	go func() {
		res, err := c.Run(context.Background())
		done <- runResult{res, err}
	}()
	return tiles, done
}

// TestYieldEndToEnd: a foreground load starting mid-render makes the node
// hand its tiles back within the yield delay (the controller re-queues them
// with no failure and does not exclude the node); the steady node renders
// them and the image is exact; once the PC is quiet the node takes tiles
// again over the same connection.
func TestYieldEndToEnd(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 96, Height: 64, SPP: 1})
	want := schedtest.LocalRender(t, scene, set)

	const after, quiet = 150 * time.Millisecond, 300 * time.Millisecond
	load := &loadCPU{}
	guestRender, steadyRender := &holdRender{d: 10 * time.Millisecond}, &holdRender{d: 30 * time.Millisecond}
	svc, a := startService(t, ServiceConfig{
		Node:  Config{ID: "guest", Workers: 1, PauseGrace: 100 * time.Millisecond},
		Watch: guest.WatchConfig{Yield: guest.Yield{Share: 0.25, After: after, Quiet: quiet}, CPU: load},
	}, guestRender.scenes)
	_, b := startNodeWith(t, Config{ID: "steady", Workers: 1}, steadyRender.scenes)
	tiles, done := renderOnGuestAndSteady(t, scene, bundle, set, a, b)

	// The foreground program starts once the guest has rendered 3 tiles,
	// while it renders one and holds one queued (the tile is held, so that
	// the grace runs out on it).
	guestNode := svc.Node()
	schedtest.WaitFor(t, "the guest to render 3 tiles", 20*time.Second, func() bool { return tiles.count("guest") >= 3 })
	guestRender.hold()
	schedtest.WaitFor(t, "the guest to hold a running and a queued tile", 20*time.Second, func() bool {
		k := guestNode.Counters()
		return k.JobsRunning == 1 && k.JobsQueued >= 1
	})
	load.set(0.9)
	loaded := time.Now()
	schedtest.WaitFor(t, "the guest to pause and hand its tiles back", 10*time.Second, func() bool {
		k := guestNode.Counters()
		return k.State == string(protocol.StatePausedBusy) && k.JobsQueued == 0 && k.JobsPaused >= 2
	})
	handBack := time.Since(loaded)
	guestRender.release()
	t.Logf("the guest handed %d tiles back %v after the load began (yield after %v, grace 100ms)",
		guestNode.Counters().JobsPaused, handBack.Round(time.Millisecond), after)
	if handBack > 3*time.Second {
		t.Errorf("the guest handed its tiles back %v after the load began, want within 3 s", handBack)
	}
	pausedAt := tiles.count("guest")
	if k := guestNode.Counters(); k.Conns != 1 {
		t.Errorf("the paused guest has %d connections, want the controller's one, kept", k.Conns)
	}

	// Quiet again: hold the steady node so that tiles are left, and wait
	// for the guest to render again, over the connection it kept.
	steadyRender.hold()
	load.set(0.05)
	schedtest.WaitFor(t, "the guest to resume and render again", 20*time.Second, func() bool { return tiles.count("guest") > pausedAt })
	steadyRender.release()

	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	schedtest.SameImage(t, r.res.Image, want)
	g, s := nodeStats(t, r.res.Stats, "guest"), nodeStats(t, r.res.Stats, "steady")
	t.Logf("guest %+v; steady %+v; retries %d", g, s, r.res.Stats.Retries)
	if g.Failures != 0 || g.Excluded != "" || g.State != scheduler.NodeWorking {
		t.Errorf("guest %+v: want no failure, not excluded, working at the end", g)
	}
	if g.HandedBack < 2 || r.res.Stats.Retries < g.HandedBack {
		t.Errorf("guest handed back %d tiles, retries %d: want them counted and re-queued", g.HandedBack, r.res.Stats.Retries)
	}
	if s.Tiles == 0 || g.Tiles <= pausedAt {
		t.Errorf("tiles: guest %d (%d before its pause), steady %d", g.Tiles, pausedAt, s.Tiles)
	}
}

// TestScheduleEndToEnd: with an injected clock, the window closing
// mid-render pauses the node (its tiles go back, are rendered elsewhere);
// the next window opening resumes it, and it renders again.
func TestScheduleEndToEnd(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 96, Height: 64, SPP: 1})
	want := schedtest.LocalRender(t, scene, set)
	sc, err := guest.ParseSchedule("mon-fri 18:00-08:00")
	if err != nil {
		t.Fatal(err)
	}
	clock := schedtest.NewClock(time.Date(2026, 3, 3, 7, 59, 0, 0, time.UTC)) // Tuesday 07:59: open for a minute
	waiting := func() bool { return clock.Waiting() > 0 }
	svc, a := startService(t, ServiceConfig{
		Node:  Config{ID: "guest", Workers: 1, PauseGrace: 50 * time.Millisecond},
		Watch: guest.WatchConfig{Schedule: sc, Clock: clock},
	}, slowScenes(10*time.Millisecond))
	steadyRender := &holdRender{d: 30 * time.Millisecond}
	_, b := startNodeWith(t, Config{ID: "steady", Workers: 1}, steadyRender.scenes)
	tiles, done := renderOnGuestAndSteady(t, scene, bundle, set, a, b)
	guestNode := svc.Node()
	schedtest.WaitFor(t, "the guest to render 3 tiles", 20*time.Second, func() bool { return tiles.count("guest") >= 3 })

	// 08:00: the window closes.
	schedtest.WaitFor(t, "the watch to wait on its clock", 10*time.Second, waiting)
	clock.Advance(time.Minute)
	schedtest.WaitFor(t, "the guest to pause for its schedule", 10*time.Second, func() bool {
		k := guestNode.Counters()
		return k.State == string(protocol.StatePausedSchedule) && k.JobsQueued == 0 && k.JobsRunning == 0
	})
	pausedAt := tiles.count("guest")
	if st, why := guestNode.State(); st != protocol.StatePausedSchedule || why == "" {
		t.Errorf("state %s (%q)", st, why)
	}

	// 18:00: it opens again; the steady node is held so that tiles are left.
	steadyRender.hold()
	schedtest.WaitFor(t, "the watch to wait on its clock", 10*time.Second, waiting)
	clock.Advance(10 * time.Hour)
	schedtest.WaitFor(t, "the guest to render again", 20*time.Second, func() bool { return tiles.count("guest") > pausedAt })
	steadyRender.release()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	schedtest.SameImage(t, r.res.Image, want)
	g := nodeStats(t, r.res.Stats, "guest")
	if g.Failures != 0 || g.Excluded != "" || g.Tiles <= pausedAt {
		t.Errorf("guest %+v: want no failure, not excluded, tiles after the window opened (%d before)", g, pausedAt)
	}
}
