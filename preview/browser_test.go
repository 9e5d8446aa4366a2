package preview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tessera/discovery"
	"tessera/preview/browsertest"
	"tessera/render"
	"tessera/scheduler"
)

// frame is a rendered image cut into tiles, each with the node that
// rendered it.
type frame struct {
	width, height int
	tiles         []frameTile
	png           []byte // render.Image.WritePNG of the whole image
}

type frameTile struct {
	r    image.Rectangle
	pix  []float32
	rays uint64
	node string
}

// TestBrowserPreview opens the page in headless Chromium part-way through a
// render, feeds it the rest, and checks what the page shows: the canvas
// equals the PNG pixel for pixel, the node table names the nodes (with what
// the controller checked of each and its trust), the
// colour-by-node toggle colours each tile as its node's legend entry.
func TestBrowserPreview(t *testing.T) {
	ctx := browsertest.Start(t, time.Minute)
	f := renderFrame(t)
	nodes := []scheduler.NodeStats{ // 1.5, 2.4 and 0.75 Mrays/s
		{ID: "id-ada", Name: "ada", Addr: "10.0.0.11:7701", Source: discovery.SourceMDNS, Rays: 1_500_000, Seconds: 1, State: scheduler.NodeWorking,
			Checked: 12, Audited: 9, Trust: scheduler.TrustTrusted},
		{ID: "id-grace", Name: "grace", Addr: "10.0.0.12:7701", Source: discovery.SourceRegistry, Rays: 2_400_000, Seconds: 1, State: scheduler.NodeWorking,
			Checked: 3, Audited: 3, Trust: scheduler.TrustUntrusted},
		{ID: "id-linus", Name: "linus", Addr: "127.0.0.1:0", Source: discovery.SourceLocal, Rays: 750_000, Seconds: 1, State: scheduler.NodeWorking},
	}
	s := newServer(t, Config{Width: f.width, Height: f.height, Title: "cornell.json"})
	url := serve(t, s)

	// The first half, before the page opens.
	half := len(f.tiles) / 2
	var rays uint64
	feed := func(from, to int) {
		for i := from; i < to; i++ {
			tl := f.tiles[i]
			mustTile(t, s, tl.r, tl.pix, tl.node)
			rays += tl.rays
			for j := range nodes {
				if nodes[j].ID == tl.node {
					nodes[j].Tiles++
				}
			}
			s.Nodes(nodes)
			s.Progress(i+1, len(f.tiles), rays, time.Duration(len(f.tiles)-i-1)*time.Second)
		}
	}
	feed(0, half)
	s.flush() // so that the page's first snapshot holds them

	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, ctx, fmt.Sprintf(`document.getElementById('main').dataset.tiles === '%d'`, half))
	checkPartial(t, browsertest.ReadCanvas(t, ctx, "image"), f, half)
	browsertest.Screenshot(t, ctx, "mid-render")

	// The rest arrives live; a node is lost at the end, another paused.
	feed(half, len(f.tiles))
	nodes[2].State = scheduler.NodeLost
	nodes[1].State = scheduler.NodePausedBusy
	s.Nodes(nodes)
	s.Finish(f.png)
	browsertest.WaitFor(t, ctx, fmt.Sprintf(`document.getElementById('main').dataset.tiles === '%d' && document.getElementById('main').dataset.finished === 'true'`, len(f.tiles)))
	browsertest.Screenshot(t, ctx, "finished")

	t.Run("canvas equals PNG", func(t *testing.T) {
		got := browsertest.ReadCanvas(t, ctx, "image")
		want, err := png.Decode(bytes.NewReader(f.png))
		if err != nil {
			t.Fatal(err)
		}
		if got.Rect != want.Bounds() {
			t.Fatalf("canvas %v, PNG %v", got.Rect, want.Bounds())
		}
		bad := 0
		for y := range f.height {
			for x := range f.width {
				w := color.NRGBAModel.Convert(want.At(x, y)).(color.NRGBA)
				if g := got.NRGBAAt(x, y); g != w {
					if bad++; bad <= 5 {
						t.Errorf("pixel (%d,%d): canvas %v, PNG %v", x, y, g, w)
					}
				}
			}
		}
		if bad > 0 {
			t.Fatalf("%d of %d pixels differ", bad, f.width*f.height)
		}
	})

	t.Run("node table", func(t *testing.T) {
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](
			`[...document.querySelectorAll('#nodes tbody tr')].map(tr => [...tr.cells].slice(1).map(td => td.textContent))`))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(nodes) {
			t.Fatalf("table has %d rows, want %d: %q", len(rows), len(nodes), rows)
		}
		for i, n := range nodes {
			checked, audited := "", ""
			if n.Trust != "" {
				checked, audited = fmt.Sprint(n.Checked), fmt.Sprint(n.Audited)
			}
			want := []string{n.Name, n.Addr, n.Source.String(), fmt.Sprint(n.Tiles), fmt.Sprintf("%.1f", float64(n.Rays)/n.Seconds/1e6), n.State.String(),
				checked, audited, string(n.Trust)}
			if strings.Join(rows[i], "|") != strings.Join(want, "|") {
				t.Errorf("row %d = %q, want %q", i, rows[i], want)
			}
		}
		if rows[1][5] != "paused-busy" {
			t.Errorf("the paused node's row says %q, want paused-busy", rows[1][5])
		}
	})

	t.Run("progress and link", func(t *testing.T) {
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("progress")))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%d/%d tiles (100%%)", len(f.tiles), len(f.tiles)); !strings.Contains(text, want) {
			t.Errorf("progress reads %q, want it to contain %q", text, want)
		}
		// The link is visible and serves the PNG.
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](
			`(async () => { const a = document.getElementById('png'); if (a.hidden) return -1; return (await (await fetch(a.href)).arrayBuffer()).byteLength; })()`,
			chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if n != len(f.png) {
			t.Errorf("the finished-image link gave %d bytes, want the %d of the PNG", n, len(f.png))
		}
	})

	t.Run("colour by node", func(t *testing.T) {
		shown := `(() => { const o = document.getElementById('overlay'), l = document.getElementById('legend');
			return getComputedStyle(o).display !== 'none' && getComputedStyle(l).display !== 'none'; })()`
		on, err := chromedp.Run(ctx, chromedp.Evaluate[bool](shown))
		if err != nil || on {
			t.Fatalf("overlay and legend shown before the toggle: %v, %v", on, err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("bynode"))); err != nil {
			t.Fatal(err)
		}
		browsertest.WaitFor(t, ctx, shown)

		legend, err := chromedp.Run(ctx, chromedp.Evaluate[[]struct {
			Name   string `json:"name"`
			Colour string `json:"colour"`
		}](`[...document.querySelectorAll('#legend li')].map(li => ({name: li.textContent, colour: getComputedStyle(li.querySelector('.swatch')).backgroundColor}))`))
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]color.NRGBA{}
		for _, e := range legend {
			c, err := parseRGB(e.Colour)
			if err != nil {
				t.Fatal(err)
			}
			byName[e.Name] = c
		}
		if len(byName) != len(nodes) {
			t.Fatalf("legend %+v, want one entry per node", legend)
		}
		overlay := browsertest.ReadCanvas(t, ctx, "overlay")
		for _, tl := range f.tiles {
			name := nodeName(nodes, tl.node)
			want, ok := byName[name]
			if !ok {
				t.Fatalf("legend %+v has no %q", legend, name)
			}
			centre := image.Pt((tl.r.Min.X+tl.r.Max.X)/2, (tl.r.Min.Y+tl.r.Max.Y)/2)
			got := overlay.NRGBAAt(centre.X, centre.Y)
			if got.A == 0 || !near(got, want, 3) {
				t.Errorf("overlay at %v (tile %v of %s) is %v, want the legend's %v", centre, tl.r, name, got, want)
			}
		}
		browsertest.Screenshot(t, ctx, "by-node")
	})
}

