package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tessera/discovery"
	"tessera/protocol"
	"tessera/render"
	"tessera/scheduler/schedtest"
)

func TestTileGridCentreOutwards(t *testing.T) {
	for _, tc := range []struct {
		name       string
		w, h, size int
	}{
		{"square", 64, 64, 16},
		{"ragged edges", 50, 30, 16},
		{"one tile", 10, 10, 32},
		{"thin", 100, 1, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rects := tileGrid(tc.w, tc.h, tc.size)
			covered := make([]int, tc.w*tc.h)
			dist := func(r image.Rectangle) int {
				dx, dy := r.Min.X+r.Max.X-tc.w, r.Min.Y+r.Max.Y-tc.h
				return dx*dx + dy*dy
			}
			for i, r := range rects {
				if i > 0 && dist(r) < dist(rects[i-1]) {
					t.Errorf("tile %d %v is nearer the centre than tile %d %v", i, r, i-1, rects[i-1])
				}
				for y := r.Min.Y; y < r.Max.Y; y++ {
					for x := r.Min.X; x < r.Max.X; x++ {
						covered[y*tc.w+x]++
					}
				}
			}
			for i, n := range covered {
				if n != 1 {
					t.Fatalf("pixel (%d,%d) covered %d times", i%tc.w, i/tc.w, n)
				}
			}
			// The first tile touches the centre (it may sit on a corner).
			r := rects[0]
			if 2*r.Min.X > tc.w || 2*r.Max.X < tc.w || 2*r.Min.Y > tc.h || 2*r.Max.Y < tc.h {
				t.Errorf("first tile %v does not touch the centre (%d/2,%d/2)", r, tc.w, tc.h)
			}
		})
	}
}

func TestNewControllerBadConfig(t *testing.T) {
	good := Config{Bundle: schedtest.Bundle(), Settings: render.Settings{Width: 8, Height: 8, SPP: 1, MaxDepth: 1}}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no bundle", func(c *Config) { c.Bundle = nil }, "Bundle"},
		{"unresolved settings", func(c *Config) { c.Settings.SPP = 0 }, "Settings"},
		{"negative tile", func(c *Config) { c.Tile = -1 }, "Tile"},
		{"local below auto", func(c *Config) { c.Local = -2 }, "Local"},
		{"negative discover", func(c *Config) { c.Discover = -time.Second }, "Discover"},
		{"samples over the nodes' limit", func(c *Config) { c.Settings.SPP = 1<<16 + 1 }, "limit MaxSPP=65536"},
		{"tile over the nodes' limit", func(c *Config) { c.Settings.Width, c.Settings.Height, c.Tile = 2048, 2048, 1025 }, "limit MaxTilePixels=1048576"},
		{"depth over a configured limit", func(c *Config) { c.Settings.MaxDepth = 3; c.Limits.MaxDepth = 2 }, "limit MaxDepth=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			_, err := newController(cfg, &fakeRender{})
			if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrBadConfig naming %s", err, tc.want)
			}
		})
	}
	if _, err := NewController(Config{Bundle: schedtest.Bundle()}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("no scene: error %v, want ErrBadConfig", err)
	}
}

