//go:build linux

package netnstest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelperProcess is the code the other tests run inside namespaces
// (Host.TestHelper) or as a separate test process. In a normal run it does
// nothing.
func TestHelperProcess(t *testing.T) {
	switch Role() {
	case "":
		return
	case "listen": // accept TCP connections on :7000
		if err := RequireInside(); err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", ":7000")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("LISTENING", l.Addr())
		for {
			c, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
	case "dial": // connect to $DIAL once
		c, err := net.DialTimeout("tcp", os.Getenv("DIAL"), 3*time.Second)
		if err != nil {
			fmt.Println("DIAL FAILED", err)
			return
		}
		c.Close()
		fmt.Println("CONNECTED")
	case "inside": // report RequireInside
		fmt.Println("INSIDE", RequireInside())
	case "failing-network": // a test that makes a network and then fails
		n := LAN(t, 1)
		n.Hosts[0].Start(t, "sleeper", n.Hosts[0].Command("sleep", "600"))
		fmt.Println("NAMESPACES", strings.Join(n.Namespaces(), " "))
		t.Fatal("failing on purpose, with a network and a process up")
	}
}

func helperLine(t *testing.T, h *Host, role, prefix string, env ...string) string {
	t.Helper()
	p := h.Start(t, role, h.TestHelper("TestHelperProcess", role, env...))
	return p.WaitLine(t, 20*time.Second, prefix)
}

func TestLAN(t *testing.T) {
	Require(t)
	n := LAN(t, 3)
	if len(n.Hosts) != 3 || n.Host("h2") == nil || n.Host("h4") != nil {
		t.Fatalf("hosts %v", n.Hosts)
	}
	for i, h := range n.Hosts {
		want := "10.77.0.1" + strconv.Itoa(i+1)
		if h.Addr.String() != want {
			t.Errorf("%s has address %s, want %s", h.Name, h.Addr, want)
		}
		out, err := h.Command("ip", "-4", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
		if err != nil || !strings.Contains(string(out), want+"/24") {
			t.Errorf("%s: ip addr: %v %s", h.Name, err, out)
		}
		if !strings.HasPrefix(h.Namespace, fmt.Sprintf("%s%d-", Prefix, os.Getpid())) {
			t.Errorf("namespace %q does not carry the PID", h.Namespace)
		}
	}
	if got := helperLine(t, n.Host("h1"), "inside", "INSIDE"); got != "INSIDE <nil>" {
		t.Errorf("in h1: %q", got)
	}
	if err := RequireInside(); err == nil {
		t.Error("RequireInside succeeds in the test process itself")
	}
	helperLine(t, n.Host("h2"), "listen", "LISTENING")
	if got := helperLine(t, n.Host("h1"), "dial", "", "DIAL=10.77.0.12:7000"); got != "CONNECTED" {
		t.Errorf("h1 to h2: %q", got)
	}
	if got := helperLine(t, n.Host("h3"), "dial", "", "DIAL=10.77.0.11:7000"); !strings.Contains(got, "refused") {
		t.Errorf("h3 to h1 where nothing listens: %q, want connection refused", got)
	}
}

// TestSetLink: with h2's cable out, h1 cannot reach it (the dial times
// out, or h1 gives up asking for h2's address first: no route to host;
// nothing refuses it); with the cable back, it can again.
func TestSetLink(t *testing.T) {
	Require(t)
	n := LAN(t, 2)
	h1, h2 := n.Host("h1"), n.Host("h2")
	helperLine(t, h2, "listen", "LISTENING")
	h2.SetLink(t, false)
	// The dial's 3 s and the kernel's neighbour discovery (3 probes a
	// second apart) end at about the same time: either may come first.
	if got := helperLine(t, h1, "dial", "", "DIAL=10.77.0.12:7000"); !strings.Contains(got, "timeout") && !strings.Contains(got, "no route to host") {
		t.Errorf("h1 to h2 unplugged: %q, want a timeout or no route to host", got)
	}
	h2.SetLink(t, true)
	// h1 may remember for a moment that h2 did not answer (its neighbour
	// entry: "no route to host"), as after a real blip: it connects again
	// within seconds.
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := helperLine(t, h1, "dial", "", "DIAL=10.77.0.12:7000")
		if got == "CONNECTED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("h1 to h2 plugged back: %q after 15 s", got)
		}
	}
}

