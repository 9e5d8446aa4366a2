package discovery

import (
	"context"
	"sync"
	"testing"
	"time"
)

// switchableBrowse answers RegistryService browses with whatever the test
// set last.
type switchableBrowse struct {
	mu      sync.Mutex
	entries []Entry
	calls   int
}

func (s *switchableBrowse) set(e ...Entry) {
	s.mu.Lock()
	s.entries = e
	s.mu.Unlock()
}

func (s *switchableBrowse) Browse(ctx context.Context, service string, timeout time.Duration) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if service != RegistryService {
		return nil, nil
	}
	return s.entries, nil
}

func TestFindRegistriesRegistersWithEachFound(t *testing.T) {
	var ma, mb methodCounter
	ra, addrA := serveRegistry(t, RegistryConfig{Token: "room"}, ma.wrap)
	rb, addrB := serveRegistry(t, RegistryConfig{Token: "room"}, mb.wrap)
	var b switchableBrowse
	b.set(Entry{Instance: "reg-a", Addr: addrA}, Entry{Instance: "reg-b", Addr: addrB})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- FindRegistries(ctx, FinderConfig{
			Record:   Record{ID: "n1", Addr: ":7701", Cores: 2},
			Token:    "room",
			Interval: 5 * time.Millisecond,
			Forget:   100 * time.Millisecond,
			Browse:   b.Browse,
		})
	}()
	waitFor(t, 5*time.Second, "the node in both registries", func() bool { return len(ra.Nodes()) == 1 && len(rb.Nodes()) == 1 })

	// Registry b disappears from mDNS: after Forget its heartbeat stops and
	// deregisters; a stays.
	b.set(Entry{Instance: "reg-a", Addr: addrA})
	waitFor(t, 5*time.Second, "the deregistration from the vanished registry", func() bool { return mb.count("DELETE") == 1 })
	if len(rb.Nodes()) != 0 || len(ra.Nodes()) != 1 {
		t.Errorf("records: a %d, b %d; want 1, 0", len(ra.Nodes()), len(rb.Nodes()))
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("FindRegistries: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("FindRegistries did not return after cancel")
	}
	if len(ra.Nodes()) != 0 || ma.count("DELETE") != 1 {
		t.Errorf("registry a after stop: %d records, %d DELETEs; want 0, 1", len(ra.Nodes()), ma.count("DELETE"))
	}
	if mb.count("PUT") == 0 || ma.count("PUT") == 0 {
		t.Errorf("PUTs: a %d, b %d", ma.count("PUT"), mb.count("PUT"))
	}
}