func TestFakeNodesRenderEveryTileOnce(t *testing.T) {
	net := newFakeNet()
	net.add("a:1", &fakeNode{id: "a", cores: 2})
	net.add("b:1", &fakeNode{id: "b", cores: 1})
	var mu sync.Mutex
	written := map[image.Rectangle]int{}
	var progress []Progress
	cfg := Config{
		OnTile: func(e TileEvent) {
			mu.Lock()
			written[e.Rect]++
			mu.Unlock()
		},
		OnProgress: func(p Progress) { progress = append(progress, p) },
	}
	c := fakeController(t, net, cfg, nil)
	c.AddNode(discovery.Node{ID: "a", Addr: "a:1", Source: discovery.SourceMDNS})
	c.AddNode(discovery.Node{ID: "b", Addr: "b:1", Source: discovery.SourceRegistry})
	r := renderedRight(t, c, runAsync(context.Background(), c))
	if r.res.Missing != 0 {
		t.Errorf("Missing = %d", r.res.Missing)
	}
	for rect, n := range written {
		if n != 1 {
			t.Errorf("tile %v written %d times", rect, n)
		}
	}
	st := r.res.Stats
	if len(written) != st.Tiles || st.Tiles != 12 {
		t.Errorf("%d tiles written, stats say %d, want 12", len(written), st.Tiles)
	}
	a, b := nodeStats(t, st, "a"), nodeStats(t, st, "b")
	if a.Tiles+b.Tiles != st.Tiles || a.Source != discovery.SourceMDNS || b.Source != discovery.SourceRegistry {
		t.Errorf("node stats %+v %+v do not add up to %d tiles or lost their source", a, b, st.Tiles)
	}
	if st.Rays != 32*24 || st.Samples != 32*24 {
		t.Errorf("rays %d samples %d, want %d", st.Rays, st.Samples, 32*24)
	}
	last := progress[len(progress)-1]
	if last.Done != last.Total || last.Total != 12 {
		t.Errorf("last progress %+v, want 12 of 12", last)
	}
}

// A node that holds its tiles past its deadline loses them; its late results
// are stale and dropped, whatever they hold.
func TestLeaseExpiryAndStaleResults(t *testing.T) {
	net := newFakeNet()
	slow := net.add("slow:1", &fakeNode{id: "slow", cores: 1, jobc: make(chan protocol.TileJob, 64)})
	slow.onJob = func(*fakeConn, protocol.TileJob) {} // the test answers
	clk := newFakeClock()
	c := fakeController(t, net, Config{Clock: clk, Settings: render.Settings{Width: 16, Height: 8, SPP: 1, MaxDepth: 1}}, nil)
	c.tune.live = time.Hour
	c.tune.firstDeadline = 5 * time.Second
	c.AddNode(discovery.Node{ID: "slow", Addr: "slow:1"})
	done := runAsync(context.Background(), c)

	first := []protocol.TileJob{<-slow.jobc, <-slow.jobc} // two tiles, window 2
	// Past the deadline: both leases revoked and handed out again under a new epoch.
	var again protocol.TileJob
	schedtest.WaitFor(t, "the tiles to be handed out again", 5*time.Second, func() bool {
		clk.Advance(time.Second)
		select {
		case again = <-slow.jobc:
			return true
		default:
			return false
		}
	})
	if again.Epoch <= first[0].Epoch && again.Epoch <= first[1].Epoch {
		t.Errorf("re-issued job has epoch %d, not newer than %d/%d", again.Epoch, first[0].Epoch, first[1].Epoch)
	}
	conn := slow.conns[0]
	// Late answers to the revoked jobs, with wrong pixels: must be dropped.
	for _, j := range first {
		bad := make([]byte, len(schedtest.JobPixels(j)))
		conn.replyPix(j, bad)
	}
	conn.reply(again)
	stop := make(chan struct{})
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		for {
			select {
			case j := <-slow.jobc:
				conn.reply(j)
			case <-stop:
				return
			}
		}
	}()
	r := await(t, done)
	close(stop)
	<-answered
	if r.err != nil {
		t.Fatal(r.err)
	}
	schedtest.SameImage(t, r.res.Image, schedtest.FakeImage(c.cfg.Settings))
	st := r.res.Stats
	if st.Retries < 2 {
		t.Errorf("retries = %d, want >= 2", st.Retries)
	}
	if n := nodeStats(t, st, "slow"); n.Failures != 1 || n.Excluded != "" {
		t.Errorf("slow node: %+v, want 1 failure and not excluded", n)
	}
	if got := slow.cancelled(); len(got) != 2 {
		t.Errorf("cancels sent for %v, want the 2 revoked jobs", got)
	}
}

