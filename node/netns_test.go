//go:build linux

package node

// The node service's state in its mDNS TXT records, between network
// namespaces (root only; see discovery/netnstest). mDNS runs only in the
// helper processes inside the namespaces, never in this test process.

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tessera/discovery"
	"tessera/discovery/netnstest"
	"tessera/node/guest"
)

const helperTest = "TestHelperProcess"

// TestHelperProcess runs one role of the multi-host tests inside a
// namespace. In a normal run it does nothing.
func TestHelperProcess(t *testing.T) {
	netnstest.Serve(t, map[string]func(context.Context, string) error{
		"service": func(ctx context.Context, _ string) error { return helperService(ctx) },
		"browse":  func(ctx context.Context, _ string) error { return helperBrowse(ctx) },
	})
}

// helperService runs the node service of node n1 on :7701, announced over
// mDNS, yielding to a load that starts $BUSY_AFTER after it.
func helperService(ctx context.Context) error {
	after, err := time.ParseDuration(os.Getenv("BUSY_AFTER"))
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", ":7701")
	if err != nil {
		return err
	}
	load := &loadCPU{} // quiet, then busy: other programs take the whole CPU
	busy := time.AfterFunc(after, func() { load.set(1) })
	defer busy.Stop()
	svc, err := NewService(ServiceConfig{
		Node:  Config{ID: "n1", Name: "pc-n1", Workers: 1, Logger: zerolog.New(os.Stdout)},
		MDNS:  true,
		Watch: guest.WatchConfig{Yield: guest.Yield{Share: 0.25, After: 200 * time.Millisecond, Quiet: time.Hour}, CPU: load},
	})
	if err != nil {
		return err
	}
	return svc.Run(ctx, l)
}

// helperBrowse browses for nodes until ctx ends and prints
// "BROWSE instance~state ..." per round.
func helperBrowse(ctx context.Context) error {
	for ctx.Err() == nil {
		entries, err := discovery.Browse(ctx, discovery.NodeService, 0)
		if err != nil {
			return err
		}
		var seen []string
		for _, e := range entries {
			seen = append(seen, e.Instance+"~"+e.TXT["state"])
		}
		fmt.Println("BROWSE", strings.Join(seen, " "))
	}
	return nil
}

// TestNetnsServiceAnnouncesItsState: a node service announces state=ready,
// and paused-busy once a load makes it yield, to a browser on another host
// of the LAN, without restarting.
func TestNetnsServiceAnnouncesItsState(t *testing.T) {
	netnstest.Require(t)
	lan := netnstest.LAN(t, 2)
	h1, h2 := lan.Host("h1"), lan.Host("h2")
	svc := h1.Start(t, "service n1", h1.TestHelper(helperTest, "service", "BUSY_AFTER=4s"))
	svc.WaitLine(t, 20*time.Second, "announcing over mDNS")
	b := h2.Start(t, "browser", h2.TestHelper(helperTest, "browse"))
	for _, want := range []string{"n1~ready", "n1~paused-busy"} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			line := b.WaitLine(t, 30*time.Second, "BROWSE")
			if strings.Contains(line, want) {
				t.Logf("%s", line)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s in the browses; last %q", want, line)
			}
		}
	}
	if !strings.Contains(svc.Output(), "pausing") {
		t.Errorf("the service did not log its pause:\n%s", svc.Output())
	}
}
