package main

// Browser tests of the pages the tessera binary serves, in headless
// Chromium (see tessera/preview/browsertest: they skip without Chromium,
// and fail without it when TESSERA_CI is set).

import (
	"bytes"
	"fmt"
	"image/color"
	"image/png"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tessera/preview/browsertest"
)

// TestBrowserRegistryPage runs a real registry and a real node (both with
// a token) and watches the registry's page in a browser: the node appears
// by name, address, cores and version without a reload when it registers,
// and goes when it stops (and deregisters).
func TestBrowserRegistryPage(t *testing.T) {
	ctx := browsertest.Start(t, 2*time.Minute) // the first build of the binary takes a while
	bin := tesseraBinary(t)

	const token = "browser-test-token"
	reg := startProcess(t, bin, "registry", "-listen", "127.0.0.1:0", "-no-mdns", "-token", token)
	addr := reg.waitAddr(t, "", 20*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatal(err)
	}
	rowsOf := func() [][]string {
		t.Helper()
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](
			`[...document.querySelectorAll('#nodes tbody tr')].map(tr => [...tr.cells].map(td => td.textContent.trim()))`))
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	if rows := rowsOf(); len(rows) != 0 {
		t.Fatalf("a fresh registry's page lists %q", rows)
	}
	browsertest.Screenshot(t, ctx, "registry-empty")

	const name = "browser-test-node"
	node := startProcess(t, bin, "node", "-listen", "127.0.0.1:0", "-no-mdns", "-priority", "normal", "-workers", "3", "-name", name, "-registry", addr, "-token", token)
	nodeAddr := node.waitMatch(t, nodeListening, 20*time.Second)[1]
	browsertest.WaitFor(t, ctx, fmt.Sprintf(`[...document.querySelectorAll('#nodes tbody tr td:first-child')].some(td => td.textContent.trim() === %q)`, name))
	rows := rowsOf()
	want := []string{name, nodeAddr, "3", version}
	if len(rows) != 1 || len(rows[0]) < len(want) || strings.Join(rows[0][:len(want)], "|") != strings.Join(want, "|") {
		t.Fatalf("page lists %q, want one row starting %q", rows, want)
	}
	browsertest.Screenshot(t, ctx, "registry-one-node")

	node.signal(t, syscall.SIGINT)
	browsertest.WaitFor(t, ctx, `document.querySelectorAll('#nodes tbody tr').length === 0`)
}

var previewAt = regexp.MustCompile(`preview: (http://127\.0\.0\.1:[0-9]+/)`)

// TestBrowserRenderPreview opens the preview page of a real distributed
// render (two node processes) while it runs: when the render ends, the
// page's canvas holds exactly the pixels of the PNG the render wrote, and
// the node table names both nodes.
func TestBrowserRenderPreview(t *testing.T) {
	ctx := browsertest.Start(t, 2*time.Minute)
	a, b := startNode(t, "preview-node-a"), startNode(t, "preview-node-b")
	// Big enough to be open mid-render on a fast machine, small for -race.
	d := startRender(t, "-width", "160", "-height", "120", "-spp", "48", "-tile", "16", "-no-mdns", "-q",
		"-local", "0", "-nodes", a.addr+","+b.addr, "-preview", "127.0.0.1:0", "-linger", "60s", bunny)
	url := d.waitMatch(t, previewAt, 20*time.Second)[1]
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, ctx, `document.getElementById('main').dataset.finished === 'true'`)
	browsertest.Screenshot(t, ctx, "preview-finished")

	data, err := os.ReadFile(d.image)
	if err != nil {
		t.Fatal(err)
	}
	want, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	got := browsertest.ReadCanvas(t, ctx, "image")
	if got.Rect != want.Bounds() {
		t.Fatalf("canvas %v, image %v", got.Rect, want.Bounds())
	}
	bad := 0
	for y := range got.Rect.Dy() {
		for x := range got.Rect.Dx() {
			w := color.NRGBAModel.Convert(want.At(x, y)).(color.NRGBA)
			if g := got.NRGBAAt(x, y); g != w {
				if bad++; bad <= 5 {
					t.Errorf("pixel (%d,%d): canvas %v, PNG %v", x, y, g, w)
				}
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d pixels of the canvas differ from the PNG", bad)
	}

	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#nodes tbody tr')].map(tr => tr.cells[1].textContent.trim())`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, ","); !strings.Contains(got, "preview-node-a") || !strings.Contains(got, "preview-node-b") {
		t.Errorf("node table lists %q, want both nodes by name", names)
	}

	// Colour by node: the toggle shows a legend naming both nodes.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("bynode"))); err != nil {
		t.Fatal(err)
	}
	browsertest.WaitFor(t, ctx, `document.getElementById('legend').textContent.includes('preview-node-a') && document.getElementById('legend').textContent.includes('preview-node-b')`)
	browsertest.Screenshot(t, ctx, "preview-by-node")

	d.signal(t, syscall.SIGINT) // end the linger
	if code := d.wait(t, 20*time.Second); code != 0 {
		t.Errorf("render exited with %d after Ctrl-C during the linger, want 0:\n%s", code, d.out.String())
	}
}