// renderFrame renders testdata's Cornell box small (48x36, 2 spp) in 12
// tiles of 16x9, dealt to three nodes so that neighbours differ.
func renderFrame(t *testing.T) frame {
	t.Helper()
	scene, _, err := render.LoadFile("../testdata/scenes/cornell.json", render.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	set := scene.Resolve(render.Settings{Width: 48, Height: 36, SPP: 2})
	f := frame{width: set.Width, height: set.Height}
	img := render.NewImage(set.Width, set.Height)
	nodes := []string{"id-ada", "id-grace", "id-linus"}
	const tw, th = 16, 9
	for y := 0; y < set.Height; y += th {
		for x := 0; x < set.Width; x += tw {
			r := image.Rect(x, y, min(x+tw, set.Width), min(y+th, set.Height))
			pix := make([]float32, r.Dx()*r.Dy()*3)
			rays, err := scene.RenderTile(context.Background(), set, r, pix)
			if err != nil {
				t.Fatal(err)
			}
			img.SetTile(r, pix)
			f.tiles = append(f.tiles, frameTile{r: r, pix: pix, rays: rays, node: nodes[(x/tw+y/th)%len(nodes)]})
		}
	}
	var buf bytes.Buffer
	if err := img.WritePNG(&buf); err != nil {
		t.Fatal(err)
	}
	f.png = buf.Bytes()
	return f
}

// serve runs s on a loopback listener until the test ends and returns the
// page's URL.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + l.Addr().String() + "/"
}

