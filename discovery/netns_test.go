package discovery

// Multi-host tests: real mDNS and HTTP between network namespaces (root
// only; see discovery/netnstest). The mDNS code runs only in helper
// processes inside the namespaces (TestHelperProcess), never in this test
// process, whose namespace is the machine's own.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tessera/discovery/netnstest"
	"tessera/protocol"
)

const helperTest = "TestHelperProcess"

// TestHelperProcess runs one role of the multi-host tests inside a
// namespace (netnstest.Host.TestHelper). In a normal run it does nothing.
func TestHelperProcess(t *testing.T) {
	logged := func(f func(context.Context, zerolog.Logger) error) func(context.Context, string) error {
		return func(ctx context.Context, role string) error {
			return f(ctx, zerolog.New(os.Stdout).With().Str("role", role).Logger())
		}
	}
	netnstest.Serve(t, map[string]func(context.Context, string) error{
		"node":     logged(helperNode),
		"registry": logged(helperRegistry),
		"watch":    logged(helperWatch),
		"nomcast":  logged(helperNoMulticast),
		"browse":   func(ctx context.Context, _ string) error { return helperBrowse(ctx) },
		"dial": func(context.Context, string) error {
			c, err := net.DialTimeout("tcp", os.Getenv("DIAL"), 3*time.Second)
			if err != nil {
				return err
			}
			c.Close()
			fmt.Println("CONNECTED")
			return nil
		},
	})
}

// helperNode is a node: a TCP listener on :7701, an mDNS announcement of
// NodeService, a heartbeat with $REGISTRY if set, and the registry finder if
// $FIND is set. With $STATES (comma-separated) it announces and registers
// the first state, then the next every $STATE_EVERY, round and round.
func helperNode(ctx context.Context, log zerolog.Logger) error {
	id := os.Getenv("NODE_ID")
	l, err := net.Listen("tcp", ":7701")
	if err != nil {
		return err
	}
	defer l.Close()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	})
	rec := Record{ID: id, Name: "pc-" + id, Addr: ":7701", Cores: 2, Version: "test"}
	var states []protocol.NodeState
	if s := os.Getenv("STATES"); s != "" {
		for _, st := range strings.Split(s, ",") {
			states = append(states, protocol.NodeState(st))
		}
		rec.State = states[0]
	}
	live := NewLiveRecord(rec)
	txtOf := func(st protocol.NodeState) []string {
		return NodeTXT(Node{ID: id, Name: rec.Name, Cores: rec.Cores, Version: rec.Version, State: st}, 1)
	}
	updates := make(chan []string)
	wg.Go(func() {
		if err := Announce(ctx, AnnounceConfig{Service: NodeService, Instance: id, Port: 7701, TXT: txtOf(rec.State), Updates: updates, Logger: log}); err != nil {
			log.Error().Err(err).Msg("announce")
		}
	})
	if len(states) > 1 {
		every, err := time.ParseDuration(os.Getenv("STATE_EVERY"))
		if err != nil {
			return err
		}
		wg.Go(func() {
			for i := 1; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-time.After(every):
				}
				st := states[i%len(states)]
				live.SetState(st)
				select {
				case updates <- txtOf(st):
					fmt.Println("STATE", st)
				case <-ctx.Done():
					return
				}
			}
		})
	}
	if reg := os.Getenv("REGISTRY"); reg != "" {
		wg.Go(func() { _ = (&RegistryClient{Addr: reg, Logger: log}).HeartbeatLive(ctx, live) })
	}
	if os.Getenv("FIND") != "" {
		wg.Go(func() { _ = FindRegistries(ctx, FinderConfig{Record: rec, Interval: time.Second, Logger: log}) })
	}
	<-ctx.Done()
	l.Close()
	wg.Wait()
	return nil
}

// helperRegistry serves a registry on :7700 and announces it unless
// $NO_MDNS is set.
func helperRegistry(ctx context.Context, log zerolog.Logger) error {
	r, err := NewRegistry(RegistryConfig{TTL: 3 * time.Second, Logger: log})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", ":7700")
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- r.Serve(l) }()
	var wg sync.WaitGroup
	if os.Getenv("NO_MDNS") == "" {
		wg.Go(func() {
			_ = Announce(ctx, AnnounceConfig{Service: RegistryService, Instance: "registry-" + NewID(), Port: 7700, Logger: log})
		})
	}
	fmt.Println("REGISTRY UP")
	<-ctx.Done()
	wg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.Shutdown(sctx)
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		return err
	}
	return nil
}

