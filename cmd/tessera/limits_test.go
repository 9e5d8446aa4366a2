package main

// Limits through the real binaries (issue 8): each limit a peer can hit has
// a name, a default, and an error that names it. The packages test every
// limit of their own; these tests hit the ones a node process enforces
// against its network peers, and the flags that set limits.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"tessera/node"
	"tessera/protocol"
	"tessera/render"
)

// TestNodeMaxConnsCommand: a node started with -max-conns 2 holding two
// connections that never say hello refuses a third with "busy" naming the
// limit, and serves a render once they are gone.
func TestNodeMaxConnsCommand(t *testing.T) {
	verifyNoLeaks(t)
	n := startNode(t, "max-conns", "-max-conns", "2")
	var mutes []net.Conn
	for range 2 {
		mute, err := net.Dial("tcp", n.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer mute.Close()
		mutes = append(mutes, mute)
	}
	waitFor(t, "the node to hold both mute connections", 10*time.Second, func() bool { return n.counters(t).Conns == 2 })
	c, err := protocol.Dial(context.Background(), n.addr, protocol.Config{ReadTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.Recv()
	if e, ok := m.(protocol.Error); err != nil || !ok || e.Code != protocol.CodeBusy || !strings.Contains(e.Message, "MaxConns=2") {
		t.Fatalf("third connection got %#v, %v: want busy naming MaxConns=2", m, err)
	}
	// The node would cut the mute ones at its handshake deadline (5 s);
	// the test does not wait for it.
	for _, mute := range mutes {
		mute.Close()
	}
	waitFor(t, "the node to forget the closed connections", 10*time.Second, func() bool { return n.counters(t).Conns == 0 })
	args := renderArgs(cornell)
	d := startRender(t, append(args, "-local", "0", "-nodes", n.addr)...)
	img, _ := d.finish(t)
	sameImage(t, "after the limit", img, localPNG(t, args))
}

// sceneMessage is the Scene frame of a scene file, as a controller sends it.
func sceneMessage(t *testing.T, path string) protocol.Scene {
	t.Helper()
	b, err := render.ReadBundle(path, render.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m := protocol.Scene{Hash: b.Hash(), Main: b.Main}
	for name, data := range b.Files {
		m.Files = append(m.Files, protocol.Blob{Name: name, Data: data})
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Name < m.Files[j].Name })
	return m
}

// TestNodeMaxInFlightCommand: a controller that floods a node with more
// tile jobs than MaxInFlight (256 by default) has the excess refused with
// "busy" naming the limit, and everything it queued is dropped when it
// leaves.
func TestNodeMaxInFlightCommand(t *testing.T) {
	verifyNoLeaks(t)
	n := startNode(t, "max-in-flight")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := protocol.Dial(ctx, n.addr, protocol.Config{ReadTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Handshake(ctx, protocol.Hello{Role: protocol.RoleController, ID: "flood"}, ""); err != nil {
		t.Fatal(err)
	}
	scene := sceneMessage(t, cornell)
	const jobs = node.DefaultMaxInFlight + 8
	batch := []protocol.Message{scene}
	for i := range jobs {
		// Slow tiles (32x32 at 256 samples a pixel): none finishes
		// before the flood is read.
		x := 32 * (i % 8)
		batch = append(batch, protocol.TileJob{Job: uint64(i + 1), Scene: scene.Hash, Width: 256, Height: 256, SPP: 256, MaxDepth: 8, X0: x, Y0: 0, X1: x + 32, Y1: 32, Epoch: 1})
	}
	for _, m := range batch { // frames sent back to back: the node reads them as a flood
		if err := c.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	busy := map[uint64]string{}
	for len(busy) < jobs-node.DefaultMaxInFlight {
		m, err := c.Recv()
		if err != nil {
			t.Fatalf("after %d refusals: %v", len(busy), err)
		}
		if e, ok := m.(protocol.Error); ok {
			if e.Code != protocol.CodeBusy {
				t.Fatalf("job %d: %s %q, want busy", e.Job, e.Code, e.Message)
			}
			busy[e.Job] = e.Message
		}
	}
	for id := uint64(node.DefaultMaxInFlight + 1); id <= jobs; id++ {
		if msg, ok := busy[id]; !ok || !strings.Contains(msg, "MaxInFlight=256") {
			t.Errorf("job %d: refusal %q (refused: %v), want busy naming MaxInFlight=256", id, msg, ok)
		}
	}
	// Under load the scene may still be loading: its jobs wait for it.
	if k := n.counters(t); k.JobsWaiting+k.JobsQueued+k.JobsRunning != node.DefaultMaxInFlight {
		t.Errorf("node holds %d jobs waiting for the scene, %d queued and %d running, want %d in all", k.JobsWaiting, k.JobsQueued, k.JobsRunning, node.DefaultMaxInFlight)
	}
	c.Close()
	waitFor(t, "the node to drop the jobs of the controller that left", 20*time.Second, func() bool {
		k := n.counters(t)
		return k.JobsWaiting+k.JobsQueued+k.JobsRunning == 0 && k.Conns == 0
	})
}

// TestLimitFlagsCommand: a limit flag out of range is bad usage (exit 2)
// and the message names the limit.
func TestLimitFlagsCommand(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "node connections", args: []string{"node", "-no-mdns", "-listen", "127.0.0.1:0", "-max-conns", "-1"}, want: "MaxConns is -1"},
		{name: "node scene cache", args: []string{"node", "-no-mdns", "-listen", "127.0.0.1:0", "-max-scene-bytes", "-5"}, want: "MaxSceneBytes is -5"},
		{name: "registry records", args: []string{"registry", "-no-mdns", "-listen", "127.0.0.1:0", "-max-nodes", "0"}, want: "-max-nodes 0"},
		{name: "tile side", args: []string{"render", "-no-mdns", "-tile", "5000", cornell}, want: "-tile 5000"},
		{name: "image side", args: []string{"render", "-no-mdns", "-width", "40000", cornell}, want: "40000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(tc.args, &bytes.Buffer{}, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2: %s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q does not name the limit (%q)", stderr.String(), tc.want)
			}
		})
	}
}

// TestRenderRefusesWhatEveryNodeRefuses: settings, a tile or a scene over
// the limits every node applies are refused at start (exit 2, one line
// naming the limit), before any node is dialled: never excluded node by
// node, never rendered here in silence.
func TestRenderRefusesWhatEveryNodeRefuses(t *testing.T) {
	dir := t.TempDir()
	const sphere = `{"camera": {"from": [0, 0, 3], "to": [0, 0, 0]}, "image": {"width": 8, "height": 8, "spp": 1%s},
		"materials": {"white": {"type": "diffuse"}},
		"objects": [{"type": "sphere", "center": [0, 0, 0], "radius": 1, "material": "white"}%s]}`
	deep := filepath.Join(dir, "deep.json")
	if err := os.WriteFile(deep, fmt.Appendf(nil, sphere, `, "maxDepth": 2000`, ""), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x.png")
	nowhere := []string{"-no-mdns", "-nodes", "127.0.0.1:1", "-local", "0", "-o", out, "-q"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"samples", []string{"-spp", "100000", cornell}, "limit MaxSPP=65536"},
		{"image side", []string{"-width", "40000", cornell}, "limit MaxImageSide=32768"},
		{"tile pixels", []string{"-width", "2048", "-height", "2048", "-tile", "2048", cornell}, "limit MaxTilePixels=1048576"},
		{"depth in the scene file", []string{deep}, "over limit MaxDepth=1024"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runRenderCmd(t, append(slices.Clone(nowhere), tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q: want 2 and one line naming %q", code, stderr, tc.want)
			}
		})
	}
}

// A scene of 65 MiB of files, over the 64 MiB frames of before, goes to a
// node process, which renders every tile of it; the image equals the local
// render's.
func TestE2EBigSceneOnANode(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	scene := `{"camera": {"from": [0, 0, 3], "to": [0, 0, 0]}, "image": {"width": 16, "height": 16, "spp": 2},
		"materials": {"white": {"type": "diffuse"}, "light": {"type": "emissive", "emission": [4, 4, 4]}},
		"objects": [{"type": "sphere", "center": [0, 0, 0], "radius": 1, "material": "white"},
			{"type": "sphere", "center": [2, 2, 2], "radius": 0.5, "material": "light"},
			{"type": "mesh", "file": "big.obj", "material": "white"}]}`
	if err := os.WriteFile(big, []byte(scene), 0o644); err != nil {
		t.Fatal(err)
	}
	line := "# " + strings.Repeat("x", 1021) + "\n"
	obj := append([]byte(strings.Repeat(line, 65<<10)), "v -1 -1 -1\nv 1 -1 -1\nv 0 1 -1\nf 1 2 3\n"...)
	if err := os.WriteFile(filepath.Join(dir, "big.obj"), obj, 0o644); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, "big-scene")
	dist, local := filepath.Join(dir, "dist.pfm"), filepath.Join(dir, "local.pfm")
	stats := filepath.Join(dir, "stats.json")
	p := startProcess(t, tesseraBinary(t), "render", "-no-mdns", "-local", "0", "-nodes", n.addr, "-o", dist, "-stats", stats, "-q", big)
	if code := p.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("render on the node: exit %d:\n%s", code, p.out.String())
	}
	if code, _, stderr := runRenderCmd(t, "-no-mdns", "-local", "1", "-o", local, "-q", big); code != 0 {
		t.Fatalf("local render: exit %d, stderr %q", code, stderr)
	}
	st := readStats(t, stats)
	if tiles := nodeTiles(st); tiles["big-scene"] != st.Tiles || st.Tiles == 0 {
		t.Errorf("tiles per node %v of %d, want all from the node", tiles, st.Tiles)
	}
	a, _ := os.ReadFile(dist)
	b, _ := os.ReadFile(local)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("the node's image (%d bytes) differs from the local render's (%d bytes)", len(a), len(b))
	}
}
