//go:build linux

package netnstest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables of a test helper process (see TestHelper).
const (
	RoleEnv      = "NETNSTEST_ROLE"
	NamespaceEnv = "NETNSTEST_NAMESPACE"
)

// Command returns a command that runs name with args inside the host's
// namespace ("ip netns exec NS name args..."; the process is name itself,
// ip execs it). It dies with SIGKILL if the test process dies.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return h.CommandContext(context.Background(), name, args...)
}

// CommandContext is Command with a context that kills the process.
func (h *Host) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.Namespace, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), NamespaceEnv+"="+h.Namespace)
	return cmd
}

// TestHelper returns a command that re-executes the running test binary
// inside the host, running only the test named test, with RoleEnv=role and
// env ("KEY=value") added. The helper test reads Role and calls
// RequireInside before doing anything that multicasts.
func (h *Host) TestHelper(test, role string, env ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := h.Command(exe, "-test.run=^"+test+"$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(cmd.Env, RoleEnv+"="+role)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// Role returns the role a helper process was started with, "" in an
// ordinary test process.
func Role() string { return os.Getenv(RoleEnv) }

// RequireInside returns an error unless this process runs inside the
// namespace the harness started it in (NamespaceEnv): a guard to call
// before multicasting, which must never happen in the machine's own
// namespace.
func RequireInside() error {
	ns := os.Getenv(NamespaceEnv)
	if ns == "" {
		return fmt.Errorf("netnstest: %s is not set: not started by Host.Command", NamespaceEnv)
	}
	var self, want syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &self); err != nil {
		return fmt.Errorf("netnstest: %w", err)
	}
	if err := syscall.Stat("/run/netns/"+ns, &want); err != nil {
		return fmt.Errorf("netnstest: %w", err)
	}
	if self.Dev != want.Dev || self.Ino != want.Ino {
		return fmt.Errorf("netnstest: this process is not in namespace %s", ns)
	}
	return nil
}

// Process is a process started by Host.Start: its stdout comes in lines,
// its stderr is kept, and the test's cleanup kills it if it still runs.
type Process struct {
	Name string // for messages: "node on h2"
	Cmd  *exec.Cmd

	lines chan string   // stdout, line by line; closed at its end
	done  chan struct{} // closed when the process has exited
	err   error         // Wait's error, set before done closes

	mu     sync.Mutex
	output strings.Builder // stdout and stderr, for failure reports
}

// Start starts cmd (from Command or TestHelper, not started, with Stdout and
// Stderr unset) and tracks it: Lines and WaitLine read its stdout. When the
// test ends the process is killed if it still runs, and its output is
// logged if the test failed.
func (h *Host) Start(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Name: name + " on " + h.Name, Cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	// Pipes of our own, not StdoutPipe: Wait must not close them under the
	// readers, and a grandchild holding them open must not block Wait.
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatalf("netnstest: %s: %v", p.Name, err)
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		t.Fatalf("netnstest: %s: %v", p.Name, err)
	}
	cmd.Stdout, cmd.Stderr = stdoutW, stderrW
	err = cmd.Start()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		stdoutR.Close()
		stderrR.Close()
		t.Fatalf("netnstest: starting %s: %v", p.Name, err)
	}
	go func() {
		p.read(stdoutR, "", p.lines)
		close(p.lines)
	}()
	go p.read(stderrR, "stderr: ", nil)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("output of %s:\n%s", p.Name, p.Output())
		}
	})
	return p
}

func (p *Process) read(r io.ReadCloser, prefix string, lines chan<- string) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.output.WriteString(prefix + line + "\n")
		p.mu.Unlock()
		if lines != nil {
			select {
			case lines <- line:
			default: // nobody reads the lines: they stay in Output
			}
		}
	}
}

// Lines delivers the process's stdout line by line; it is closed at the end
// of the output (when the process and any child holding it have exited).
func (p *Process) Lines() <-chan string { return p.lines }

// WaitLine returns the first unread stdout line that contains substr,
// failing the test if none comes within timeout or the process exits.
func (p *Process) WaitLine(t testing.TB, timeout time.Duration, substr string) string {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("%s closed its output before printing %q; output:\n%s", p.Name, substr, p.Output())
			}
			if strings.Contains(line, substr) {
				return line
			}
		case <-timer.C:
			t.Fatalf("%s printed no %q within %v; output:\n%s", p.Name, substr, timeout, p.Output())
		}
	}
}

// Output returns what the process wrote so far, stderr lines prefixed.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns its exit error.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Kill kills the process (SIGKILL) if it still runs and waits for it.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Kill() // "already finished" is fine
	<-p.done
}

// Serve is the body of a test binary's helper test (the test that
// Host.TestHelper re-executes): in an ordinary test process it does
// nothing; in a helper it refuses to run outside its namespace, runs the
// function of its role until it returns or SIGTERM/SIGINT cancels ctx, and
// fails the test with the error (also printed as "HELPER ERROR ...").
func Serve(t *testing.T, roles map[string]func(ctx context.Context, role string) error) {
	role := Role()
	if role == "" {
		return
	}
	if err := RequireInside(); err != nil {
		t.Fatalf("refusing to run %s outside a test namespace: %v", role, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	run, ok := roles[role]
	err := fmt.Errorf("unknown role %q", role)
	if ok {
		err = run(ctx, role)
	}
	if err != nil {
		fmt.Println("HELPER ERROR", err)
		t.Fatal(err)
	}
}
