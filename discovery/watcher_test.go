package discovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// sourceCall is one call of a fake source, waiting for its answer.
type sourceCall struct {
	registry string // "" for the mDNS browse
	reply    chan sourceAnswer
}

type sourceAnswer struct {
	entries []Entry
	records []Record
	err     error
}

// fakeSources gates every Browse and List call on the test, so that the
// test decides what each round of the watcher sees, round by round.
type fakeSources struct {
	calls   chan sourceCall
	pending []sourceCall
}

func newFakeSources() *fakeSources { return &fakeSources{calls: make(chan sourceCall)} }

func (f *fakeSources) ask(ctx context.Context, registry string) (sourceAnswer, error) {
	c := sourceCall{registry: registry, reply: make(chan sourceAnswer, 1)}
	select {
	case f.calls <- c:
	case <-ctx.Done():
		return sourceAnswer{}, ctx.Err()
	}
	select {
	case a := <-c.reply:
		return a, a.err
	case <-ctx.Done():
		return sourceAnswer{}, ctx.Err()
	}
}

func (f *fakeSources) Browse(ctx context.Context, service string, timeout time.Duration) ([]Entry, error) {
	if service != NodeService {
		return nil, fmt.Errorf("browse of %q, want %q", service, NodeService)
	}
	a, err := f.ask(ctx, "")
	return a.entries, err
}

func (f *fakeSources) List(ctx context.Context, registry string) ([]Record, error) {
	a, err := f.ask(ctx, registry)
	return a.records, err
}

// round is what the sources answer in one round of the watcher.
type round struct {
	mdns    []Entry
	mdnsErr error
	regs    map[string][]Record
	regErrs map[string]error
}

// step answers the n calls of one round with r, then waits for the first
// call of the next round: by then the watcher has sent this round's events.
func (f *fakeSources) step(t *testing.T, n int, r round) {
	t.Helper()
	for i := range n {
		var c sourceCall
		if len(f.pending) > 0 {
			c, f.pending = f.pending[0], f.pending[1:]
		} else {
			c = f.next(t, fmt.Sprintf("call %d of %d of a round", i+1, n))
		}
		if c.registry == "" {
			c.reply <- sourceAnswer{entries: r.mdns, err: r.mdnsErr}
		} else {
			c.reply <- sourceAnswer{records: r.regs[c.registry], err: r.regErrs[c.registry]}
		}
	}
	f.pending = append(f.pending, f.next(t, "the next round"))
}

func (f *fakeSources) next(t *testing.T, what string) sourceCall {
	t.Helper()
	select {
	case c := <-f.calls:
		return c
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return sourceCall{}
	}
}

func nodeEntry(id string, ip string) Entry {
	return Entry{Instance: id, Addr: ip + ":7701", TXT: map[string]string{"id": id, "cores": "4", "name": "pc-" + id, "version": "v1", "proto": "1"}}
}

func record(id, ip string) Record {
	return Record{ID: id, Name: "pc-" + id, Addr: ip + ":7701", Cores: 8, Version: "v1"}
}

// startWatcher runs a watcher on fake sources; cleanup stops it and checks
// that Run returned nil and closed Events.
func startWatcher(t *testing.T, cfg WatcherConfig) (*Watcher, *fakeSources) {
	t.Helper()
	f := newFakeSources()
	cfg.Browse, cfg.List, cfg.Interval = f.Browse, f.List, time.Millisecond
	w, err := NewWatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
		for range w.Events() { // drains and checks that it is closed
		}
	})
	return w, f
}

// drain returns the events already sent, as "join n1 mdns" strings, sorted.
func drain(w *Watcher) []string {
	var out []string
	for {
		select {
		case e := <-w.Events():
			out = append(out, fmt.Sprintf("%s %s %s", e.Kind, e.Node.Key(), e.Node.Source))
		default:
			slices.Sort(out)
			return out
		}
	}
}

func view(w *Watcher) string {
	var s []string
	for _, n := range w.Nodes() {
		s = append(s, n.Key()+"/"+n.Source.String())
	}
	return strings.Join(s, " ")
}

