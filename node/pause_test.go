package node

import (
	"image"
	"testing"
	"time"

	"tessera/protocol"
	"tessera/scheduler/schedtest"
)

// expectPong pings and returns the state of the Pong, failing on any frame
// that comes before it.
func expectPong(t *testing.T, c *protocol.Conn, seq uint64) protocol.NodeState {
	t.Helper()
	send(t, c, protocol.Ping{Seq: seq})
	p, ok := recv(t, c).(protocol.Pong)
	if !ok || p.Seq != seq {
		t.Fatalf("got %#v, want Pong %d", p, seq)
	}
	return p.State
}

// expectNotice reads the unprompted Pong a node sends when its state
// changes.
func expectNotice(t *testing.T, c *protocol.Conn, st protocol.NodeState) {
	t.Helper()
	if p, ok := recv(t, c).(protocol.Pong); !ok || p.Seq != 0 || p.State != st {
		t.Fatalf("got %#v, want the notice Pong{Seq: 0, State: %s}", p, st)
	}
}

func expectPaused(t *testing.T, c *protocol.Conn, jobs ...uint64) {
	t.Helper()
	want := map[uint64]bool{}
	for _, j := range jobs {
		want[j] = true
	}
	for len(want) > 0 {
		m, ok := recv(t, c).(protocol.Error)
		if !ok || m.Code != protocol.CodePaused || !want[m.Job] {
			t.Fatalf("got %#v, want paused hand-backs of jobs %v", m, jobs)
		}
		delete(want, m.Job)
	}
}

func TestNodePauseHandsJobsBackAndResumes(t *testing.T) {
	rr := &recordingRender{gate: make(chan struct{}), started: make(chan image.Rectangle, 8)}
	n, addr, _ := startFakeNode(t, Config{Workers: 1, PauseGrace: 50 * time.Millisecond}, rr)
	c := controllerConn(t, addr, "")
	send(t, c, schedtest.SceneFrame(schedtest.Bundle()))
	if st := expectPong(t, c, 1); st != protocol.StateReady {
		t.Fatalf("a fresh node's Pong says %q, want ready", st)
	}
	for i := range 4 {
		send(t, c, testJob(uint64(i+1), 32, image.Rect(i, 0, i+1, 1)))
	}
	<-rr.started // job 1 runs, 2..4 queued
	schedtest.WaitFor(t, "the jobs to be queued", 5*time.Second, func() bool { return n.Counters().JobsQueued == 3 })

	n.SetState(protocol.StatePausedBusy, "a test")
	expectNotice(t, c, protocol.StatePausedBusy) // first, so that no job crosses the hand-backs
	expectPaused(t, c, 2, 3, 4)                  // at once, while job 1 still runs
	// The running tile outlives the grace: it is handed back too, though
	// its worker is still inside RenderTile.
	expectPaused(t, c, 1)
	schedtest.WaitFor(t, "job 1's worker to notice", 5*time.Second, func() bool { return rr.canceled.Load() == 1 && n.Counters().JobsRunning == 0 })
	// New work is refused at once; the connection stays, pongs say why.
	send(t, c, testJob(5, 32, image.Rect(4, 0, 5, 1)))
	expectPaused(t, c, 5)
	if st := expectPong(t, c, 2); st != protocol.StatePausedBusy {
		t.Fatalf("Pong says %q, want paused-busy", st)
	}
	n.SetState(protocol.StatePausedSchedule, "the window closed")
	expectNotice(t, c, protocol.StatePausedSchedule)
	if st := expectPong(t, c, 3); st != protocol.StatePausedSchedule {
		t.Fatalf("Pong says %q, want paused-schedule", st)
	}
	if k := n.Counters(); k.State != "paused-schedule" || k.StateWhy != "the window closed" || k.JobsPaused != 5 || k.JobsQueued != 0 || k.JobsRunning != 0 {
		t.Errorf("paused counters %+v", k)
	}

	// Resume: the same connection gets work done again, with the scene it
	// sent before the pause.
	n.SetState(protocol.StateReady, "quiet again")
	expectNotice(t, c, protocol.StateReady)
	n.SetState(protocol.StateReady, "no change: no notice")
	if st := expectPong(t, c, 4); st != protocol.StateReady {
		t.Fatalf("Pong says %q, want ready", st)
	}
	send(t, c, testJob(6, 32, image.Rect(5, 0, 6, 1)))
	<-rr.started
	rr.gate <- struct{}{}
	if r, ok := recv(t, c).(protocol.TileResult); !ok || r.Job != 6 {
		t.Fatalf("got %#v, want job 6's result", r)
	}
	if k := n.Counters(); k.State != "ready" || k.JobsDone != 1 || k.JobsPaused != 5 {
		t.Errorf("counters after resuming %+v", k)
	}
}

// TestNodePauseGraceLetsTilesFinish: a tile that finishes within the grace
// sends its result; a node that resumes within the grace cuts nothing.
func TestNodePauseGraceLetsTilesFinish(t *testing.T) {
	rr := &recordingRender{gate: make(chan struct{}), started: make(chan image.Rectangle, 8)}
	n, addr, _ := startFakeNode(t, Config{Workers: 1, PauseGrace: time.Hour}, rr)
	c := controllerConn(t, addr, "")
	send(t, c, schedtest.SceneFrame(schedtest.Bundle()), testJob(1, 32, image.Rect(0, 0, 1, 1)), testJob(2, 32, image.Rect(1, 0, 2, 1)))
	<-rr.started
	schedtest.WaitFor(t, "job 2 to be queued", 5*time.Second, func() bool { return n.Counters().JobsQueued == 1 })
	n.SetState(protocol.StatePausedSchedule, "a test")
	expectNotice(t, c, protocol.StatePausedSchedule)
	expectPaused(t, c, 2)
	rr.gate <- struct{}{}
	if r, ok := recv(t, c).(protocol.TileResult); !ok || r.Job != 1 {
		t.Fatalf("got %#v, want job 1's result within the grace", r)
	}

	// A node that resumes within the grace cuts nothing: the timer of the
	// pause fires late and finds the pause over.
	n.SetState(protocol.StateReady, "")
	send(t, c, testJob(3, 32, image.Rect(2, 0, 3, 1)))
	<-rr.started
	n.SetState(protocol.StatePausedBusy, "")
	n.mu.Lock()
	gen, timer := n.pauseGen, n.pauseTimer
	n.mu.Unlock()
	if timer == nil {
		t.Fatal("a pause with a running tile set no grace timer")
	}
	n.SetState(protocol.StateReady, "")
	n.pauseGraceOver(gen)
	if n.mu.Lock(); n.pauseTimer != nil {
		t.Error("a resumed node kept its pause timer")
	}
	n.mu.Unlock()
	rr.gate <- struct{}{}
	for _, st := range []protocol.NodeState{protocol.StateReady, protocol.StatePausedBusy, protocol.StateReady} {
		expectNotice(t, c, st)
	}
	m := recv(t, c)
	if r, ok := m.(protocol.TileResult); !ok || r.Job != 3 {
		t.Fatalf("got %#v, want job 3's result (the node resumed)", m)
	}
	if st := expectPong(t, c, 9); st != protocol.StateReady {
		t.Fatalf("Pong says %q", st)
	}
}
