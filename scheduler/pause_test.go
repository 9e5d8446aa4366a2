package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"tessera/discovery"
	"tessera/protocol"
	"tessera/scheduler/schedtest"
)

// TestPausedNodeLosesNothing: a node that pauses (its notice Pong, then
// Error paused for its job) gets no tile while paused, its tile is rendered
// elsewhere, it counts no failure and is not excluded; when a Pong says
// ready it gets tiles again over the same connection.
func TestPausedNodeLosesNothing(t *testing.T) {
	net := newFakeNet()
	var mu sync.Mutex
	var napperConn *fakeConn
	paused := false
	answered, refused := 0, 0
	napper := net.add("napper:1", &fakeNode{id: "napper", cores: 1, jobc: make(chan protocol.TileJob, 256)})
	napper.onJob = func(c *fakeConn, j protocol.TileJob) {
		mu.Lock()
		napperConn = c
		answered++
		pause := answered == 3
		if pause {
			paused = true
		}
		p := paused
		if p {
			refused++
		}
		mu.Unlock()
		switch {
		case pause:
			c.send(protocol.Pong{State: protocol.StatePausedBusy})
			c.send(protocol.Error{Code: protocol.CodePaused, Message: "paused", Job: j.Job})
		case p:
			c.send(protocol.Error{Code: protocol.CodePaused, Message: "paused", Job: j.Job})
		default:
			c.reply(j)
		}
	}
	// The steady node answers only when let go, so that tiles are left
	// when the napper resumes.
	hold := make(chan struct{})
	steady := net.add("steady:1", &fakeNode{id: "steady", cores: 1})
	steady.onJob = func(c *fakeConn, j protocol.TileJob) {
		go func() {
			select {
			case <-hold:
				c.reply(j)
			case <-c.closed:
			}
		}()
	}
	states := make(chan NodeState, 1024)
	c := fakeController(t, net, Config{Local: 0, OnProgress: func(p Progress) {
		for _, n := range p.Nodes {
			if n.ID == "napper" {
				select {
				case states <- n.State:
				default:
				}
			}
		}
	}}, nil)
	c.AddNode(discovery.Node{ID: "napper", Addr: "napper:1", Source: discovery.SourceFlag})
	c.AddNode(discovery.Node{ID: "steady", Addr: "steady:1", Source: discovery.SourceFlag})
	done := runAsync(context.Background(), c)

	for st := range states {
		if st == NodePausedBusy {
			break
		}
	}
	// Paused: the napper gets no job until it says ready.
	jobsWhilePaused := napper.jobCount()
	mu.Lock()
	conn := napperConn
	paused = false
	mu.Unlock()
	conn.send(protocol.Pong{Seq: 12345, State: protocol.StatePausedBusy}) // a stray Pong of an old ping changes nothing
	conn.send(protocol.Pong{State: protocol.StateReady})
	schedtest.WaitFor(t, "the napper to get a job again", 10*time.Second, func() bool { return napper.jobCount() > jobsWhilePaused })
	close(hold)

	r := renderedRight(t, c, done)
	n := nodeStats(t, r.res.Stats, "napper")
	mu.Lock()
	handed := refused
	mu.Unlock()
	if n.Failures != 0 || n.Excluded != "" || n.State != NodeWorking || n.HandedBack != handed || handed == 0 {
		t.Errorf("napper %+v: want no failure, working, the %d tiles it refused handed back", n, handed)
	}
	if n.Tiles < 3 {
		t.Errorf("napper rendered %d tiles, want its 2 before the pause and more after", n.Tiles)
	}
	if r.res.Stats.Retries < 1 {
		t.Errorf("retries %d: the handed-back tile was re-queued", r.res.Stats.Retries)
	}
	if napper.handshakes != 1 {
		t.Errorf("%d handshakes with the napper: it resumed without a reconnect, want 1", napper.handshakes)
	}
}

// TestLocalAutoRendersWhenEveryNodeIsPaused: with LocalAuto, a render whose
// every node is paused (here outside its schedule from the start) is
// rendered on this machine after Discover; the paused node is neither
// failed nor excluded.
func TestLocalAutoRendersWhenEveryNodeIsPaused(t *testing.T) {
	net := newFakeNet()
	net.add("sleeper:1", &fakeNode{id: "sleeper", cores: 2, onJob: func(c *fakeConn, j protocol.TileJob) {
		c.send(protocol.Pong{State: protocol.StatePausedSchedule})
		c.send(protocol.Error{Code: protocol.CodePaused, Message: "outside the schedule", Job: j.Job})
	}})
	c := fakeController(t, net, Config{Local: LocalAuto, Discover: 50 * time.Millisecond}, nil)
	c.AddNode(discovery.Node{ID: "sleeper", Addr: "sleeper:1", Source: discovery.SourceFlag})
	r := renderedRight(t, c, runAsync(context.Background(), c))
	n := nodeStats(t, r.res.Stats, "sleeper")
	if n.Failures != 0 || n.Excluded != "" || n.State != NodePausedSchedule || n.Tiles != 0 {
		t.Errorf("sleeper %+v: want paused-schedule, no tile, no failure", n)
	}
	if local := nodeStats(t, r.res.Stats, "local"); local.Tiles != r.res.Stats.Tiles {
		t.Errorf("the in-process node rendered %d of %d tiles", local.Tiles, r.res.Stats.Tiles)
	}
}