// Failing nodes of every kind are excluded and named; the image is right.
func TestBadNodesExcluded(t *testing.T) {
	for _, tc := range []struct {
		name     string
		onJob    func(c *fakeConn, j protocol.TileJob)
		failures int
		reason   string
	}{
		{
			name: "job errors",
			onJob: func(c *fakeConn, j protocol.TileJob) {
				c.send(protocol.Error{Code: protocol.CodeInternal, Message: "out of memory", Job: j.Job})
			},
			failures: 3, reason: "out of memory",
		},
		{
			name: "wrong tile size",
			onJob: func(c *fakeConn, j protocol.TileJob) {
				c.replyPix(j, schedtest.JobPixels(j)[12:])
			},
			failures: 3, reason: "wrong result",
		},
		{
			name: "wrong epoch",
			onJob: func(c *fakeConn, j protocol.TileJob) {
				j.Epoch += 7
				c.reply(j)
			},
			failures: 3, reason: "epoch",
		},
		{
			name: "garbage",
			onJob: func(c *fakeConn, j protocol.TileJob) {
				c.send(recvErr{err: protocol.ErrBadFrame})
			},
			reason: "protocol violation",
		},
		{
			name: "bad job refused",
			onJob: func(c *fakeConn, j protocol.TileJob) {
				c.send(protocol.Error{Code: protocol.CodeLimit, Message: "MaxSPP=0", Job: j.Job})
			},
			reason: "MaxSPP",
		},
		{
			name: "lying pixels",
			onJob: func(c *fakeConn, j protocol.TileJob) {
				c.replyPix(j, make([]byte, len(schedtest.JobPixels(j))))
			},
			reason: "wrong pixels",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := newFakeNet()
			bad := net.add("bad:1", &fakeNode{id: "bad", cores: 2, onJob: tc.onJob, jobc: make(chan protocol.TileJob, 64)})
			good := net.add("good:1", &fakeNode{id: "good", cores: 1})
			c := fakeController(t, net, Config{}, nil)
			c.AddNode(discovery.Node{ID: "bad", Addr: "bad:1"})
			done := runAsync(context.Background(), c)
			<-bad.jobc
			// The bad node fails on its own first, then a good node comes.
			schedtest.WaitFor(t, "the bad node to be dropped", 5*time.Second, func() bool { return bad.live() == 0 })
			c.AddNode(discovery.Node{ID: "good", Addr: "good:1"})
			r := renderedRight(t, c, done)
			st := nodeStats(t, r.res.Stats, "bad")
			if st.Excluded == "" || !strings.Contains(st.Excluded, tc.reason) {
				t.Errorf("bad node stats %+v: want excluded for %q", st, tc.reason)
			}
			if tc.failures > 0 && st.Failures != tc.failures {
				t.Errorf("bad node has %d failures, want %d", st.Failures, tc.failures)
			}
			if st.Tiles != 0 {
				t.Errorf("bad node credited with %d tiles", st.Tiles)
			}
			if got := good.live(); got != 0 {
				t.Errorf("%d connections left open", got)
			}
		})
	}
}

