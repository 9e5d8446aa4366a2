package main

// End-to-end tests: real node processes on loopback (never mDNS: -no-mdns
// everywhere) and real controller processes, compared byte for byte with
// a render in this process.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"tessera/discovery"
	"tessera/node"
	"tessera/protocol"
	"tessera/render"
	"tessera/scheduler"
)

const (
	spheres   = "../../testdata/scenes/spheres.json"
	bunny     = "../../testdata/scenes/bunny.json"
	stilllife = "../../testdata/scenes/stilllife.glb"
)

var (
	nodeListening = regexp.MustCompile(`listening on (127\.0\.0\.1:[0-9]+)`)
	debugAt       = regexp.MustCompile(`debug counters at http://(127\.0\.0\.1:[0-9]+)/`)
)

// testNode is a tessera node process on loopback.
type testNode struct {
	*process
	addr  string
	debug string // host:port of its counters
}

// startNode starts a node with one worker (unless args say otherwise).
func startNode(t *testing.T, name string, args ...string) *testNode {
	t.Helper()
	// -priority normal: other work on the machine must not starve the
	// test's nodes (the default, idle, gives way to every other program).
	args = append([]string{"node", "-listen", "127.0.0.1:0", "-no-mdns", "-priority", "normal", "-workers", "1", "-name", name, "-debug", "127.0.0.1:0"}, args...)
	p := startProcess(t, tesseraBinary(t), args...)
	n := &testNode{process: p}
	n.addr = p.waitMatch(t, nodeListening, 20*time.Second)[1]
	n.debug = p.waitMatch(t, debugAt, 20*time.Second)[1]
	return n
}

// counters reads the node's debug counters.
func (n *testNode) counters(t *testing.T) node.Counters {
	t.Helper()
	resp, err := http.Get("http://" + n.debug + "/debug/counters")
	if err != nil {
		t.Fatalf("counters of %s: %v", n.addr, err)
	}
	defer resp.Body.Close()
	var c node.Counters
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatalf("counters of %s: %v", n.addr, err)
	}
	return c
}

// waitJobs polls the node's counters until it has finished at least n jobs.
func (n *testNode) waitJobs(t *testing.T, jobs uint64, timeout time.Duration) {
	t.Helper()
	waitFor(t, fmt.Sprintf("node %s to finish %d jobs", n.addr, jobs), timeout, func() bool { return n.counters(t).JobsDone >= jobs })
}

// renderArgs are the settings every end-to-end render uses: small enough
// for the race-enabled suite, with enough tiles (8x8) to share.
func renderArgs(scene string, extra ...string) []string {
	return append([]string{"-width", "96", "-height", "64", "-spp", "8", "-tile", "8", "-no-mdns", "-q", scene}, extra...)
}

// localPNG renders with two in-process workers of the built binary (not
// instrumented by -race, so big references stay cheap): the reference.
func localPNG(t *testing.T, args []string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "local.png")
	p := startProcess(t, tesseraBinary(t), append([]string{"render", "-no-mdns", "-local", "2", "-o", out}, args...)...)
	if code := p.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("local render: exit %d: %s", code, p.out.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// distributed is a controller process and where it writes.
type distributed struct {
	*process
	image, stats string
}

// startRender starts a controller process writing PNG and stats.
func startRender(t *testing.T, args ...string) *distributed {
	t.Helper()
	dir := t.TempDir()
	d := &distributed{image: filepath.Join(dir, "out.png"), stats: filepath.Join(dir, "stats.json")}
	// -no-mdns first, whatever args say: never multicast from the machine's own namespace.
	d.process = startProcess(t, tesseraBinary(t), append([]string{"render", "-no-mdns", "-o", d.image, "-stats", d.stats}, args...)...)
	return d
}

// finish waits for a successful exit and returns the image and the stats.
func (d *distributed) finish(t *testing.T) ([]byte, scheduler.Stats) {
	t.Helper()
	if code := d.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("render exited with %d:\n%s", code, d.out.String())
	}
	img, err := os.ReadFile(d.image)
	if err != nil {
		t.Fatal(err)
	}
	return img, readStats(t, d.stats)
}

func readStats(t *testing.T, path string) scheduler.Stats {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st scheduler.Stats
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return st
}

// nodeTiles returns the tiles each node (by name) rendered.
func nodeTiles(st scheduler.Stats) map[string]int {
	m := map[string]int{}
	for _, n := range st.Nodes {
		m[n.Name] += n.Tiles
	}
	return m
}

