package main

// Helpers for tests that run the tessera binary as separate processes.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// built is the tessera binary built once for the tests that run it.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// tesseraBinary builds this command once per test run (removed by TestMain).
func tesseraBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		gotool, err := exec.LookPath("go") // go test puts its own go first on PATH
		if err != nil {
			built.err = err
			return
		}
		if built.dir, err = os.MkdirTemp("", "tessera-test-bin-"); err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(built.dir, "tessera")
		if out, err := exec.Command(gotool, "build", "-o", built.path, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// process is a tessera subcommand started by a test.
type process struct {
	name   string
	cmd    *exec.Cmd
	out    *output
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// startProcess starts bin with args; it is stopped when the test ends.
func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: args[0], out: &output{}, exited: make(chan struct{})}
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

// loopbackAddr is an address a subcommand prints once it listens.
var loopbackAddr = regexp.MustCompile(`127\.0\.0\.1:[1-9][0-9]*`)

// waitAddr waits for the first loopback address other than except in the
// process's output.
func (p *process) waitAddr(t *testing.T, except string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		changed := p.out.changed() // before reading, so that no write is missed
		for _, addr := range loopbackAddr.FindAllString(p.out.String(), -1) {
			if addr != except {
				return addr
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("tessera %s exited (%v) before it printed its address:\n%s", p.name, p.err, p.out.String())
		case <-changed:
		case <-time.After(time.Until(deadline)):
			t.Fatalf("tessera %s printed no 127.0.0.1 address within %v:\n%s", p.name, timeout, p.out.String())
		}
	}
}

// stop interrupts the process, as Ctrl-C does, and waits for it to exit;
// after 10 s it kills it.
func (p *process) stop(t *testing.T) {
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

// output collects a process's output and says when it grows.
type output struct {
	mu     sync.Mutex
	buf    strings.Builder
	notify chan struct{}
}

func (b *output) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.notify != nil {
		close(b.notify)
		b.notify = nil
	}
	return b.buf.Write(p)
}

func (b *output) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// changed returns a channel closed at the next Write.
func (b *output) changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.notify == nil {
		b.notify = make(chan struct{})
	}
	return b.notify
}

// waitMatch waits until re matches the process's output and returns the
// submatches.
func (p *process) waitMatch(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		changed := p.out.changed()
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m
		}
		select {
		case <-p.exited:
			if m := re.FindStringSubmatch(p.out.String()); m != nil {
				return m
			}
			t.Fatalf("tessera %s exited (%v) before printing %q:\n%s", p.name, p.err, re, p.out.String())
		case <-changed:
		case <-deadline:
			t.Fatalf("tessera %s did not print %q within %v:\n%s", p.name, re, timeout, p.out.String())
		}
	}
}

// wait waits for the process to exit by itself and returns its exit status.
func (p *process) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Fatalf("tessera %s did not exit within %v:\n%s", p.name, timeout, p.out.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// signal sends sig to the process.
func (p *process) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal tessera %s: %v", p.name, err)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond) // polling against the deadline above
	}
}
