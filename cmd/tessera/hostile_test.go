package main

// Hostile and broken nodes against the real controller (issue 8): the
// tessera render binary renders on a real node process and on a "node" this
// test serves on a loopback listener, which answers garbage, never answers,
// returns tiles of the wrong size or returns other pixels. The render
// completes, equals the local render, and the bad node is named.

import (
	"context"
	"image"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"tessera/protocol"
	"tessera/render"
	"tessera/scheduler"
	"tessera/scheduler/schedtest"
)

// maxBlackHoleDelay is how much longer than a render on the good node
// alone a render may take with a bad node beside it: "no more than a few
// seconds" (issue 8). The controller in fact waits for no handshake,
// liveness or progress timeout: the good node's copies of a black hole's
// tiles end the render.
const maxBlackHoleDelay = 4 * time.Second

// startRogueNode serves a hostile or broken "node" on 127.0.0.1 (see
// schedtest); with handshake, each connection first handshakes as node id.
func startRogueNode(t *testing.T, id string, handshake bool, serve schedtest.Serve) *schedtest.Rogue {
	t.Helper()
	var hello protocol.Hello
	if handshake {
		hello = protocol.Hello{Role: protocol.RoleNode, ID: id, Name: id, Cores: 1, Software: "rogue"}
	}
	return schedtest.StartRogue(t, hello, serve)
}

// verifyNoLeaks fails the test if a goroutine started during it outlives
// it. Call it first: its check runs after every other cleanup.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		goleak.VerifyNone(t, ignore)
	})
}

// TestHostileNodesCommand: beside a real node, a node that answers garbage
// (before or after the handshake), one that accepts and never answers
// (before or after the handshake), one whose tiles have the wrong size and
// one whose pixels are wrong. Each render completes within a few seconds of
// a render on the good node alone, equals the local render, and names the
// bad node in its log and in the stats with why it was excluded.
func TestHostileNodesCommand(t *testing.T) {
	verifyNoLeaks(t)
	args := renderArgs(cornell)
	want := localPNG(t, args)
	good := startNode(t, "hostile-good")
	baseline := startRender(t, append(args, "-local", "0", "-nodes", good.addr)...)
	img, st := baseline.finish(t)
	sameImage(t, "good node alone", img, want)
	base := time.Duration(st.WallSeconds * float64(time.Second))

	wrongSize := func(c *protocol.Conn, j protocol.TileJob) {
		_ = c.Send(protocol.TileResult{Job: j.Job, Epoch: j.Epoch, Pixels: make([]byte, protocol.BytesPerPixel*(j.Pixels()+1))})
	}
	lying := func(c *protocol.Conn, j protocol.TileJob) {
		_ = c.Send(protocol.TileResult{Job: j.Job, Epoch: j.Epoch, Pixels: make([]byte, protocol.BytesPerPixel*j.Pixels())})
	}
	for _, tc := range []struct {
		name      string
		handshake bool
		serve     schedtest.Serve
		excluded  string // why the stats say it was excluded; "" for a node the render never waits for
	}{
		{name: "garbage before the handshake", serve: func(nc net.Conn, _ *protocol.Conn) {
			_, _ = nc.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			schedtest.BlackHole(nc, nil)
		}, excluded: "handshake"},
		{name: "garbage after the handshake", handshake: true, serve: func(nc net.Conn, c *protocol.Conn) {
			if _, err := c.Recv(); err != nil { // the scene
				return
			}
			_, _ = nc.Write([]byte{0, 0, 0, 3, 0xc1, 0xc1, 0xc1}) // 0xc1: never valid MessagePack
			schedtest.BlackHole(nc, nil)
		}, excluded: "protocol violation"},
		{name: "black hole before the handshake", serve: schedtest.BlackHole},
		{name: "black hole after the handshake", handshake: true, serve: schedtest.BlackHole},
		{name: "tiles of the wrong size", handshake: true, serve: schedtest.AnswerJobs(wrongSize), excluded: "wrong result"},
		{name: "wrong pixels", handshake: true, serve: schedtest.AnswerJobs(lying), excluded: "wrong pixels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := startRogueNode(t, "rogue", tc.handshake, tc.serve)
			d := startRender(t, append(args, "-local", "0", "-nodes", bad.Addr+","+good.addr)...)
			img, st := d.finish(t)
			sameImage(t, tc.name, img, want)
			wall := time.Duration(st.WallSeconds * float64(time.Second))
			if wall-base > maxBlackHoleDelay {
				t.Errorf("the render took %v, %v more than on the good node alone (%v): want at most %v more", wall, wall-base, base, maxBlackHoleDelay)
			}
			var rogue *scheduler.NodeStats
			for i, n := range st.Nodes {
				if n.Addr == bad.Addr {
					rogue = &st.Nodes[i]
				}
			}
			if tiles := nodeTiles(st); tiles["hostile-good"]+tiles["local"] != st.Tiles {
				t.Errorf("tiles per node %v: want all %d from the good node (or the in-process check)", tiles, st.Tiles)
			}
			if rogue == nil {
				// The stats list the nodes that answered the handshake or
				// were excluded; a black hole before the handshake is
				// neither when the render ends without waiting for it.
				if tc.handshake || tc.excluded != "" {
					t.Fatalf("the bad node %s is not in the stats: %+v", bad.Addr, st.Nodes)
				}
				return
			}
			if rogue.Tiles != 0 {
				t.Errorf("bad node stats %+v: credited with tiles", *rogue)
			}
			if tc.excluded == "" {
				return
			}
			if rogue.State != scheduler.NodeExcluded || !strings.Contains(rogue.Excluded, tc.excluded) || rogue.Tiles != 0 {
				t.Errorf("bad node stats %+v: want excluded for %q, no tile", *rogue, tc.excluded)
			}
			named := regexp.MustCompile(`(?m)^.*node excluded from this render.*` + regexp.QuoteMeta(bad.Addr) + `.*$`)
			if line := named.FindString(d.out.String()); !strings.Contains(line, tc.excluded) {
				t.Errorf("no log line names the bad node %s and why (%q):\n%s", bad.Addr, tc.excluded, d.out.String())
			}
		})
	}
}