// helperWatch runs a watcher (mDNS if $MDNS, registries from $REGISTRIES)
// and prints "EVENT kind id source addr ms-since-start" per event.
func helperWatch(ctx context.Context, log zerolog.Logger) error {
	cfg := WatcherConfig{MDNS: os.Getenv("MDNS") != "", Logger: log}
	if r := os.Getenv("REGISTRIES"); r != "" {
		cfg.Registries = strings.Split(r, ",")
	}
	w, err := NewWatcher(cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	for e := range w.Events() {
		fmt.Printf("EVENT %s %s %s %s %d\n", e.Kind, e.Node.ID, e.Node.Source, e.Node.Addr, time.Since(start).Milliseconds())
	}
	return <-done
}

// helperBrowse browses $SERVICE $ROUNDS times and prints
// "BROWSE count ids" per round; with $SHOW_STATE each id is followed by
// "~" and the state in its TXT.
func helperBrowse(ctx context.Context) error {
	rounds, _ := strconv.Atoi(os.Getenv("ROUNDS"))
	for range rounds {
		entries, err := Browse(ctx, os.Getenv("SERVICE"), 0)
		if err != nil {
			return err
		}
		var ids []string
		for _, e := range entries {
			id := e.Instance + "@" + e.Addr
			if os.Getenv("SHOW_STATE") != "" {
				id += "~" + e.TXT["state"]
			}
			ids = append(ids, id)
		}
		fmt.Printf("BROWSE %d %s\n", len(entries), strings.Join(ids, ","))
	}
	return nil
}

// helperNoMulticast runs on a host with only loopback: Announce must warn
// once and return nil at once, Browse must fail with ErrNoMulticast.
func helperNoMulticast(ctx context.Context, log zerolog.Logger) error {
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	err := Announce(actx, AnnounceConfig{Service: NodeService, Instance: "n1", Port: 7701, Logger: log})
	fmt.Printf("ANNOUNCE returned %v after %d ms\n", err, time.Since(start).Milliseconds())
	_, err = Browse(ctx, NodeService, 0)
	fmt.Printf("BROWSE no-multicast=%v %v\n", errors.Is(err, ErrNoMulticast), err)
	return nil
}

// eventLine parses an "EVENT kind id source addr ms" line.
func eventLine(t *testing.T, line string) (kind, id, source, addr string, ms int) {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != 6 {
		t.Fatalf("malformed event line %q", line)
	}
	ms, err := strconv.Atoi(f[5])
	if err != nil {
		t.Fatalf("malformed event line %q", line)
	}
	return f[1], f[2], f[3], f[4], ms
}

// TestNetnsLANFindsNodesByMDNS: on a LAN of three hosts, a watcher finds two
// nodes by mDNS alone within 2 s, and a killed node leaves the view within a
// few seconds.
func TestNetnsLANFindsNodesByMDNS(t *testing.T) {
	netnstest.Require(t)
	lan := netnstest.LAN(t, 3)
	h1, h2, h3 := lan.Host("h1"), lan.Host("h2"), lan.Host("h3")
	n2 := h2.Start(t, "node n2", h2.TestHelper(helperTest, "node", "NODE_ID=n2"))
	n3 := h3.Start(t, "node n3", h3.TestHelper(helperTest, "node", "NODE_ID=n3"))
	n2.WaitLine(t, 20*time.Second, "announcing over mDNS")
	n3.WaitLine(t, 20*time.Second, "announcing over mDNS")

	w := h1.Start(t, "watcher", h1.TestHelper(helperTest, "watch", "MDNS=1"))
	want := map[string]string{"n2": "10.77.0.12:7701", "n3": "10.77.0.13:7701"}
	for range 2 {
		kind, id, source, addr, ms := eventLine(t, w.WaitLine(t, 20*time.Second, "EVENT"))
		if kind != "join" || source != "mdns" || want[id] != addr {
			t.Fatalf("event %s %s %s %s, want a join by mdns of n2 or n3 at its address", kind, id, source, addr)
		}
		t.Logf("%s joined %d ms after the watcher started", id, ms)
		if ms > 2000 {
			t.Errorf("%s found %d ms after the watcher started, want within 2 s", id, ms)
		}
		delete(want, id)
	}

	n3.Kill()
	killed := time.Now()
	kind, id, _, _, _ := eventLine(t, w.WaitLine(t, 20*time.Second, "EVENT"))
	if kind != "leave" || id != "n3" {
		t.Fatalf("event %s %s after killing n3, want leave n3", kind, id)
	}
	if d := time.Since(killed); d > 6*time.Second {
		t.Errorf("n3 left the view %v after it was killed, want within a few seconds", d)
	}
	t.Logf("n3 left the view %v after it was killed", time.Since(killed).Round(time.Millisecond))
	select {
	case line := <-w.Lines():
		if strings.HasPrefix(line, "EVENT") {
			t.Errorf("unexpected %q", line)
		}
	default:
	}
}

// TestNetnsRoutedRegistryAcrossSubnets: on two subnets joined by a router,
// mDNS finds nothing across the router, while the registry lists the node,
// and its address is reachable from the other subnet.
func TestNetnsRoutedRegistryAcrossSubnets(t *testing.T) {
	netnstest.Require(t)
	n := netnstest.Routed(t, 2, 2)
	a1, a2, b1, b2 := n.Host("a1"), n.Host("a2"), n.Host("b1"), n.Host("b2")
	reg := b2.Start(t, "registry", b2.TestHelper(helperTest, "registry", "NO_MDNS=1"))
	reg.WaitLine(t, 20*time.Second, "REGISTRY UP")
	node := a1.Start(t, "node n1", a1.TestHelper(helperTest, "node", "NODE_ID=n1", "REGISTRY=10.77.2.12:7700"))
	node.WaitLine(t, 20*time.Second, "announcing over mDNS")
	// The node registered ":7701"; the registry filled in the address it
	// saw the request come from, through the router.
	if line := reg.WaitLine(t, 20*time.Second, "node registered"); !strings.Contains(line, `"addr":"10.77.1.11:7701"`) {
		t.Errorf("registry logged %s, want addr 10.77.1.11:7701", line)
	}

	w := b1.Start(t, "watcher", b1.TestHelper(helperTest, "watch", "MDNS=1", "REGISTRIES=10.77.2.12:7700"))
	kind, id, source, addr, _ := eventLine(t, w.WaitLine(t, 20*time.Second, "EVENT"))
	if kind != "join" || id != "n1" || source != "registry" || addr != "10.77.1.11:7701" {
		t.Errorf("event %s %s %s %s, want join n1 registry 10.77.1.11:7701", kind, id, source, addr)
	}

	// mDNS: nothing across the router; on the node's own subnet it works.
	far := b1.Start(t, "browse", b1.TestHelper(helperTest, "browse", "SERVICE="+NodeService, "ROUNDS=3"))
	for range 3 {
		if line := far.WaitLine(t, 20*time.Second, "BROWSE"); line != "BROWSE 0 " {
			t.Errorf("browse across the router: %q, want nothing", line)
		}
	}
	near := a2.Start(t, "browse", a2.TestHelper(helperTest, "browse", "SERVICE="+NodeService, "ROUNDS=1"))
	if line := near.WaitLine(t, 20*time.Second, "BROWSE"); line != "BROWSE 1 n1@10.77.1.11:7701" {
		t.Errorf("browse on the node's subnet: %q, want n1", line)
	}

	dial := b1.Start(t, "dial", b1.TestHelper(helperTest, "dial", "DIAL="+addr))
	dial.WaitLine(t, 20*time.Second, "CONNECTED")
}

// TestNetnsNodeFindsRegistryByMDNS: a node given no registry finds the
// LAN's registry by mDNS and registers with it.
func TestNetnsNodeFindsRegistryByMDNS(t *testing.T) {
	netnstest.Require(t)
	lan := netnstest.LAN(t, 2)
	h1, h2 := lan.Host("h1"), lan.Host("h2")
	reg := h1.Start(t, "registry", h1.TestHelper(helperTest, "registry"))
	reg.WaitLine(t, 20*time.Second, "announcing over mDNS")
	h2.Start(t, "node n2", h2.TestHelper(helperTest, "node", "NODE_ID=n2", "FIND=1"))
	line := reg.WaitLine(t, 20*time.Second, "node registered")
	if !strings.Contains(line, `"id":"n2"`) || !strings.Contains(line, `"addr":"10.77.0.12:7701"`) {
		t.Errorf("registry logged %s, want n2 at 10.77.0.12:7701", line)
	}
}

// TestNetnsNoMulticast: on a host without multicast, Announce logs one
// warning and returns nil at once; Browse says ErrNoMulticast.
func TestNetnsNoMulticast(t *testing.T) {
	netnstest.Require(t)
	h := netnstest.Isolated(t)
	p := h.Start(t, "nomcast", h.TestHelper(helperTest, "nomcast"))
	warn := p.WaitLine(t, 20*time.Second, "mDNS disabled")
	if !strings.Contains(warn, `"level":"warn"`) {
		t.Errorf("not a warning: %s", warn)
	}
	line := p.WaitLine(t, 20*time.Second, "ANNOUNCE")
	var ms int
	if _, err := fmt.Sscanf(line, "ANNOUNCE returned <nil> after %d ms", &ms); err != nil || ms > 1000 {
		t.Errorf("%q: want Announce to return nil at once", line)
	}
	if line := p.WaitLine(t, 20*time.Second, "BROWSE"); !strings.HasPrefix(line, "BROWSE no-multicast=true") {
		t.Errorf("%q: want ErrNoMulticast", line)
	}
	if err := p.Wait(); err != nil {
		t.Errorf("helper: %v", err)
	}
	if n := strings.Count(p.Output(), "mDNS disabled"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, p.Output())
	}
}