// A lying node is caught when a duplicated tile disagrees: an in-process
// render arbitrates, the liar is excluded and every tile it rendered is
// rendered again. (The audit of the lie finds it too; it counts once.)
func TestDuplicateMismatchArbitrated(t *testing.T) {
	net := newFakeNet()
	quiet := func(*fakeConn, protocol.TileJob) {} // the test answers
	honest := net.add("honest:1", &fakeNode{id: "honest", cores: 1, onJob: quiet, jobc: make(chan protocol.TileJob, 64)})
	liar := net.add("liar:1", &fakeNode{id: "liar", cores: 1, onJob: quiet, jobc: make(chan protocol.TileJob, 64)})
	gate := make(chan struct{}) // holds the in-process checks until the duplicate is in
	accepted := make(chan TileEvent, 64)
	mismatch := make(chan struct{})
	var once sync.Once
	logs := logWatch{t: t, on: "differs between nodes", seen: func() { once.Do(func() { close(mismatch) }) }}
	cfg := Config{Logger: zerolog.New(logs), Settings: render.Settings{Width: 32, Height: 8, SPP: 1, MaxDepth: 1}, OnTile: func(e TileEvent) { accepted <- e }}
	c := fakeController(t, net, cfg, &fakeRender{gate: gate})
	// Checkers enough for most audits to wait in-process at the gate; an
	// idle node may still be handed one first (answered below).
	c.tune.checkers = 16
	c.AddNode(discovery.Node{ID: "honest", Addr: "honest:1"})
	c.AddNode(discovery.Node{ID: "liar", Addr: "liar:1"})
	done := runAsync(context.Background(), c)

	// Four tiles, windows of two: each node holds two.
	h1, h2 := <-honest.jobc, <-honest.jobc
	l1, l2 := <-liar.jobc, <-liar.jobc
	hc, lc := honest.conns[0], liar.conns[0]
	hc.reply(h1)
	lc.reply(l1) // the liar tells the truth...
	<-accepted
	<-accepted
	lc.reply(l2)
	// ...and, idle, gets a copy of the honest node's tile (and perhaps,
	// first, the audit of the honest node's tile in the image, which it
	// answers right).
	var dup protocol.TileJob
	for dup = range liar.jobc {
		if dup.X0 == h1.X0 && dup.Y0 == h1.Y0 {
			lc.reply(dup)
			continue
		}
		break
	}
	if dup.X0 != h2.X0 || dup.Y0 != h2.Y0 {
		t.Fatalf("duplicate of %v, want a copy of the outstanding job %v", dup, h2)
	}
	lc.replyPix(dup, make([]byte, len(schedtest.JobPixels(dup)))) // ...on which it lies
	for e := range accepted {
		if e.NodeID == "liar" && e.Rect.Min.X == dup.X0 {
			break // the lie is in the image
		}
	}
	hc.reply(h2) // the honest copy: a mismatch
	<-mismatch

	stop := make(chan struct{})
	var helpers sync.WaitGroup
	helpers.Add(2)
	go func() { // let every in-process render through
		defer helpers.Done()
		for {
			select {
			case gate <- struct{}{}:
			case <-stop:
				return
			}
		}
	}()
	go func() { // the honest node renders what is handed out again
		defer helpers.Done()
		for {
			select {
			case j := <-honest.jobc:
				hc.reply(j)
			case <-accepted:
			case <-stop:
				return
			}
		}
	}()
	r := await(t, done)
	close(stop)
	helpers.Wait()
	if r.err != nil {
		t.Fatal(r.err)
	}
	schedtest.SameImage(t, r.res.Image, schedtest.FakeImage(c.cfg.Settings))
	st := r.res.Stats
	l := nodeStats(t, st, "liar")
	if !strings.Contains(l.Excluded, "wrong pixels") || l.Tiles != 0 {
		t.Errorf("liar stats %+v: want excluded for wrong pixels with no tile credited", l)
	}
	if st.Mismatches != 1 || st.Duplicates < 1 {
		t.Errorf("mismatches %d duplicates %d, want 1 and >= 1", st.Mismatches, st.Duplicates)
	}
	if h := nodeStats(t, st, "honest"); h.Excluded != "" {
		t.Errorf("honest node excluded: %s", h.Excluded)
	}
	if st.Retries < 3 {
		t.Errorf("retries %d: want the liar's 3 tiles handed out again", st.Retries)
	}
}

// logWatch passes log lines to the test log and calls seen for those that
// hold on.
type logWatch struct {
	t    testing.TB
	on   string
	seen func()
}

func (w logWatch) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimSpace(string(p)))
	if strings.Contains(string(p), w.on) {
		w.seen()
	}
	return len(p), nil
}

func TestNodeStateText(t *testing.T) {
	for _, tc := range []struct {
		st   NodeState
		want string
	}{
		{NodeConnecting, "connecting"}, {NodeWorking, "working"}, {NodeLost, "lost"}, {NodeExcluded, "excluded"},
		{NodePausedBusy, "paused-busy"}, {NodePausedSchedule, "paused-schedule"}, {NodePaused, "paused"}, {NodeState(9), "NodeState(9)"},
	} {
		b, err := json.Marshal(tc.st)
		if err != nil || string(b) != `"`+tc.want+`"` {
			t.Errorf("json of %d = %s, %v; want %q", tc.st, b, err, tc.want)
		}
		var back NodeState
		if err := json.Unmarshal(b, &back); (err == nil) != (tc.st <= NodePaused) || (err == nil && back != tc.st) {
			t.Errorf("json.Unmarshal(%s) = %v, %v", b, back, err)
		}
	}
}
