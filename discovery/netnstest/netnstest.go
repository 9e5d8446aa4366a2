//go:build linux

// Package netnstest builds throwaway multi-host networks out of Linux
// network namespaces, for tests that need real LANs, subnets and routers on
// one machine: a LAN of hosts on one bridge (mDNS works across it), or two
// subnets joined by a router (mDNS does not cross it; TCP does).
//
// It needs root and iproute2's ip; Require skips a test otherwise, with a
// message that says which is missing, or fails it when TESSERA_CI is set
// (CI runs as root and installs iproute2).
//
// Every namespace is named "tsr<PID>-<N>-<host>" (the PID of the test
// process, a counter), so that two runs never collide. Each network
// registers a t.Cleanup that kills every process left in its namespaces and
// deletes them (the veths and bridges go with them), whether the test
// passed or failed. The first network of a test process also sweeps the
// namespaces of earlier runs that crashed: those whose PID no longer
// exists.
//
// Processes run inside a host with Host.Command (an exec.Cmd under
// "ip netns exec"); Host.Start runs one and tracks it, with its output in
// lines. Host.TestHelper re-executes the test binary inside a host (the
// helper-process pattern) to run Go code there, such as mDNS, which must
// never run in the machine's own namespace.
package netnstest

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Prefix starts the name of every namespace this package makes.
const Prefix = "tsr"

// Subnets used by the networks. Namespaces are isolated from each other, so
// two networks may use the same addresses.
var (
	LANSubnet = netip.MustParsePrefix("10.77.0.0/24") // LAN hosts h1, h2, ... are .11, .12, ...
	SubnetA   = netip.MustParsePrefix("10.77.1.0/24") // Routed: router .1, hosts a1, a2, ... .11, .12, ...
	SubnetB   = netip.MustParsePrefix("10.77.2.0/24") // Routed: router .1, hosts b1, b2, ... .11, .12, ...
	nameRE    = regexp.MustCompile(`^` + Prefix + `(\d+)-\d+-`)
	netSeq    atomic.Int64
	sweepOnce sync.Once
)

// Available reports why network namespaces cannot be used here (nil if
// they can): not root, or no ip command.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespace tests need root (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("network namespace tests need iproute2's ip command (apt-get install iproute2)")
	}
	return nil
}

// Require skips t when namespaces are not available, or fails it when the
// environment variable TESSERA_CI is set.
func Require(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("TESSERA_CI") != "" {
			t.Fatalf("%v; TESSERA_CI is set, so this is a failure", err)
		}
		t.Skip(err)
	}
}

// Network is a set of hosts (namespaces) and the links between them.
type Network struct {
	t          testing.TB
	id         string   // "tsr<PID>-<N>"
	namespaces []string // every namespace, hosts and switches
	Hosts      []*Host  // the hosts, in order of creation
}

// Host is one namespace with one or more addresses.
type Host struct {
	Name      string       // short name: "h1", "a1", "router", ...
	Namespace string       // the namespace's name
	Addr      netip.Addr   // its first address ("invalid" for an isolated host)
	Addrs     []netip.Addr // every address (a router has one per subnet)
	net       *Network
	sw, port  string // its switch's namespace and its port there ("" for a router or an isolated host)
}