func sameImage(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s: the image differs from the local render (%d bytes vs %d)", what, len(got), len(want))
	}
}

func TestE2ETwoNodesEqualLocalRender(t *testing.T) {
	a, b := startNode(t, "e2e-a"), startNode(t, "e2e-b")
	args := renderArgs(cornell)
	d := startRender(t, append(args, "-local", "0", "-nodes", a.addr+","+b.addr)...)
	img, st := d.finish(t)
	sameImage(t, "two nodes", img, localPNG(t, args))
	tiles := nodeTiles(st)
	if tiles["e2e-a"] == 0 || tiles["e2e-b"] == 0 || tiles["e2e-a"]+tiles["e2e-b"] != st.Tiles {
		t.Errorf("tiles per node %v, want both nodes to share all %d", tiles, st.Tiles)
	}
	for _, n := range st.Nodes {
		if n.Source != discovery.SourceFlag || n.Addr == "" || n.ID == "" {
			t.Errorf("node stats %+v: want source flag, an address and the id proven in the handshake", n)
		}
	}
	if st.BytesSent == 0 || st.BytesReceived < int64(96*64*12) {
		t.Errorf("bytes sent %d, received %d: want at least the pixels", st.BytesSent, st.BytesReceived)
	}
}

// TestE2EGLTFOnTwoNodes: a Blender glTF export rendered on its own, with
// a camera chosen by name and an image size that follows its aspect ratio,
// comes out of two nodes byte for byte as out of this machine: the nodes
// get the .glb and the scene file written for it in the bundle. (Which node
// renders how many tiles is the scheduler's business and depends on the
// machine's load; TestE2ETwoNodesEqualLocalRender checks the sharing.)
func TestE2EGLTFOnTwoNodes(t *testing.T) {
	a, b := startNode(t, "gltf-a"), startNode(t, "gltf-b")
	args := []string{"-width", "96", "-spp", "4", "-tile", "16", "-camera", "Camera", "-no-mdns", "-q", stilllife}
	d := startRender(t, append(args, "-local", "0", "-nodes", a.addr+","+b.addr)...)
	img, st := d.finish(t)
	sameImage(t, "two nodes", img, localPNG(t, args))
	if st.Width != 96 || st.Height != 60 {
		t.Errorf("image %dx%d, want 96x60 (the camera's aspect ratio 1.6)", st.Width, st.Height)
	}
	if tiles := nodeTiles(st); tiles["gltf-a"]+tiles["gltf-b"] != st.Tiles {
		t.Errorf("tiles per node %v, want all %d from the two nodes", tiles, st.Tiles)
	}
}

// TestE2ENodeKilled: a node killed with SIGKILL mid-render loses nothing:
// its tiles are rendered again elsewhere, and the image is identical.
func TestE2ENodeKilled(t *testing.T) {
	a, b := startNode(t, "e2e-victim"), startNode(t, "e2e-survivor")
	args := renderArgs(bunny, "-spp", "16")
	d := startRender(t, append(args, "-local", "0", "-nodes", a.addr+","+b.addr)...)
	a.waitJobs(t, 3, time.Minute)
	a.signal(t, syscall.SIGKILL)
	img, st := d.finish(t)
	sameImage(t, "after a SIGKILL", img, localPNG(t, args))
	// Its tiles were handed out again: re-queued, or already copied onto
	// the survivor by the endgame (then a lost lease re-queues nothing,
	// and the render may end before the lost connection is even read).
	if st.Retries == 0 && st.Duplicates == 0 {
		t.Errorf("stats show no retry and no duplicate after a node was killed mid-render: %+v", st)
	}
	if tiles := nodeTiles(st); tiles["e2e-survivor"] == 0 {
		t.Errorf("tiles per node %v", tiles)
	}
}

// TestE2ENodeJoinsMidRender: a node that registers while a render runs
// gets tiles.
func TestE2ENodeJoinsMidRender(t *testing.T) {
	reg := startProcess(t, tesseraBinary(t), "registry", "-listen", "127.0.0.1:0", "-no-mdns")
	regAddr := reg.waitAddr(t, "", 20*time.Second)
	first := startNode(t, "e2e-first", "-registry", regAddr)
	args := renderArgs(bunny, "-width", "256", "-height", "192", "-spp", "48")
	d := startRender(t, append(args, "-local", "0", "-registry", regAddr)...)
	first.waitJobs(t, 1, time.Minute)
	late := startNode(t, "e2e-late", "-registry", regAddr)
	img, st := d.finish(t)
	sameImage(t, "with a late node", img, localPNG(t, args))
	tiles := nodeTiles(st)
	if tiles["e2e-late"] == 0 {
		t.Errorf("the node started mid-render got no tiles: %v (late node jobs done: %d)", tiles, late.counters(t).JobsDone)
	}
	for _, n := range st.Nodes {
		if n.Source != discovery.SourceRegistry {
			t.Errorf("node %s source %q, want registry", n.Name, n.Source)
		}
	}
}