// TestNetnsStateInTXTAndRegistry: a node's state is in its mDNS TXT records
// and its registry record, and a change reaches both while the node runs:
// browsers see the new TXT at their next query (the responders restart with
// it), the registry at once (not at the next refresh).
func TestNetnsStateInTXTAndRegistry(t *testing.T) {
	netnstest.Require(t)
	lan := netnstest.LAN(t, 3)
	h1, h2, h3 := lan.Host("h1"), lan.Host("h2"), lan.Host("h3")
	reg := h1.Start(t, "registry", h1.TestHelper(helperTest, "registry", "NO_MDNS=1"))
	reg.WaitLine(t, 20*time.Second, "REGISTRY UP")
	n := h2.Start(t, "node n2", h2.TestHelper(helperTest, "node", "NODE_ID=n2", "REGISTRY=10.77.0.11:7700",
		"STATES=paused-schedule,ready,paused-busy", "STATE_EVERY=1500ms"))
	n.WaitLine(t, 20*time.Second, "announcing over mDNS")

	// mDNS: browse until each state has been seen in the TXT records.
	b := h3.Start(t, "browser", h3.TestHelper(helperTest, "browse", "SERVICE="+NodeService, "ROUNDS=60", "SHOW_STATE=1"))
	seen := map[string]bool{}
	for len(seen) < 3 {
		line := b.WaitLine(t, 30*time.Second, "BROWSE")
		for _, st := range []string{"paused-schedule", "ready", "paused-busy"} {
			if strings.Contains(line, "n2@10.77.0.12:7701~"+st) && !seen[st] {
				seen[st] = true
				t.Logf("TXT state=%s seen: %s", st, line)
			}
		}
	}
	// The registry logs the first registration and every change of state.
	line := reg.WaitLine(t, 20*time.Second, "node registered")
	if !strings.Contains(line, `"state":"paused-schedule"`) {
		t.Errorf("registry logged %s, want n2 registered paused-schedule", line)
	}
	for _, st := range []string{"ready", "paused-busy", "paused-schedule"} {
		line := reg.WaitLine(t, 20*time.Second, "node state changed")
		if !strings.Contains(line, `"state":"`+st+`"`) {
			t.Errorf("registry logged %s, want n2 now %s", line, st)
		}
	}
}
