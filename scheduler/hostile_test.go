package scheduler

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"tessera/discovery"
	"tessera/node"
	"tessera/protocol"
	"tessera/render"
	"tessera/scheduler/schedtest"
)

// Issue 8's hostile and broken peers, on real sockets: the render completes,
// equals the local render, and the bad node is excluded and named.
func TestHostileNodes(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 32, Height: 24, SPP: 1})
	want := schedtest.LocalRender(t, scene, set)
	wrongSize := func(c *protocol.Conn, j protocol.TileJob) {
		_ = c.Send(protocol.TileResult{Job: j.Job, Epoch: j.Epoch, Pixels: make([]byte, 12*(j.Pixels()+1))})
	}
	lying := func(c *protocol.Conn, j protocol.TileJob) {
		_ = c.Send(protocol.TileResult{Job: j.Job, Epoch: j.Epoch, Pixels: make([]byte, 12*j.Pixels())})
	}
	garbage := func(nc net.Conn, c *protocol.Conn) {
		if _, err := c.Recv(); err != nil { // the scene
			return
		}
		_, _ = nc.Write([]byte{0, 0, 0, 3, 0xc1, 0xc1, 0xc1})
		schedtest.BlackHole(nc, c)
	}
	for _, tc := range []struct {
		name      string
		handshake bool
		serve     schedtest.Serve
		excluded  string // "" when the node is simply never used
	}{
		{name: "garbage before the handshake", serve: func(nc net.Conn, _ *protocol.Conn) {
			_, _ = nc.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			schedtest.BlackHole(nc, nil)
		}, excluded: "handshake"},
		{name: "garbage after the handshake", handshake: true, serve: garbage, excluded: "protocol violation"},
		{name: "black hole before the handshake", serve: schedtest.BlackHole},
		{name: "black hole after the handshake", handshake: true, serve: schedtest.BlackHole},
		{name: "wrong tile size", handshake: true, serve: schedtest.AnswerJobs(wrongSize), excluded: "wrong result"},
		{name: "lying pixels", handshake: true, serve: schedtest.AnswerJobs(lying), excluded: "wrong pixels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := startRogue(t, "rogue", tc.handshake, tc.serve)
			_, good := startNode(t, node.Config{ID: "good", Workers: 1})
			// A rogue that is to be excluded must be dealt with before the
			// good node arrives, or the good node may render every tile
			// while the rogue is still in its handshake: the good node is
			// added once the controller reports the rogue excluded.
			// (Discover only bounds how long the render waits for a node
			// in between.)
			var c *Controller
			addGood := func() { c.AddNode(discovery.Node{ID: "good", Addr: good, Source: discovery.SourceFlag}) }
			var once sync.Once
			cfg := Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, Discover: time.Minute}
			if tc.excluded != "" {
				cfg.OnProgress = func(p Progress) {
					for _, ns := range p.Nodes {
						if ns.Addr == bad && ns.State == NodeExcluded {
							once.Do(addGood)
						}
					}
				}
			}
			c, err := NewController(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c.AddNode(discovery.Node{Addr: bad, Source: discovery.SourceFlag})
			if tc.excluded == "" {
				addGood()
			}
			start := time.Now()
			res, err := c.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("render took %v", d)
			}
			schedtest.SameImage(t, res.Image, want)
			if tc.excluded == "" {
				return
			}
			for _, ns := range res.Stats.Nodes {
				if ns.Addr == bad {
					if !strings.Contains(ns.Excluded, tc.excluded) || ns.Tiles != 0 {
						t.Errorf("bad node stats %+v: want excluded for %q, no tile", ns, tc.excluded)
					}
					return
				}
			}
			t.Errorf("bad node %s not named in stats %+v", bad, res.Stats.Nodes)
		})
	}
}