func TestWatcherMergesAndDedupes(t *testing.T) {
	w, f := startWatcher(t, WatcherConfig{MDNS: true, Registries: []string{"regA", "regB"}, Static: []string{"10.0.0.9:7701", "10.0.0.9:7701"}})
	bad := record("n5", "10.0.0.5")
	bad.Cores = 0
	f.step(t, 3, round{
		mdns: []Entry{nodeEntry("n1", "10.0.0.1"), nodeEntry("n2", "10.0.0.2"), {Instance: "junk", Addr: "10.0.0.7:1", TXT: map[string]string{"cores": "x"}}},
		regs: map[string][]Record{
			"regA": {record("n2", "10.0.0.2"), record("n3", "10.0.0.3")},
			"regB": {record("n3", "10.0.0.3"), record("n4", "10.0.0.4"), bad},
		},
	})
	want := []string{"join addr:10.0.0.9:7701 flag", "join n1 mdns", "join n2 mdns", "join n3 registry", "join n4 registry"}
	if got := drain(w); !slices.Equal(got, want) {
		t.Errorf("events:\n got %q\nwant %q", got, want)
	}
	if got, want := view(w), "addr:10.0.0.9:7701/flag n1/mdns n2/mdns n3/registry n4/registry"; got != want {
		t.Errorf("view = %q, want %q", got, want)
	}
	n := w.Nodes()[1]
	if n != (Node{ID: "n1", Name: "pc-n1", Addr: "10.0.0.1:7701", Cores: 4, Version: "v1", Source: SourceMDNS}) {
		t.Errorf("n1 = %+v", n)
	}
	// The same round again changes nothing.
	f.step(t, 3, round{
		mdns: []Entry{nodeEntry("n1", "10.0.0.1"), nodeEntry("n2", "10.0.0.2")},
		regs: map[string][]Record{"regA": {record("n2", "10.0.0.2"), record("n3", "10.0.0.3")}, "regB": {record("n4", "10.0.0.4")}},
	})
	if got := drain(w); len(got) != 0 {
		t.Errorf("a repeated round gave events %q", got)
	}
}

func TestWatcherKeepsTheFirstSource(t *testing.T) {
	w, f := startWatcher(t, WatcherConfig{MDNS: true, Registries: []string{"reg"}})
	f.step(t, 2, round{regs: map[string][]Record{"reg": {record("n1", "10.0.0.1")}}})
	f.step(t, 2, round{mdns: []Entry{nodeEntry("n1", "10.0.0.1")}, regs: map[string][]Record{"reg": {record("n1", "10.0.0.1")}}})
	f.step(t, 2, round{mdns: []Entry{nodeEntry("n1", "10.0.0.1")}})
	if got := drain(w); !slices.Equal(got, []string{"join n1 registry"}) {
		t.Errorf("events %q, want one join from the registry", got)
	}
	if got := view(w); got != "n1/registry" {
		t.Errorf("view = %q, want n1 still tagged registry", got)
	}
}

