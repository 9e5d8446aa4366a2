package main

// Distributed renders across real networks made of network namespaces
// (discovery/netnstest): root only; mDNS runs only inside the namespaces.

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tessera/discovery"
	"tessera/discovery/netnstest"
	"tessera/protocol"
)

// TestNetnsRenderByMDNSAndAcrossSubnets: on subnet A a registry and two
// nodes; a controller on subnet A finds the nodes by mDNS alone, and a
// controller on subnet B (where mDNS does not reach) finds them through
// the registry. Both images equal the local render.
func TestNetnsRenderByMDNSAndAcrossSubnets(t *testing.T) {
	netnstest.Require(t)
	bin := tesseraBinary(t)
	network := netnstest.Routed(t, 3, 1)
	a1, b1 := network.Host("a1"), network.Host("b1")
	registry := a1.Addr.String() + ":7700"

	reg := a1.Start(t, "registry on a1", a1.Command(bin, "registry", "-listen", ":7700"))
	reg.WaitLine(t, 20*time.Second, "listening on")
	for _, name := range []string{"a2", "a3"} {
		h := network.Host(name)
		node := h.Start(t, "node on "+name, h.Command(bin, "node", "-listen", ":7701", "-priority", "normal", "-workers", "1", "-name", "netns-"+name, "-registry", registry))
		node.WaitLine(t, 20*time.Second, "listening on")
	}

	args := renderArgs(cornell)
	want := localPNG(t, args)
	// renderArgs has -no-mdns for loopback tests; inside the namespaces
	// the controllers use mDNS, so it is left out here.
	nsArgs := append([]string{}, args...)
	for i, a := range nsArgs {
		if a == "-no-mdns" {
			nsArgs = append(nsArgs[:i], nsArgs[i+1:]...)
			break
		}
	}

	tests := []struct {
		name   string
		host   *netnstest.Host
		extra  []string
		source discovery.Source
	}{
		{"mDNS alone on the nodes' LAN", a1, nil, discovery.SourceMDNS},
		{"registry from the other subnet", b1, []string{"-registry", registry}, discovery.SourceRegistry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out, stats := filepath.Join(dir, "out.png"), filepath.Join(dir, "stats.json")
			cmdArgs := append([]string{"render", "-o", out, "-stats", stats, "-local", "0", "-discover", "5s"}, nsArgs...)
			ctl := tt.host.Start(t, "controller on "+tt.host.Name, tt.host.Command(bin, append(cmdArgs, tt.extra...)...))
			if err := ctl.Wait(); err != nil {
				t.Fatalf("render on %s: %v\n%s", tt.host.Name, err, ctl.Output())
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			sameImage(t, tt.name, got, want)
			st := readStats(t, stats)
			tiles := nodeTiles(st)
			// Both nodes are found; how they share the 96 tiles is the
			// scheduler's business (under load one may render them all
			// before the other's handshake across the router is done).
			if len(st.Nodes) != 2 || tiles["netns-a2"]+tiles["netns-a3"] != st.Tiles {
				t.Errorf("nodes %+v: want netns-a2 and netns-a3, and every tile from them", st.Nodes)
			}
			for _, n := range st.Nodes {
				if n.Source != tt.source {
					t.Errorf("node %s found by %q, want %q", n.Name, n.Source, tt.source)
				}
			}
		})
	}
}

// TestNetnsNodeWithoutMulticast: on a host with no network at all (no
// multicast interface, no route) a node logs one warning about mDNS and goes
// on with the registry.
func TestNetnsNodeWithoutMulticast(t *testing.T) {
	netnstest.Require(t)
	bin := tesseraBinary(t)
	h := netnstest.Isolated(t)
	reg := h.Start(t, "registry", h.Command(bin, "registry", "-listen", "127.0.0.1:7700", "-no-mdns"))
	reg.WaitLine(t, 20*time.Second, "listening on")
	node := h.Start(t, "node", h.Command(bin, "node", "-listen", ":7701", "-priority", "normal", "-workers", "1", "-name", "offline", "-registry", "127.0.0.1:7700"))
	node.WaitLine(t, 20*time.Second, "listening on")

	waitFor(t, "the node to register", 20*time.Second, func() bool { return strings.Contains(node.Output(), "registered with the registry") })
	// The announcement gives up in a goroutine of its own, in no order
	// with the registration: wait for its line too.
	waitFor(t, "the node to give up mDNS", 20*time.Second, func() bool { return strings.Contains(node.Output(), "mDNS disabled") })
	var warnings []string
	for _, line := range strings.Split(node.Output(), "\n") {
		if strings.Contains(line, "WRN") && !strings.Contains(line, protocol.NoTokenWarning) { // a node without a token says so
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 || !strings.Contains(strings.ToLower(warnings[0]), "multicast") {
		t.Errorf("want exactly one warning, about multicast; got %q", warnings)
	}
	if err := node.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := node.Wait(); err != nil {
		t.Errorf("node exit after SIGTERM: %v\n%s", err, node.Output())
	}
}
