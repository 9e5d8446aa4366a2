package main

// Graceful stops (issue 8), sharper than e2e_test.go's: there a node could
// finish its few tiles, or drop its connection, and the tests would still
// pass. Here tiles are slow, so only a cancel stops them in time, and the
// stats tell a hand-back from a dropped connection.

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"tessera/scheduler"
)

// TestInterruptCancelsTilesOnEveryNode: SIGINT on the controller while two
// nodes each render a tile that takes tens of seconds: within a few seconds
// neither node renders or holds a job, none finished, and the controller
// exits 1 saying how many tiles are missing.
func TestInterruptCancelsTilesOnEveryNode(t *testing.T) {
	verifyNoLeaks(t)
	a, b := startNode(t, "cancel-a"), startNode(t, "cancel-b")
	// Four 128x128 tiles of 1024 samples a pixel: each is over 50 M rays.
	args := renderArgs(bunny, "-width", "256", "-height", "256", "-tile", "128", "-spp", "1024")
	d := startRender(t, append(args, "-local", "0", "-nodes", a.addr+","+b.addr)...)
	for _, n := range []*testNode{a, b} {
		waitFor(t, "node "+n.addr+" to render a tile", time.Minute, func() bool { return n.counters(t).JobsRunning > 0 })
	}
	d.signal(t, syscall.SIGINT)
	if code := d.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("exit %d after SIGINT, want 1:\n%s", code, d.out.String())
	}
	if last := lastLine(d.out.String()); !strings.Contains(last, "render interrupted") || !strings.Contains(last, "4 of 4 tiles missing") {
		t.Errorf("last line %q: want the interruption and the missing tiles", last)
	}
	for _, n := range []*testNode{a, b} {
		// A running tile stops between rows: a row of these is 131,072
		// samples, seconds on a loaded machine.
		waitFor(t, "node "+n.addr+" to cancel its tiles", 30*time.Second, func() bool {
			c := n.counters(t)
			return c.JobsRunning+c.JobsQueued == 0
		})
		if c := n.counters(t); c.JobsDone != 0 {
			t.Errorf("node %s finished %d tiles of a cancelled render", n.addr, c.JobsDone)
		}
	}
}

// TestTerminatedNodeHandsTilesBack: SIGTERM on a node that has a tile
// running and another queued: it hands the queued one back at once (the
// controller re-queues it: a retry, not a failure), finishes the running
// one, exits 0; the render completes on both nodes' work.
func TestTerminatedNodeHandsTilesBack(t *testing.T) {
	verifyNoLeaks(t)
	leaving, staying := startNode(t, "handing-back"), startNode(t, "taking-over")
	// Twelve tiles of a hundred or two milliseconds each.
	args := renderArgs(bunny, "-width", "128", "-height", "96", "-tile", "32", "-spp", "96")
	d := startRender(t, append(args, "-local", "0", "-nodes", leaving.addr+","+staying.addr)...)
	waitFor(t, "a finished tile, one running and one queued on the leaving node", time.Minute, func() bool {
		c := leaving.counters(t)
		return c.JobsDone > 0 && c.JobsRunning > 0 && c.JobsQueued > 0
	})
	leaving.signal(t, syscall.SIGTERM)
	if code := leaving.wait(t, 30*time.Second); code != 0 {
		t.Errorf("node exited with %d after SIGTERM, want 0:\n%s", code, leaving.out.String())
	}
	_, st := d.finish(t)
	var left *scheduler.NodeStats
	for i, n := range st.Nodes {
		if n.Name == "handing-back" {
			left = &st.Nodes[i]
		}
	}
	switch {
	case left == nil:
		t.Fatalf("the leaving node is not in the stats: %+v", st.Nodes)
	case left.Failures != 0 || left.Excluded != "":
		t.Errorf("leaving node %+v: want no failure (its tiles handed back, not dropped)", *left)
	case left.Tiles == 0:
		t.Errorf("leaving node %+v: want the tiles it finished, the running one included", *left)
	}
	if st.Retries == 0 {
		t.Errorf("no tile re-queued: the queued tile was not handed back (stats %+v)", st)
	}
	if tiles := nodeTiles(st); tiles["handing-back"]+tiles["taking-over"] != st.Tiles {
		t.Errorf("tiles per node %v, want all %d from the two nodes", tiles, st.Tiles)
	}
}