func TestRouted(t *testing.T) {
	Require(t)
	n := Routed(t, 1, 2)
	names := []string{}
	for _, h := range n.Hosts {
		names = append(names, h.Name+"="+h.Addr.String())
	}
	if want := []string{"a1=10.77.1.11", "b1=10.77.2.11", "b2=10.77.2.12", "router=10.77.1.1"}; !slices.Equal(names, want) {
		t.Errorf("hosts %q, want %q", names, want)
	}
	helperLine(t, n.Host("a1"), "listen", "LISTENING")
	if got := helperLine(t, n.Host("b1"), "dial", "", "DIAL=10.77.1.11:7000"); got != "CONNECTED" {
		t.Errorf("b1 to a1 through the router: %q", got)
	}
}

func TestIsolated(t *testing.T) {
	Require(t)
	h := Isolated(t)
	out, err := h.Command("ip", "-o", "link").CombinedOutput()
	if err != nil || strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), "lo:") {
		t.Errorf("isolated host links: %v\n%s", err, out)
	}
}

// TestCleanupKillsAndDeletes: when a test ends, its processes (tracked or
// not) are dead and its namespaces gone.
func TestCleanupKillsAndDeletes(t *testing.T) {
	Require(t)
	var namespaces []string
	var untracked *exec.Cmd
	t.Run("network", func(t *testing.T) {
		n := LAN(t, 2)
		namespaces = n.Namespaces()
		n.Host("h1").Start(t, "sleeper", n.Host("h1").Command("sleep", "600"))
		untracked = n.Host("h2").Command("sleep", "600")
		if err := untracked.Start(); err != nil {
			t.Fatal(err)
		}
		waitInside(t, n.Host("h2").Namespace, untracked.Process.Pid)
	})
	done := make(chan error, 1)
	go func() { done <- untracked.Wait() }()
	select {
	case err := <-done:
		if ee, ok := errors.AsType[*exec.ExitError](err); !ok || !ee.Sys().(syscall.WaitStatus).Signaled() {
			t.Errorf("untracked process ended with %v, want killed by a signal", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("untracked process still runs after the cleanup")
	}
	assertGone(t, namespaces)
}

// TestCleanupAfterFailure runs a test that fails with a network up, in a
// separate test process, and checks that nothing is left.
func TestCleanupAfterFailure(t *testing.T) {
	Require(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), RoleEnv+"=failing-network")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "failing on purpose") {
		t.Fatalf("the failing test did not fail: %v\n%s", err, out)
	}
	var namespaces []string
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(line, "NAMESPACES "); ok {
			namespaces = strings.Fields(rest)
		}
	}
	if len(namespaces) != 2 {
		t.Fatalf("no namespaces reported:\n%s", out)
	}
	assertGone(t, namespaces)
}

// TestSweep: namespaces of a dead test process are deleted, with what runs
// in them; those of live processes are kept.
func TestSweep(t *testing.T) {
	Require(t)
	n := LAN(t, 1) // ours: must survive the sweep
	// A process id above the kernel's largest: no process has it, ever
	// (the id of a process that ended could be taken again meanwhile).
	max, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	pidMax, err := strconv.Atoi(strings.TrimSpace(string(max)))
	if err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("%s%d-1-h1", Prefix, pidMax+1)
	if out, err := exec.Command("ip", "netns", "add", stale).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { _ = deleteNamespace(stale) })
	orphan := exec.Command("ip", "netns", "exec", stale, "sleep", "600")
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- orphan.Wait() }()
	waitInside(t, stale, orphan.Process.Pid)
	if err := Sweep(); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the process in the stale namespace survived the sweep")
	}
	assertGone(t, []string{stale})
	names, err := List()
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range n.Namespaces() {
		if !slices.Contains(names, ns) {
			t.Errorf("Sweep deleted %s, a namespace of this live process", ns)
		}
	}
}

// waitInside waits until process pid is inside namespace ns: ip netns exec
// enters it after it started, and a cleanup or a sweep before that finds
// no process there to kill.
func waitInside(t *testing.T, ns string, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := namespacePIDs(ns)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(pids, pid) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d is not in %s after 10 s (it holds %v)", pid, ns, pids)
		}
		time.Sleep(5 * time.Millisecond) // polling the kernel against a deadline
	}
}

// assertGone checks that none of namespaces exists.
func assertGone(t *testing.T, namespaces []string) {
	t.Helper()
	names, err := List()
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range namespaces {
		if slices.Contains(names, ns) {
			t.Errorf("namespace %s left behind", ns)
		}
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			t.Errorf("/run/netns/%s left behind", ns)
		}
	}
}
