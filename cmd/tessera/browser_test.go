package main

// Browser tests of the pages the tessera binary serves, in headless
// Chromium (see tessera/preview/browsertest: they skip without Chromium,
// and fail without it when TESSERA_CI is set).

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tessera/discovery"
	"tessera/preview/browsertest"
)

// TestBrowserRegistryPage runs a real registry (the binary, with a token)
// and watches its page in a browser: a node appears by name, address,
// cores and version without a reload when it registers (a signed PUT),
// and goes when it deregisters.
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
	browsertest.Screenshot(t, ctx, "empty")

	// An empty host: the registry fills in the address the PUT came from.
	rec := discovery.Record{ID: "browser-test-id", Name: "browser-test-node", Addr: ":7701", Cores: 6, Version: version}
	client := &discovery.RegistryClient{Addr: addr, Token: token}
	if _, err := client.Register(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	browserWaitFor(t, ctx, fmt.Sprintf(`[...document.querySelectorAll('#nodes tbody tr td:first-child')].some(td => td.textContent.trim() === %q)`, rec.Name))
	rows := rowsOf()
	want := []string{rec.Name, "127.0.0.1:7701", "6", version}
	if len(rows) != 1 || len(rows[0]) < len(want) || strings.Join(rows[0][:len(want)], "|") != strings.Join(want, "|") {
		t.Fatalf("page lists %q, want one row starting %q", rows, want)
	}
	browsertest.Screenshot(t, ctx, "one-node")

	if err := client.Deregister(t.Context(), rec.ID); err != nil {
		t.Fatal(err)
	}
	browserWaitFor(t, ctx, `document.querySelectorAll('#nodes tbody tr').length === 0`)
}

// waitFor polls the page until the JavaScript expression is true.
func browserWaitFor(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("waiting for %s: %v", expr, err)
	}
}
