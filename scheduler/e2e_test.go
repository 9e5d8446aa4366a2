package scheduler

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"tessera/discovery"
	"tessera/node"
	"tessera/render"
	"tessera/scheduler/schedtest"
)

// End-to-end tests: real Nodes on 127.0.0.1:0, the real protocol, the real
// renderer; every image must equal render.Render's byte for byte.

func TestTwoNodesMatchLocalRender(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 48, Height: 40, SPP: 2})
	want := schedtest.LocalRender(t, scene, set)
	_, a := startNode(t, node.Config{ID: "node-a", Workers: 1})
	_, b := startNode(t, node.Config{ID: "node-b", Workers: 1})
	c, err := NewController(Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, Local: 0})
	if err != nil {
		t.Fatal(err)
	}
	c.AddNode(discovery.Node{ID: "node-a", Addr: a, Source: discovery.SourceFlag})
	c.AddNode(discovery.Node{ID: "node-b", Addr: b, Source: discovery.SourceRegistry})
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	schedtest.SameImage(t, res.Image, want)
	st := res.Stats
	if st.BytesSent == 0 || st.BytesReceived < int64(12*48*40) || st.Rays == 0 || st.RaysPerSecond <= 0 {
		t.Errorf("stats %+v: want bytes both ways and rays", st)
	}
	a1, b1 := nodeStats(t, st, "node-a"), nodeStats(t, st, "node-b")
	if a1.Tiles+b1.Tiles != st.Tiles || a1.Rays+b1.Rays != st.Rays {
		t.Errorf("node stats %+v %+v do not add up to %d tiles, %d rays", a1, b1, st.Tiles, st.Rays)
	}
}

func TestLocalZeroNoReachableNodeFails(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 16, Height: 16, SPP: 1})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := NewController(Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, Local: 0, Discover: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c.AddNode(discovery.Node{Addr: closed, Source: discovery.SourceFlag})
	res, err := c.Run(context.Background())
	if !errors.Is(err, ErrNoNodes) || !strings.Contains(err.Error(), "4 of 4 tiles missing") {
		t.Fatalf("Run: %v, want ErrNoNodes naming the 4 missing tiles", err)
	}
	if res == nil || res.Missing != 4 {
		t.Fatalf("result %+v: want the (empty) partial image with 4 missing", res)
	}
}

func TestWrongTokenExcluded(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 16, Height: 16, SPP: 1})
	_, addr := startNode(t, node.Config{ID: "guarded", Token: "room-7"})
	for _, tc := range []struct {
		token string
		ok    bool
	}{{"room-7", true}, {"room-8", false}, {"", false}} {
		c, err := NewController(Config{Scene: scene, Bundle: bundle, Settings: set, Token: tc.token, Local: 0, Discover: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c.AddNode(discovery.Node{ID: "guarded", Addr: addr})
		_, err = c.Run(context.Background())
		if tc.ok != (err == nil) {
			t.Errorf("token %q: Run: %v", tc.token, err)
		}
		if !tc.ok && !strings.Contains(err.Error(), "guarded excluded: handshake failed") {
			t.Errorf("token %q: error %v does not name the node and the handshake", tc.token, err)
		}
	}
}