// fakeJob is a tile job a scripted node received, for the test to answer.
type fakeJob struct {
	c   *protocol.Conn
	job protocol.TileJob
}

func (f fakeJob) rect() image.Rectangle { return image.Rect(f.job.X0, f.job.Y0, f.job.X1, f.job.Y1) }

// scriptedNode hands every tile job to the test (which answers it, or not)
// and answers pings itself, so that it never looks dead.
func scriptedNode(jobs chan<- fakeJob) schedtest.Serve {
	return func(_ net.Conn, c *protocol.Conn) {
		for {
			m, err := c.Recv()
			if err != nil {
				return
			}
			switch m := m.(type) {
			case protocol.TileJob:
				jobs <- fakeJob{c: c, job: m} // buffered for every job a render can send
			case protocol.Ping:
				_ = c.Send(protocol.Pong{Seq: m.Seq})
			}
		}
	}
}

// honestResult renders the job's tile in this process: the right pixels.
func honestResult(t *testing.T, scene *render.Scene, f fakeJob) protocol.TileResult {
	t.Helper()
	j := f.job
	set := render.Settings{Width: j.Width, Height: j.Height, SPP: j.SPP, MaxDepth: j.MaxDepth}
	pix := make([]float32, 3*j.Pixels())
	start := time.Now()
	rays, err := scene.RenderTile(context.Background(), set, f.rect(), pix)
	if err != nil {
		t.Fatalf("render tile %v: %v", f.rect(), err)
	}
	return protocol.TileResult{Job: j.Job, Epoch: j.Epoch, Pixels: protocol.EncodePixels(pix), Rays: rays, Nanos: time.Since(start).Nanoseconds()}
}

