package discovery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"tessera/protocol"
)

// Registry defaults and limits.
const (
	DefaultTTL      = 15 * time.Second
	DefaultMaxNodes = 10000
	// MaxBodyBytes is the largest request body the registry reads (413 beyond).
	MaxBodyBytes = 64 << 10

	// HTTP server timeouts: a slow or idle client cannot hold a connection
	// (and its goroutine) for long.
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second // longer than a heartbeat period: keep-alive pays off
	maxHeaderBytes    = 16 << 10
)

// ErrServerClosed is returned by Registry.Serve after Shutdown.
var ErrServerClosed = http.ErrServerClosed

// RegistryConfig configures a Registry. The zero value is valid: a registry
// without a token, TTL 15 s, 10,000 records at most, the system clock and no
// logs.
type RegistryConfig struct {
	// TTL is how long a record stays listed after its last PUT. Default 15 s.
	TTL time.Duration
	// Token, when set, requires every PUT and DELETE to be signed with it,
	// and makes the registry sign its answers to signed requests.
	Token string
	// MaxNodes bounds the number of records. A PUT of a new id past it gets
	// 503; refreshes of known ids still succeed. Default 10,000.
	MaxNodes int
	// Now is the clock (tests inject one). Default time.Now.
	Now func() time.Time
	// Logger receives registrations, expiries and refusals. The zero value
	// discards.
	Logger zerolog.Logger
}

// Registry is the directory of live nodes: the HTTP/JSON API v1 described in
// the package documentation. It is an http.Handler; Serve runs it on a
// listener with timeouts. Safe for concurrent use.
type Registry struct {
	cfg RegistryConfig
	srv *http.Server
	key *macKey // of cfg.Token; nil without a token

	mu        sync.Mutex
	nodes     map[string]Record
	lastSweep time.Time
	lastFull  time.Time // when the last "registry full" warning was logged
}

// NewRegistry returns a registry configured by cfg (copied; defaults are
// filled on the copy).
func NewRegistry(cfg RegistryConfig) (*Registry, error) {
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("discovery: registry TTL %v is negative", cfg.TTL)
	}
	if cfg.MaxNodes < 0 {
		return nil, fmt.Errorf("discovery: registry MaxNodes %d is negative", cfg.MaxNodes)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.MaxNodes == 0 {
		cfg.MaxNodes = DefaultMaxNodes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Registry{
		cfg:   cfg,
		nodes: make(map[string]Record),
	}
	if cfg.Token != "" {
		r.key = newMACKey(cfg.Token)
	}
	r.srv = &http.Server{
		Handler:           r,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(zerologWriter{cfg.Logger}, "", 0),
	}
	return r, nil
}

// TTL returns the registry's record lifetime.
func (r *Registry) TTL() time.Duration { return r.cfg.TTL }

// Serve accepts HTTP connections on l until Shutdown; it returns
// ErrServerClosed then, or the listener's error.
func (r *Registry) Serve(l net.Listener) error {
	return r.srv.Serve(l)
}

// Shutdown stops the listeners, waits for requests in progress to finish
// or for ctx to end, and closes idle connections.
func (r *Registry) Shutdown(ctx context.Context) error {
	if err := r.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("discovery: registry shutdown: %w", err)
	}
	return nil
}

// Nodes returns the live records, sorted by id.
func (r *Registry) Nodes() []Record {
	now := r.cfg.Now()
	r.mu.Lock()
	r.maybeSweepLocked(now)
	out := make([]Record, 0, len(r.nodes))
	for _, rec := range r.nodes {
		if r.liveLocked(rec, now) {
			out = append(out, rec)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Record) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (r *Registry) liveLocked(rec Record, now time.Time) bool {
	return now.Sub(rec.LastSeen) <= r.cfg.TTL
}

// sweepInterval is how often expired records are deleted from the map.
func (r *Registry) sweepInterval() time.Duration {
	return min(max(r.cfg.TTL/4, 10*time.Millisecond), time.Second)
}

// maybeSweepLocked deletes expired records, at most once per sweepInterval
// so that a flood of requests cannot make every one of them cost O(records).
func (r *Registry) maybeSweepLocked(now time.Time) {
	if now.Sub(r.lastSweep) < r.sweepInterval() {
		return
	}
	r.lastSweep = now
	for id, rec := range r.nodes {
		if !r.liveLocked(rec, now) {
			delete(r.nodes, id)
			r.cfg.Logger.Info().Str("id", id).Str("name", rec.Name).Str("addr", rec.Addr).Msg("node expired")
		}
	}
}

// errFull is the store's answer to a new id past MaxNodes.
var errFull = errors.New("registry full")

// put stores rec (already validated) and returns the stored copy.
// put stores rec; fresh is true for a node that was not live, and prev is
// the state it had when it was.
func (r *Registry) put(rec Record) (stored Record, fresh bool, prev protocol.NodeState, err error) {
	now := r.cfg.Now()
	rec.LastSeen = now.UTC()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maybeSweepLocked(now)
	old, known := r.nodes[rec.ID]
	if !known && len(r.nodes) >= r.cfg.MaxNodes {
		if now.Sub(r.lastFull) > 10*time.Second {
			r.lastFull = now
			r.cfg.Logger.Warn().Int("maxNodes", r.cfg.MaxNodes).Str("id", rec.ID).Msg("registry full: refusing new nodes")
		}
		return Record{}, false, "", errFull
	}
	r.nodes[rec.ID] = rec
	fresh = !known || !r.liveLocked(old, now)
	return rec, fresh, old.State, nil
}

// get returns the live record of id.
func (r *Registry) get(id string) (Record, bool) {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.nodes[id]
	if !ok || !r.liveLocked(rec, now) {
		return Record{}, false
	}
	return rec, true
}

// remove deletes id; it reports whether a live record was there.
func (r *Registry) remove(id string) (Record, bool) {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.nodes[id]
	if !ok {
		return Record{}, false
	}
	delete(r.nodes, id)
	return rec, r.liveLocked(rec, now)
}

// zerologWriter adapts a zerolog.Logger to the io.Writer of a log.Logger
// (net/http's and mdns's error logs), at debug level.
type zerologWriter struct{ l zerolog.Logger }

func (w zerologWriter) Write(p []byte) (int, error) {
	n := len(p)
	if n > 0 && p[n-1] == '\n' {
		p = p[:n-1]
	}
	w.l.Debug().Msg(string(p))
	return n, nil
}