// checkPartial checks the canvas after the first n tiles: opaque and exact
// in those tiles, untouched (transparent) everywhere else.
func checkPartial(t *testing.T, got *image.NRGBA, f frame, n int) {
	t.Helper()
	done := image.NewNRGBA(got.Rect)
	for _, tl := range f.tiles[:n] {
		srgb := (&render.Image{Width: tl.r.Dx(), Height: tl.r.Dy(), Pix: tl.pix}).SRGB()
		for y := range tl.r.Dy() {
			for x := range tl.r.Dx() {
				c := srgb.NRGBAAt(x, y)
				c.A = 255
				done.SetNRGBA(tl.r.Min.X+x, tl.r.Min.Y+y, c)
			}
		}
	}
	if !bytes.Equal(got.Pix, done.Pix) {
		t.Fatalf("mid-render canvas is not exactly the first %d tiles on a transparent ground", n)
	}
}

func nodeName(nodes []scheduler.NodeStats, id string) string {
	for _, n := range nodes {
		if n.ID == id {
			return n.Name
		}
	}
	return id
}

func parseRGB(css string) (color.NRGBA, error) {
	var c color.NRGBA
	if _, err := fmt.Sscanf(css, "rgb(%d, %d, %d)", &c.R, &c.G, &c.B); err != nil {
		return c, fmt.Errorf("colour %q: %w", css, err)
	}
	c.A = 255
	return c, nil
}

// near compares the colour channels, which the canvas stores premultiplied
// (translucent pixels lose a little precision).
func near(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) bool { return max(int(x)-int(y), int(y)-int(x)) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}

// TestBrowserFrames opens the page in headless Chromium mid-way through an
// animation: it shows the frame being rendered with only that frame's
// tiles, says which frame it is, and has the strip of finished frames;
// then, live, a frame finishes and the next one begins on a cleared image.
func TestBrowserFrames(t *testing.T) {
	ctx := browsertest.Start(t, time.Minute)
	f := renderFrame(t)
	img := render.NewImage(f.width, f.height)
	for _, tl := range f.tiles {
		img.SetTile(tl.r, tl.pix)
	}
	s := newServer(t, Config{Width: f.width, Height: f.height, Title: "orbit.glb"})
	url := serve(t, s)
	s.Frame(1)
	for _, tl := range f.tiles {
		mustTile(t, s, tl.r, tl.pix, tl.node)
	}
	s.FrameDone(1, img)
	s.Frame(2)
	mustTile(t, s, f.tiles[0].r, f.tiles[0].pix, f.tiles[0].node)
	s.FramesProgress(len(f.tiles)+1, 3*len(f.tiles), 1, 3, 1000, time.Second)
	s.flush()

	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, ctx, `(() => { const m = document.getElementById('main').dataset; return m.frame === '2' && m.tiles === '1' && m.strip === '1'; })()`)
	checkPartial(t, browsertest.ReadCanvas(t, ctx, "image"), f, 1)
	text, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.getElementById('frame').textContent, document.getElementById('progress').textContent,
		String(document.querySelector('#strip img').naturalWidth), document.querySelector('#strip figcaption').textContent]`))
	if err != nil {
		t.Fatal(err)
	}
	if text[0] != "frame 2" || !strings.Contains(text[1], "1/3 frames") || text[2] != fmt.Sprint(f.width) || text[3] != "1" {
		t.Errorf("page shows %q, want frame 2, 1/3 frames and frame 1's picture (%d wide) captioned 1", text, f.width)
	}
	browsertest.Screenshot(t, ctx, "frames")

	// Live: frame 2 finishes, frame 3 begins on a cleared image.
	s.FrameDone(2, img)
	s.Frame(3)
	browsertest.WaitFor(t, ctx, `(() => { const m = document.getElementById('main').dataset; return m.frame === '3' && m.tiles === '0' && m.strip === '2'; })()`)
	checkPartial(t, browsertest.ReadCanvas(t, ctx, "image"), f, 0)
}
