package main

// Browser tests of the pages the tessera binary serves, in headless
// Chromium (see tessera/preview/browsertest: they skip without Chromium,
// and fail without it when TESSERA_CI is set).

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
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
	bin := browserBuild(t)

	const token = "browser-test-token"
	reg := browserStart(t, bin, "registry", "-listen", "127.0.0.1:0", "-no-mdns", "-token", token)
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

// browserBuild builds this command into a temporary directory.
func browserBuild(t *testing.T) string {
	t.Helper()
	gotool, err := exec.LookPath("go") // go test puts its own go first on PATH
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "tessera")
	cmd := exec.Command(gotool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// browserProcess is a tessera subcommand started by a test.
type browserProcess struct {
	name   string
	cmd    *exec.Cmd
	out    *browserOutput
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// browserStart starts bin with args; it is stopped when the test ends.
func browserStart(t *testing.T, bin string, args ...string) *browserProcess {
	t.Helper()
	p := &browserProcess{name: args[0], out: &browserOutput{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("tessera %s output:\n%s", p.name, p.out.String())
		}
	})
	return p
}

// browserLoopback is an address a subcommand prints once it listens.
var browserLoopback = regexp.MustCompile(`127\.0\.0\.1:[1-9][0-9]*`)

// waitAddr waits for the first loopback address other than except in the
// process's output.
func (p *browserProcess) waitAddr(t *testing.T, except string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, addr := range browserLoopback.FindAllString(p.out.String(), -1) {
			if addr != except {
				return addr
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("tessera %s exited (%v) before it printed its address:\n%s", p.name, p.err, p.out.String())
		case <-p.out.changed():
		case <-time.After(time.Until(deadline)):
			t.Fatalf("tessera %s printed no 127.0.0.1 address within %v:\n%s", p.name, timeout, p.out.String())
		}
	}
}

// stop interrupts the process, as Ctrl-C does, and waits for it to exit;
// after 10 s it kills it.
func (p *browserProcess) stop(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Errorf("interrupt tessera %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("tessera %s did not exit within 10s of SIGINT; killing it", p.name)
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// browserOutput collects a process's output and says when it grows.
type browserOutput struct {
	mu     sync.Mutex
	buf    strings.Builder
	notify chan struct{}
}

func (b *browserOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.notify != nil {
		close(b.notify)
		b.notify = nil
	}
	return b.buf.Write(p)
}

func (b *browserOutput) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// changed returns a channel closed at the next Write.
func (b *browserOutput) changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.notify == nil {
		b.notify = make(chan struct{})
	}
	return b.notify
}

// waitFor polls the page until the JavaScript expression is true.
func browserWaitFor(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("waiting for %s: %v", expr, err)
	}
}
