// Package browsertest starts a headless Chromium for tests of tessera's web
// pages and saves screenshots of them.
//
// A test that cannot find Chromium skips with a message, except when the
// environment variable TESSERA_CI is set (CI installs Chromium), where it
// fails. Screenshots go to the directory $TESSERA_SCREENSHOTS when it is
// set, else to the test's temporary directory; each path is logged.
//
// Only tests import this package.
package browsertest

import (
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Names of Chromium executables, in the order they are looked for on PATH.
var execNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"}

// FindChromium returns the path of a Chromium executable on PATH, or "".
func FindChromium() string {
	for _, name := range execNames {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

// Start starts a headless Chromium for t and returns a chromedp context of
// one tab in it. Everything done with the context ends by timeout; the
// browser is stopped, and its fresh temporary profile removed, when t ends.
func Start(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	path := FindChromium()
	if path == "" {
		msg := fmt.Sprintf("no Chromium on PATH (looked for %s); install Debian's chromium to run the browser tests", strings.Join(execNames, ", "))
		if os.Getenv("TESSERA_CI") != "" {
			t.Fatalf("%s: TESSERA_CI is set, so this is a failure", msg)
		}
		t.Skip(msg)
	}

	out := &syncBuffer{}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	// Without UserDataDir, chromedp makes a fresh temporary profile and
	// removes it once every Chromium process is gone.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(out),
	)
	logf := func(format string, args ...any) { fmt.Fprintf(out, "chromedp: "+format+"\n", args...) }
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(logf), chromedp.WithErrorf(logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit and its profile to go
		cancelTimeout()
		if t.Failed() {
			t.Logf("browser output:\n%s", out.String())
		}
	})
	if err := chromedp.Do(tabCtx); err != nil { // start it now, so a failure says so
		t.Fatalf("start %s: %v\n%s", path, err, out.String())
	}
	return tabCtx
}

// Screenshot saves a full-page PNG screenshot of the tab as NAME.png (NAME
// prefixed with the test's name) and logs its path.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, fullPage)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("TESSERA_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	file := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "-" + name + ".png"
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	t.Logf("screenshot %s: %s", name, path)
	return path
}

// fullPage captures the whole page, beyond the viewport, as PNG.
func fullPage(ctx context.Context, t *chromedp.Target) ([]byte, error) {
	m, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		return nil, err
	}
	if m.CSSContentSize == nil {
		return nil, fmt.Errorf("browsertest: no content size in the layout metrics")
	}
	res, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format:                page.CaptureScreenshotFormatPng,
		Clip:                  &page.Viewport{Width: m.CSSContentSize.Width, Height: m.CSSContentSize.Height, Scale: 1},
		CaptureBeyondViewport: new(true),
		FromSurface:           new(true),
	})
	return res.Data, err
}

// syncBuffer collects the browser's output from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitFor polls the page until the JavaScript expression is true, within
// the browser context's deadline.
func WaitFor(t testing.TB, ctx context.Context, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("waiting for %s: %v", expr, err)
	}
}

// ReadCanvas reads a canvas's pixels back with getImageData.
func ReadCanvas(t testing.TB, ctx context.Context, id string) *image.NRGBA {
	t.Helper()
	res, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
		W    int    `json:"w"`
		H    int    `json:"h"`
		Data string `json:"data"`
	}](fmt.Sprintf(`(() => {
		const c = document.getElementById(%q);
		const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		let s = '';
		for (let i = 0; i < d.length; i += 8192) s += String.fromCharCode(...d.subarray(i, i + 8192));
		return {w: c.width, h: c.height, data: btoa(s)};
	})()`, id)))
	if err != nil {
		t.Fatalf("read canvas %s: %v", id, err)
	}
	pix, err := base64.StdEncoding.DecodeString(res.Data)
	if err != nil || len(pix) != res.W*res.H*4 {
		t.Fatalf("canvas %s: %d bytes for %dx%d: %v", id, len(pix), res.W, res.H, err)
	}
	// getImageData gives unpremultiplied RGBA: NRGBA.
	return &image.NRGBA{Pix: pix, Stride: res.W * 4, Rect: image.Rect(0, 0, res.W, res.H)}
}