// Host returns the host called name, or nil.
func (n *Network) Host(name string) *Host {
	for _, h := range n.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Namespaces returns the names of every namespace of the network.
func (n *Network) Namespaces() []string { return append([]string(nil), n.namespaces...) }

// newNetwork starts a network: it sweeps leftovers of crashed runs once per
// process and registers the cleanup.
func newNetwork(t testing.TB) *Network {
	t.Helper()
	Require(t)
	sweepOnce.Do(func() {
		if err := Sweep(); err != nil {
			t.Logf("netnstest: sweeping old namespaces: %v", err)
		}
	})
	n := &Network{t: t, id: fmt.Sprintf("%s%d-%d", Prefix, os.Getpid(), netSeq.Add(1))}
	t.Cleanup(n.cleanup)
	return n
}

// ns creates a namespace named after the network and role, with lo up and
// IPv6 disabled by default (an address in its tentative state makes some
// multicast sends fail).
func (n *Network) ns(role string) string {
	n.t.Helper()
	name := n.id + "-" + role
	n.ip("netns", "add", name)
	n.namespaces = append(n.namespaces, name)
	n.ip("-n", name, "link", "set", "lo", "up")
	n.sysctl(name, "net/ipv6/conf/all/disable_ipv6", "1")
	n.sysctl(name, "net/ipv6/conf/default/disable_ipv6", "1")
	return name
}

// ip runs the ip command and fails the test on error.
func (n *Network) ip(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		n.t.Fatalf("netnstest: ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// sysctl writes a /proc/sys value inside a namespace (with sh, which every
// system has, rather than procps's sysctl).
func (n *Network) sysctl(ns, key, value string) {
	n.t.Helper()
	if strings.ContainsAny(key+value, "'\" ;&|$`") {
		n.t.Fatalf("netnstest: bad sysctl %q=%q", key, value)
	}
	n.ip("netns", "exec", ns, "sh", "-c", "echo "+value+" > /proc/sys/"+key)
}

// bridge creates a switch namespace with a bridge br0.
func (n *Network) bridge(role string) string {
	n.t.Helper()
	sw := n.ns(role)
	// Snooping off: every port gets all multicast, as on a cheap switch.
	n.ip("-n", sw, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	n.ip("-n", sw, "link", "set", "br0", "up")
	return sw
}

// attach connects namespace ns to the bridge of switch sw with a veth
// (ifname inside ns, port on the bridge) and gives it addr.
func (n *Network) attach(ns, ifname, sw, port string, addr netip.Prefix) {
	n.t.Helper()
	n.ip("link", "add", ifname, "netns", ns, "type", "veth", "peer", "name", port, "netns", sw)
	n.ip("-n", sw, "link", "set", port, "master", "br0", "up")
	n.ip("-n", ns, "addr", "add", addr.String(), "dev", ifname)
	n.ip("-n", ns, "link", "set", ifname, "up")
}

// host creates a host namespace on switch sw with address addr.
func (n *Network) host(name, sw string, addr netip.Prefix) *Host {
	n.t.Helper()
	ns := n.ns(name)
	n.attach(ns, "eth0", sw, "p-"+name, addr)
	// A host without a default route needs a route for multicast.
	n.ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
	h := &Host{Name: name, Namespace: ns, Addr: addr.Addr(), Addrs: []netip.Addr{addr.Addr()}, net: n, sw: sw, port: "p-" + name}
	n.Hosts = append(n.Hosts, h)
	return h
}

// SetLink takes the host's cable out of its switch (up false) or puts it
// back: its switch port goes down or up. The host keeps its address and
// routes, as a PC whose Wi-Fi drops does; frames to and from it are lost
// meanwhile. Only for hosts made by LAN or Routed (not the router).
func (h *Host) SetLink(t testing.TB, up bool) {
	t.Helper()
	if h.sw == "" {
		t.Fatalf("netnstest: host %s has no switch port", h.Name)
	}
	state := "down"
	if up {
		state = "up"
	}
	h.net.ip("-n", h.sw, "link", "set", h.port, state)
}

// hostAddr returns the address of host number i (1-based) in subnet p: .10+i.
func hostAddr(p netip.Prefix, i int) netip.Prefix {
	a := p.Addr().As4()
	a[3] = byte(10 + i)
	return netip.PrefixFrom(netip.AddrFrom4(a), p.Bits())
}

// LAN makes hosts h1..hN (10.77.0.11, .12, ...) on one bridge, as the
// computers of one room on one switch: multicast reaches every host. The
// hosts have no default route (and a 224.0.0.0/4 route on eth0).
func LAN(t testing.TB, hosts int) *Network {
	t.Helper()
	n := newNetwork(t)
	sw := n.bridge("sw")
	for i := 1; i <= hosts; i++ {
		n.host("h"+strconv.Itoa(i), sw, hostAddr(LANSubnet, i))
	}
	return n
}

// Routed makes two subnets, each on its own bridge: hosts a1..aA on
// 10.77.1.0/24 and b1..bB on 10.77.2.0/24, joined by the host "router"
// (10.77.1.1 and 10.77.2.1, forwarding). Every host has a default route via
// the router. Multicast (TTL 1) stays in its subnet; unicast crosses.
func Routed(t testing.TB, a, b int) *Network {
	t.Helper()
	n := newNetwork(t)
	swA, swB := n.bridge("swa"), n.bridge("swb")
	rns := n.ns("router")
	gwA := netip.PrefixFrom(SubnetA.Addr().Next(), SubnetA.Bits())
	gwB := netip.PrefixFrom(SubnetB.Addr().Next(), SubnetB.Bits())
	n.attach(rns, "eth0", swA, "p-router", gwA)
	n.attach(rns, "eth1", swB, "p-router", gwB)
	n.sysctl(rns, "net/ipv4/ip_forward", "1")
	router := &Host{Name: "router", Namespace: rns, Addr: gwA.Addr(), Addrs: []netip.Addr{gwA.Addr(), gwB.Addr()}, net: n}
	side := func(prefix string, count int, sw string, subnet netip.Prefix, gw netip.Prefix) {
		for i := 1; i <= count; i++ {
			h := n.host(prefix+strconv.Itoa(i), sw, hostAddr(subnet, i))
			n.ip("-n", h.Namespace, "route", "add", "default", "via", gw.Addr().String())
		}
	}
	side("a", a, swA, SubnetA, gwA)
	side("b", b, swB, SubnetB, gwB)
	n.Hosts = append(n.Hosts, router)
	return n
}

// Isolated makes one host with only a loopback interface: no network, no
// multicast.
func Isolated(t testing.TB) *Host {
	t.Helper()
	n := newNetwork(t)
	h := &Host{Name: "iso", Namespace: n.ns("iso"), net: n}
	n.Hosts = append(n.Hosts, h)
	return h
}

// cleanup kills every process still in the network's namespaces, then
// deletes the namespaces (their interfaces go with them).
func (n *Network) cleanup() {
	for _, ns := range n.namespaces {
		if err := killAll(ns); err != nil {
			n.t.Errorf("netnstest: cleanup of %s: %v", ns, err)
		}
	}
	for _, ns := range n.namespaces {
		if err := deleteNamespace(ns); err != nil {
			n.t.Errorf("netnstest: cleanup: %v", err)
		}
	}
}

// killAll SIGKILLs every process in namespace ns and waits (up to 5 s)
// until none is left.
func killAll(ns string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := namespacePIDs(ns)
		if err != nil || len(pids) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v survive SIGKILL", pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL) // ESRCH: it just exited
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// namespacePIDs lists the processes in namespace ns (zombies excluded: they
// no longer hold it).
func namespacePIDs(ns string) ([]int, error) {
	out, err := exec.Command("ip", "netns", "pids", ns).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ip netns pids %s: %v: %s", ns, err, bytes.TrimSpace(out))
	}
	var pids []int
	for f := range strings.FieldsSeq(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if state, err := os.ReadFile("/proc/" + f + "/stat"); err == nil && isZombie(state) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// isZombie reads the state field of /proc/PID/stat ("pid (comm) S ...").
func isZombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

func deleteNamespace(ns string) error {
	if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns del %s: %v: %s", ns, err, bytes.TrimSpace(out))
	}
	return nil
}

// List returns the names of the namespaces on this machine that this
// package made (any run).
func List() ([]string, error) {
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ip netns list: %v: %s", err, bytes.TrimSpace(out))
	}
	var names []string
	for line := range strings.Lines(string(out)) {
		// "name" or "name (id: 3)"
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if nameRE.MatchString(name) {
			names = append(names, name)
		}
	}
	return names, nil
}

// Sweep deletes the namespaces left by test processes that no longer run
// (a crashed or killed earlier run), after killing what runs in them.
// Namespaces of live processes, this one included, are left alone.
func Sweep() error {
	names, err := List()
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range names {
		pid, _ := strconv.Atoi(nameRE.FindStringSubmatch(ns)[1])
		if pid == os.Getpid() || processExists(pid) {
			continue
		}
		// Another test process may be sweeping the same namespace: one
		// that vanished meanwhile is not an error.
		if err := killAll(ns); err != nil && exists(ns) {
			errs = append(errs, err)
		}
		if err := deleteNamespace(ns); err != nil && exists(ns) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// exists reports whether namespace ns is still there.
func exists(ns string) bool {
	_, err := os.Stat("/run/netns/" + ns)
	return err == nil
}