// TestDuplicateLiarCommand: a node that renders its tiles right and lies on
// a duplicated tile, against the real controller. The test plays both nodes
// over the real protocol: an honest one that holds its tiles until the liar
// has drained the queue, so that the endgame copies the honest node's newest
// tile onto the liar; the liar answers that copy with black pixels before
// the honest copy arrives.
// The controller catches the lie twice over, by the check of the liar's
// result (a spot check or a full audit) and by the mismatch with the
// honest copy (arbitrated by an in-process render), whichever comes first;
// it excludes the liar, renders again every tile it gave, and writes an
// image equal to the local render.
func TestDuplicateLiarCommand(t *testing.T) {
	verifyNoLeaks(t)
	args := []string{"-width", "32", "-height", "24", "-spp", "2", "-tile", "8", "-no-mdns", "-q", cornell}
	want := localPNG(t, args)
	scene, _, err := render.LoadFile(cornell, render.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	liarJobs, honestJobs := make(chan fakeJob, 1024), make(chan fakeJob, 1024)
	liar := startRogueNode(t, "rogue-liar", true, scriptedNode(liarJobs))
	honest := startRogueNode(t, "rogue-honest", true, scriptedNode(honestJobs))
	d := startRender(t, append(args, "-local", "0", "-nodes", liar.Addr+","+honest.Addr, "-preview", "127.0.0.1:0", "-linger", "0s")...)
	// The preview page shows a tile once the controller has it in the image.
	shown := watchTiles(t, d.waitMatch(t, previewAt, 20*time.Second)[1])
	send := func(f fakeJob, m protocol.TileResult) {
		t.Helper()
		if err := f.c.Send(m); err != nil {
			t.Fatalf("send result of job %d: %v", f.job.Job, err)
		}
	}

	// Until the liar gets a copy of a tile the honest node holds: the
	// honest node holds everything; the liar answers right, once the
	// honest node holds a tile (else the liar could finish the render
	// alone).
	held := map[image.Rectangle]fakeJob{}
	var waiting []fakeJob // liar jobs that came before the honest node held any
	var dup fakeJob
	deadline := time.After(time.Minute)
script:
	for {
		select {
		case f := <-honestJobs:
			held[f.rect()] = f
		case f := <-liarJobs:
			if _, ok := held[f.rect()]; ok {
				dup = f
				break script
			}
			waiting = append(waiting, f)
		case <-d.exited:
			t.Fatalf("the render ended before the liar got a duplicated tile:\n%s", d.out.String())
		case <-deadline:
			t.Fatalf("the liar got no copy of a held tile within a minute (held %d tiles)", len(held))
		}
		if len(held) > 0 {
			for _, f := range waiting {
				send(f, honestResult(t, scene, f))
			}
			waiting = nil
		}
	}
	// The lie goes in first (the copy's first result wins), then the
	// honest copy of the same tile: a mismatch. The two copies come by two
	// connections, which the controller reads in no set order: the honest
	// copy is sent once the page shows the lie in the image (else the
	// honest copy could be first and, as the last tile, end the render
	// before the lie is read).
	send(dup, protocol.TileResult{Job: dup.job.Job, Epoch: dup.job.Epoch, Pixels: make([]byte, protocol.BytesPerPixel*dup.job.Pixels()), Rays: 1, Nanos: 1})
	for lie := false; !lie; {
		select {
		case st, ok := <-shown:
			if !ok {
				t.Fatalf("the preview's events ended before the lie was shown:\n%s", d.out.String())
			}
			lie = st.Node == "rogue-liar" && st.X == dup.job.X0 && st.Y == dup.job.Y0
		case <-deadline:
			t.Fatal("the lie was not shown within a minute")
		}
	}
	h := held[dup.rect()]
	delete(held, dup.rect())
	send(h, honestResult(t, scene, h))
	for _, f := range held {
		send(f, honestResult(t, scene, f))
	}
	// From now on the honest node answers everything; the liar nothing.
	for done := false; !done; {
		select {
		case f := <-honestJobs:
			send(f, honestResult(t, scene, f))
		case <-liarJobs:
		case <-d.exited:
			done = true
		}
	}
	img, st := d.finish(t)
	sameImage(t, "with a liar", img, want)
	var liarStats *scheduler.NodeStats
	for i, n := range st.Nodes {
		if n.Addr == liar.Addr {
			liarStats = &st.Nodes[i]
		}
	}
	if liarStats == nil || liarStats.State != scheduler.NodeExcluded || !strings.Contains(liarStats.Excluded, "wrong pixels") || liarStats.Tiles != 0 {
		t.Errorf("liar stats %+v: want excluded for wrong pixels, no tile", liarStats)
	}
	if st.Mismatches == 0 || st.Duplicates == 0 {
		t.Errorf("stats show %d duplicates and %d mismatches, want at least one of each", st.Duplicates, st.Mismatches)
	}
	if tiles := nodeTiles(st); tiles["rogue-honest"]+tiles["local"] != st.Tiles {
		t.Errorf("tiles per node %v: want all %d from the honest node (or the in-process arbitration)", tiles, st.Tiles)
	}
	out := d.out.String()
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^.*duplicate tile differs between nodes.*rogue-liar.*$|^.*node excluded from this render.*rogue-liar.*wrong pixels.*(audit|spot check) in-process.*$`),
		regexp.MustCompile(`(?m)^.*node excluded from this render.*rogue-liar.*wrong pixels.*$`),
	} {
		if !re.MatchString(out) {
			t.Errorf("no log line matches %q:\n%s", re, out)
		}
	}
}
