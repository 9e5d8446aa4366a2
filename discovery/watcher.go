package discovery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// EventKind says whether a node joined or left the view.
type EventKind uint8

// Event kinds.
const (
	Join EventKind = iota + 1
	Leave
)

func (k EventKind) String() string {
	switch k {
	case Join:
		return "join"
	case Leave:
		return "leave"
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is a change of a Watcher's view.
type Event struct {
	Kind EventKind
	Node Node
}

// ListFunc lists the live records of one registry (injectable in tests).
// It may return the same slice as its last call when nothing changed (as a
// Lister does): the watcher then skips that registry's merge work.
type ListFunc func(ctx context.Context, registry string) ([]Record, error)

// WatcherConfig configures a Watcher. The zero value is a valid, empty
// configuration (no source: the view stays empty).
type WatcherConfig struct {
	// MDNS browses NodeService every Interval.
	MDNS bool
	// Registries are polled every Interval ("host:port" or a base URL),
	// each with a Lister: a registry answers 304 Not Modified when nothing
	// changed, and otherwise only the changes.
	Registries []string
	// Static addresses (host:port) are in the view from the start and never
	// leave. Their ids are empty (a handshake proves them): see Node.Key.
	Static []string
	// Interval between two rounds of browsing and listing. Default 1 s.
	Interval time.Duration
	// MissedRounds is how many rounds in a row a node may be missing from
	// mDNS, or a registry may fail to answer, before that source forgets
	// it. Default 3.
	MissedRounds int
	// Token signs the registry requests and requires signed answers.
	Token string
	// HTTP is the client for the registries; nil: a shared default.
	HTTP *http.Client
	// Logger: the zero value discards.
	Logger zerolog.Logger
	// Browse replaces the mDNS browse (tests). Nil means Browse.
	Browse BrowseFunc
	// List replaces the registry client (tests). Nil means a
	// RegistryClient's List.
	List ListFunc
}

// Watcher merges mDNS, registries and a static list into one live set of
// nodes, deduplicated by node id. A node keeps the Source that found it
// first and leaves only when it is gone from every source: from mDNS after
// MissedRounds browses without it, from a registry when it is no longer
// listed (or the registry failed MissedRounds rounds in a row); static
// nodes never leave.
type Watcher struct {
	cfg    WatcherConfig
	events chan Event
	static []Node

	mu   sync.Mutex
	view map[string]Node
	ran  bool
}

// NewWatcher checks cfg (copied; defaults filled on the copy) and returns
// a watcher; call Run to start it.
func NewWatcher(cfg WatcherConfig) (*Watcher, error) {
	if cfg.Interval < 0 || cfg.MissedRounds < 0 {
		return nil, fmt.Errorf("discovery: watcher: negative Interval %v or MissedRounds %d", cfg.Interval, cfg.MissedRounds)
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.MissedRounds == 0 {
		cfg.MissedRounds = 3
	}
	cfg.Registries = slices.Clone(cfg.Registries)
	for i, r := range cfg.Registries {
		if r == "" {
			return nil, fmt.Errorf("discovery: watcher: registry %d is empty", i+1)
		}
	}
	if cfg.Browse == nil {
		cfg.Browse = Browse
	}
	if cfg.List == nil {
		// One Lister per registry: each round asks only for what changed.
		listers := make(map[string]*Lister, len(cfg.Registries))
		for _, r := range cfg.Registries {
			listers[r] = &Lister{Client: &RegistryClient{Addr: r, Token: cfg.Token, HTTP: cfg.HTTP}}
		}
		cfg.List = func(ctx context.Context, registry string) ([]Record, error) {
			return listers[registry].List(ctx)
		}
	}
	w := &Watcher{cfg: cfg, events: make(chan Event, 64), view: make(map[string]Node)}
	seen := make(map[string]bool)
	for _, a := range cfg.Static {
		if err := CheckAddr(a); err != nil {
			return nil, fmt.Errorf("discovery: watcher: static node: %w", err)
		}
		if seen[a] {
			continue
		}
		seen[a] = true
		w.static = append(w.static, Node{Name: a, Addr: a, Source: SourceFlag})
	}
	return w, nil
}

// Events delivers joins and leaves. It is closed when Run returns. The
// caller must keep reading it: the watcher waits for room to send.
func (w *Watcher) Events() <-chan Event { return w.events }

// Nodes returns the current view, sorted by Key.
func (w *Watcher) Nodes() []Node {
	w.mu.Lock()
	out := make([]Node, 0, len(w.view))
	for _, n := range w.view {
		out = append(out, n)
	}
	w.mu.Unlock()
	slices.SortFunc(out, func(a, b Node) int { return cmp.Compare(a.Key(), b.Key()) })
	return out
}

// sourceState is what one round of a source knows.
type mdnsSeen struct {
	node      Node
	lastRound int
}

type registryState struct {
	nodes   map[string]Node
	last    []Record // the list nodes was made from
	lastOK  int
	failing bool
}

// Run watches until ctx ends, then closes Events and returns nil. It runs
// one round at once and then one every Interval: each browses mDNS and
// lists every registry, in parallel. Run may be called once.
func (w *Watcher) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.ran {
		w.mu.Unlock()
		return errors.New("discovery: watcher: Run called twice")
	}
	w.ran = true
	w.mu.Unlock()
	defer close(w.events)

	mdns := make(map[string]mdnsSeen)
	regs := make([]registryState, len(w.cfg.Registries))
	var browseFailing bool
	// Rounds start every Interval (a slow round delays the next one).
	tick := time.NewTicker(w.cfg.Interval)
	defer tick.Stop()
	for round := 1; ; round++ {
		var (
			wg      sync.WaitGroup
			entries []Entry
			berr    error
			lists   = make([][]Record, len(regs))
			lerrs   = make([]error, len(regs))
		)
		if w.cfg.MDNS {
			wg.Go(func() {
				entries, berr = w.cfg.Browse(ctx, NodeService, min(DefaultBrowseTimeout, w.cfg.Interval*6/10))
			})
		}
		for i, r := range w.cfg.Registries {
			wg.Go(func() {
				lctx, cancel := context.WithTimeout(ctx, max(w.cfg.Interval, 2*time.Second))
				defer cancel()
				lists[i], lerrs[i] = w.cfg.List(lctx, r)
			})
		}
		wg.Wait()
		if ctx.Err() != nil {
			return nil
		}

		if w.cfg.MDNS {
			switch {
			case berr != nil && !browseFailing:
				w.cfg.Logger.Warn().Err(berr).Msg("mDNS browse failed; nodes come from the other sources")
				browseFailing = true
			case berr == nil && browseFailing:
				w.cfg.Logger.Info().Msg("mDNS browse works again")
				browseFailing = false
			}
			for _, e := range entries {
				n, err := e.Node()
				if err != nil {
					w.cfg.Logger.Debug().Err(err).Msg("ignoring an mDNS answer")
					continue
				}
				mdns[n.ID] = mdnsSeen{node: n, lastRound: round}
			}
			for id, s := range mdns {
				if round-s.lastRound >= w.cfg.MissedRounds {
					delete(mdns, id)
				}
			}
		}
		changed := w.cfg.MDNS || round == 1
		for i := range regs {
			changed = w.updateRegistry(&regs[i], w.cfg.Registries[i], round, lists[i], lerrs[i]) || changed
		}
		if changed && !w.merge(ctx, mdns, regs) {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil
		}
	}
}

// updateRegistry applies one round's listing of a registry; it reports
// whether that may have changed the registry's nodes.
func (w *Watcher) updateRegistry(s *registryState, addr string, round int, recs []Record, err error) bool {
	log := w.cfg.Logger.With().Str("registry", addr).Logger()
	if err != nil {
		if !s.failing {
			log.Warn().Err(err).Msg("cannot list the registry")
			s.failing = true
		}
		if round-s.lastOK >= w.cfg.MissedRounds && s.nodes != nil {
			log.Warn().Int("rounds", w.cfg.MissedRounds).Msg("registry unreachable for too long; forgetting its nodes")
			s.nodes, s.last = nil, nil
			return true
		}
		return false
	}
	if s.failing {
		log.Info().Msg("registry answers again")
		s.failing = false
	}
	s.lastOK = round
	if s.nodes != nil && len(recs) == len(s.last) && (len(recs) == 0 || &recs[0] == &s.last[0]) {
		return false // the very list of the last round: nothing changed
	}
	s.last = recs
	s.nodes = make(map[string]Node, len(recs))
	for _, r := range recs {
		if err := r.Check(); err != nil {
			log.Debug().Err(err).Msg("ignoring an invalid record")
			continue
		}
		s.nodes[r.ID] = Node{ID: r.ID, Name: r.Name, Addr: r.Addr, Cores: r.Cores, Version: r.Version, Source: SourceRegistry}
	}
	return true
}

// merge computes the present set and emits joins and leaves. It reports
// false if ctx ended while sending.
func (w *Watcher) merge(ctx context.Context, mdns map[string]mdnsSeen, regs []registryState) bool {
	// Present nodes, each from the first source in priority order: static,
	// mDNS, then the registries in the order given.
	present := make(map[string]Node)
	add := func(n Node) {
		if _, ok := present[n.Key()]; !ok {
			present[n.Key()] = n
		}
	}
	for _, n := range w.static {
		add(n)
	}
	for _, s := range mdns {
		add(s.node)
	}
	for _, r := range regs {
		for _, n := range r.nodes {
			add(n)
		}
	}

	var evs []Event
	w.mu.Lock()
	for id, n := range present {
		if _, ok := w.view[id]; !ok {
			w.view[id] = n
			evs = append(evs, Event{Kind: Join, Node: n})
		}
	}
	for id, n := range w.view {
		if _, ok := present[id]; !ok {
			delete(w.view, id)
			evs = append(evs, Event{Kind: Leave, Node: n})
		}
	}
	w.mu.Unlock()
	slices.SortFunc(evs, func(a, b Event) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Node.Key(), b.Node.Key()))
	})
	for _, e := range evs {
		w.cfg.Logger.Info().Str("event", e.Kind.String()).Str("id", e.Node.Key()).Str("name", e.Node.Name).
			Str("addr", e.Node.Addr).Stringer("source", e.Node.Source).Msg("node view changed")
		select {
		case w.events <- e:
		case <-ctx.Done():
			return false
		}
	}
	return true
}