// TestE2ETwoControllersShareNodes: two renders of different scenes on the
// same two nodes at once both complete, each identical to its local render.
func TestE2ETwoControllersShareNodes(t *testing.T) {
	a, b := startNode(t, "e2e-shared-a"), startNode(t, "e2e-shared-b")
	nodes := []string{"-local", "0", "-nodes", a.addr + "," + b.addr}
	argsC, argsS := renderArgs(cornell), renderArgs(spheres)
	dc := startRender(t, append(argsC, nodes...)...)
	ds := startRender(t, append(argsS, nodes...)...)
	imgC, stC := dc.finish(t)
	imgS, stS := ds.finish(t)
	sameImage(t, "cornell beside spheres", imgC, localPNG(t, argsC))
	sameImage(t, "spheres beside cornell", imgS, localPNG(t, argsS))
	for _, st := range []scheduler.Stats{stC, stS} {
		if len(st.Nodes) != 2 {
			t.Errorf("a controller used %d nodes, want both: %+v", len(st.Nodes), st.Nodes)
		}
	}
}

// TestE2ENoNodeLocalZero: with -local 0 and no reachable node the render
// fails (exit 1) and says why.
func TestE2ENoNodeLocalZero(t *testing.T) {
	dead := freeAddr(t)
	d := startRender(t, renderArgs(cornell, "-local", "0", "-nodes", dead, "-discover", "200ms")...)
	if code := d.wait(t, time.Minute); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, d.out.String())
	}
	msg := d.out.String()
	for _, want := range []string{"no node left to render", "96 of 96 tiles missing"} {
		if !strings.Contains(msg, want) {
			t.Errorf("output lacks %q:\n%s", want, msg)
		}
	}
	if _, err := os.Stat(d.image); err == nil {
		t.Errorf("an image was written with no node to render it")
	}
}

// freeAddr returns a loopback address where nothing listens.
func freeAddr(t *testing.T) string {
	t.Helper()
	p := startProcess(t, tesseraBinary(t), "node", "-listen", "127.0.0.1:0", "-no-mdns", "-priority", "normal", "-workers", "1")
	addr := p.waitMatch(t, nodeListening, 20*time.Second)[1]
	p.stop(t)
	return addr
}

// TestE2EInterruptedController: SIGINT on the controller cancels its tiles
// on the nodes and writes the part of the image that is done.
func TestE2EInterruptedController(t *testing.T) {
	a := startNode(t, "e2e-busy")
	args := renderArgs(bunny, "-width", "256", "-height", "192", "-spp", "64")
	d := startRender(t, append(args, "-local", "0", "-nodes", a.addr, "-preview", "127.0.0.1:0", "-linger", "0s")...)
	// SIGINT once a tile is in the controller's image (the preview page
	// hears of each tile after the image has it): a tile the node finished
	// may still be on its way when the signal comes.
	waitTileShown(t, d.waitMatch(t, previewAt, 20*time.Second)[1])
	d.signal(t, syscall.SIGINT)
	if code := d.wait(t, time.Minute); code != 1 {
		t.Fatalf("exit %d after SIGINT, want 1:\n%s", code, d.out.String())
	}
	partial := partialName(d.image)
	if data, err := os.ReadFile(partial); err != nil || len(data) == 0 {
		t.Errorf("partial image %s: %v", partial, err)
	}
	if !strings.Contains(d.out.String(), "render interrupted") || !strings.Contains(d.out.String(), partial) {
		t.Errorf("output does not say it was interrupted and where the partial image is:\n%s", d.out.String())
	}
	// The node drops the controller's queued jobs: nothing stays queued.
	waitFor(t, "the node to drop the stopped controller's jobs", 10*time.Second, func() bool {
		c := a.counters(t)
		return c.JobsQueued+c.JobsRunning == 0
	})
}