func TestWatcherLeavesOnlyWhenGoneEverywhere(t *testing.T) {
	const missed = 3
	both := round{
		mdns: []Entry{nodeEntry("both", "10.0.0.1"), nodeEntry("mdns", "10.0.0.2")},
		regs: map[string][]Record{"reg": {record("both", "10.0.0.1"), record("reg", "10.0.0.3")}},
	}
	tests := []struct {
		name   string
		rounds []round // after a first round `both`
		want   []string
	}{
		{
			name:   "mDNS node stays for fewer than MissedRounds misses",
			rounds: []round{{regs: both.regs}, {regs: both.regs}},
			want:   nil,
		},
		{
			name:   "mDNS node leaves after MissedRounds misses",
			rounds: []round{{regs: both.regs}, {regs: both.regs}, {regs: both.regs}},
			want:   []string{"leave mdns mdns"},
		},
		{
			name:   "a failing browse counts as a miss",
			rounds: []round{{regs: both.regs, mdnsErr: ErrNoMulticast}, {regs: both.regs, mdnsErr: ErrNoMulticast}, {regs: both.regs, mdnsErr: ErrNoMulticast}},
			want:   []string{"leave mdns mdns"},
		},
		{
			name:   "a node still listed by the registry stays",
			rounds: []round{{regs: both.regs}, {regs: both.regs}, {regs: both.regs}, {regs: both.regs}, {regs: both.regs}},
			want:   []string{"leave mdns mdns"},
		},
		{
			name:   "a node still in mDNS stays",
			rounds: []round{{mdns: both.mdns}, {mdns: both.mdns}, {mdns: both.mdns}},
			want:   []string{"leave reg registry"},
		},
		{
			name:   "unlisted by the registry and missing from mDNS",
			rounds: []round{{}, {}, {}},
			want:   []string{"leave both mdns", "leave mdns mdns", "leave reg registry"},
		},
		{
			name:   "a failing registry keeps its nodes for a while",
			rounds: []round{{mdns: both.mdns, regErrs: map[string]error{"reg": errors.New("down")}}, {mdns: both.mdns, regErrs: map[string]error{"reg": errors.New("down")}}},
			want:   nil,
		},
		{
			name: "a registry failing MissedRounds rounds loses its nodes",
			rounds: []round{
				{mdns: both.mdns, regErrs: map[string]error{"reg": errors.New("down")}},
				{mdns: both.mdns, regErrs: map[string]error{"reg": errors.New("down")}},
				{mdns: both.mdns, regErrs: map[string]error{"reg": errors.New("down")}},
			},
			want: []string{"leave reg registry"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, f := startWatcher(t, WatcherConfig{MDNS: true, Registries: []string{"reg"}, Static: []string{"10.0.0.9:7701"}, MissedRounds: missed})
			f.step(t, 2, both)
			if got := len(drain(w)); got != 4 {
				t.Fatalf("%d joins, want 4", got)
			}
			for _, r := range tt.rounds {
				f.step(t, 2, r)
			}
			if got := drain(w); !slices.Equal(got, tt.want) {
				t.Errorf("events %q, want %q", got, tt.want)
			}
			if !strings.Contains(view(w), "addr:10.0.0.9:7701/flag") {
				t.Errorf("the static node left: %q", view(w))
			}
		})
	}
}

func TestWatcherConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  WatcherConfig
		want string
	}{
		{name: "static without port", cfg: WatcherConfig{Static: []string{"10.0.0.1"}}, want: "not host:port"},
		{name: "static bad port", cfg: WatcherConfig{Static: []string{"10.0.0.1:99999"}}, want: "99999"},
		{name: "empty registry", cfg: WatcherConfig{Registries: []string{""}}, want: "registry 1 is empty"},
		{name: "negative interval", cfg: WatcherConfig{Interval: -time.Second}, want: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWatcher(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewWatcher: %v, want an error saying %q", err, tt.want)
			}
		})
	}
	t.Run("Run twice", func(t *testing.T) {
		w, err := NewWatcher(WatcherConfig{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := w.Run(ctx); err != nil {
			t.Fatalf("first Run: %v", err)
		}
		if _, open := <-w.Events(); open {
			t.Error("Events still open after Run returned")
		}
		if err := w.Run(ctx); err == nil {
			t.Error("second Run did not fail")
		}
	})
}

// TestWatcherWithRealRegistry runs the default registry source against a
// registry on loopback (no mDNS).
func TestWatcherWithRealRegistry(t *testing.T) {
	r, addr := serveRegistry(t, RegistryConfig{Token: "room"}, nil)
	c := &RegistryClient{Addr: addr, Token: "room"}
	if _, err := c.Register(context.Background(), Record{ID: "n1", Name: "pc", Addr: ":7701", Cores: 2}); err != nil {
		t.Fatal(err)
	}
	w, err := NewWatcher(WatcherConfig{Registries: []string{addr}, Token: "room", Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	wantEvent := func(kind EventKind) Event {
		t.Helper()
		select {
		case e := <-w.Events():
			if e.Kind != kind {
				t.Fatalf("event %v %+v, want %v", e.Kind, e.Node, kind)
			}
			return e
		case <-time.After(5 * time.Second):
			t.Fatalf("no %v event within 5 s", kind)
			return Event{}
		}
	}
	if e := wantEvent(Join); e.Node != (Node{ID: "n1", Name: "pc", Addr: "127.0.0.1:7701", Cores: 2, Source: SourceRegistry}) {
		t.Errorf("joined %+v", e.Node)
	}
	if err := c.Deregister(context.Background(), "n1"); err != nil {
		t.Fatal(err)
	}
	wantEvent(Leave)
	_ = r
}