// TestE2ENodeTerminated: SIGTERM on a node mid-render hands its tiles back;
// the node exits 0 and the render completes, identical.
func TestE2ENodeTerminated(t *testing.T) {
	a, b := startNode(t, "e2e-leaving"), startNode(t, "e2e-staying")
	args := renderArgs(bunny, "-spp", "16")
	d := startRender(t, append(args, "-local", "0", "-nodes", a.addr+","+b.addr)...)
	a.waitJobs(t, 3, time.Minute)
	a.signal(t, syscall.SIGTERM)
	if code := a.wait(t, 30*time.Second); code != 0 {
		t.Errorf("node exited with %d after SIGTERM, want 0:\n%s", code, a.out.String())
	}
	img, _ := d.finish(t)
	sameImage(t, "after a SIGTERM", img, localPNG(t, args))
}

// TestE2EDemo runs tessera demo at a small size: a registry and two nodes
// on loopback render the Cornell box through the registry.
func TestE2EDemo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo.png")
	var stdout, stderr bytes.Buffer
	code := run([]string{"demo", "-scene", cornell, "-o", out, "-width", "48", "-height", "48", "-spp", "4", "-q"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("demo: exit %d: %s", code, stderr.String())
	}
	abs, _ := filepath.Abs(out)
	if !strings.Contains(stdout.String(), "image: "+abs) {
		t.Errorf("demo does not print the image's path:\n%s", stdout.String())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sameImage(t, "demo", got, localPNG(t, []string{"-width", "48", "-height", "48", "-spp", "4", "-no-mdns", "-q", cornell}))
	if n := strings.Count(stdout.String(), "node demo-node-"); n != 2 {
		t.Errorf("demo started %d nodes, want 2:\n%s", n, stdout.String())
	}
	if strings.Contains(stderr.String(), protocol.NoTokenWarning) {
		t.Errorf("the demo's frames are not sealed (it makes a token of its own):\n%s", stderr.String())
	}
}

// TestDemoFromAnyDirectory: tessera demo with no -scene, run from a
// directory with no testdata in sight (as after go install), renders the
// built-in Cornell box, equal to the repository's.
func TestDemoFromAnyDirectory(t *testing.T) {
	scene, err := filepath.Abs(cornell)
	if err != nil {
		t.Fatal(err)
	}
	want := localPNG(t, []string{"-width", "32", "-height", "32", "-spp", "2", "-no-mdns", "-q", scene})
	t.Chdir(t.TempDir())
	var stdout, stderr bytes.Buffer
	if code := run([]string{"demo", "-o", "demo.png", "-width", "32", "-height", "32", "-spp", "2", "-q"}, &stdout, &stderr); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, stderr.String())
	}
	got, err := os.ReadFile("demo.png")
	if err != nil {
		t.Fatal(err)
	}
	sameImage(t, "the built-in Cornell box", got, want)
}

// TestDemoSceneIsTestdatas: the Cornell box built into the binary is
// testdata's, file for file.
func TestDemoSceneIsTestdatas(t *testing.T) {
	b, err := demoScene()
	if err != nil {
		t.Fatal(err)
	}
	_, want, err := render.LoadFile(cornell, render.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Main != want.Main || b.Hash() != want.Hash() || len(b.Files) != len(want.Files) {
		t.Errorf("built-in scene %s with %d files differs from %s with %d (names: %v)", b.Main, len(b.Files), cornell, len(want.Files), slices.Sorted(maps.Keys(b.Files)))
	}
}

// shownTile is a tile event of a render's preview page.
type shownTile struct {
	X, Y int
	Node string
}

// watchTiles follows the event stream of the preview page at url and
// delivers its tile events, in order, until the test ends.
func watchTiles(t *testing.T, url string) <-chan shownTile {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", url+"events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("preview events: %v", err)
	}
	tiles := make(chan shownTile, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(tiles)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		tile := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "event: tile":
				tile = true
			case tile && strings.HasPrefix(line, "data: "):
				var st shownTile
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &st) == nil {
					tiles <- st
				}
				tile = false
			}
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	return tiles
}

// waitTileShown waits until the preview page at url shows a tile.
func waitTileShown(t *testing.T, url string) {
	t.Helper()
	select {
	case _, ok := <-watchTiles(t, url):
		if !ok {
			t.Fatal("preview events ended with no tile")
		}
	case <-time.After(time.Minute):
		t.Fatal("no tile shown within a minute")
	}
}
