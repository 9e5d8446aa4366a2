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
	"strconv"
	"strings"
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

	instance string // random, per Registry: versions of another registry (or an earlier run) are not ours

	mu         sync.Mutex
	nodes      map[string]*entry
	gen        uint64    // counts changes of the list (see entry.gen)
	gone       []tomb    // records removed, oldest first: what a ?since= answer says is gone
	goneFloor  uint64    // a ?since= older than this generation gets the whole list (tombstones pruned)
	nextExpiry time.Time // no record expires before this: sweeping before it finds nothing
	lastFull   time.Time // when the last "registry full" warning was logged
}

// entry is a stored record and the generation of its last change. A change
// is anything but LastSeen and Seq: a heartbeat that only refreshes a
// record changes nothing a watcher needs, so it does not make the list's
// version move.
type entry struct {
	rec Record
	gen uint64
}

// tomb is a record removed (deleted or expired) at generation gen.
type tomb struct {
	id  string
	gen uint64
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
		cfg:      cfg,
		instance: NewID()[:8],
		nodes:    make(map[string]*entry),
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
	l := r.list("")
	return l.nodes
}

// listing is a snapshot of the list: the records changed since a version
// (every live record when full), the ids removed since, and the version now.
type listing struct {
	version string
	full    bool
	nodes   []Record // sorted by id
	gone    []string // sorted; never an id of nodes
}

// version is the list's version string at generation gen: the registry's
// instance and the generation, so that a version from another registry,
// or from an earlier run of this one, is never taken for one of ours.
func (r *Registry) version(gen uint64) string { return r.instance + "-" + strconv.FormatUint(gen, 10) }

// Version returns the list's version now: it changes when a record is
// added, removed, expires or changes, and only then (not when a heartbeat
// only refreshes a record).
func (r *Registry) Version() string {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maybeSweepLocked(now)
	return r.version(r.gen)
}

// parseVersion returns the generation of a version of this registry, and
// whether it is one (a version of another instance is well-formed but not
// ours). A malformed version is an error.
func (r *Registry) parseVersion(v string) (gen uint64, ours bool, err error) {
	inst, g, ok := strings.Cut(v, "-")
	if ok {
		gen, err = strconv.ParseUint(g, 10, 64)
	}
	if !ok || err != nil || inst == "" || len(inst) > 32 {
		return 0, false, fmt.Errorf("since %q is not a version from an earlier answer (INSTANCE-GENERATION)", v)
	}
	return gen, inst == r.instance, nil
}

// list answers a listing: with since empty (or a version this registry
// cannot answer from: another instance's, one older than its pruned
// tombstones, or one from the future) every live record; else only what
// changed since that version.
func (r *Registry) list(since string) listing {
	now := r.cfg.Now()
	var from uint64
	full := true
	r.mu.Lock()
	r.maybeSweepLocked(now)
	if since != "" {
		if gen, ours, err := r.parseVersion(since); err == nil && ours && gen >= r.goneFloor && gen <= r.gen {
			from, full = gen, false
		}
	}
	l := listing{version: r.version(r.gen), full: full}
	for _, e := range r.nodes {
		if e.gen > from || full {
			l.nodes = append(l.nodes, e.rec)
		}
	}
	if !full {
		// Tombstones are in generation order: those after from, from the end.
		for i := len(r.gone) - 1; i >= 0 && r.gone[i].gen > from; i-- {
			if _, back := r.nodes[r.gone[i].id]; !back {
				l.gone = append(l.gone, r.gone[i].id)
			}
		}
	}
	r.mu.Unlock()
	if l.nodes == nil {
		l.nodes = []Record{}
	}
	slices.SortFunc(l.nodes, func(a, b Record) int { return cmp.Compare(a.ID, b.ID) })
	slices.Sort(l.gone)
	l.gone = slices.Compact(l.gone)
	return l
}

func (r *Registry) liveLocked(rec Record, now time.Time) bool {
	return now.Sub(rec.LastSeen) <= r.cfg.TTL
}

// maybeSweepLocked deletes expired records. It scans the records only once
// one may have expired (nextExpiry is a lower bound of every record's
// expiry), so that the records held are exactly the live ones at every
// request, and a flood of requests does not make each cost O(records):
// nodes that heartbeat every TTL/3 are swept about once per 2/3 TTL.
func (r *Registry) maybeSweepLocked(now time.Time) {
	if len(r.nodes) == 0 || !now.After(r.nextExpiry) {
		return
	}
	next := time.Time{}
	for id, e := range r.nodes {
		if !r.liveLocked(e.rec, now) {
			r.removeLocked(id)
			r.cfg.Logger.Info().Str("id", id).Str("name", e.rec.Name).Str("addr", e.rec.Addr).Msg("node expired")
			continue
		}
		if exp := e.rec.LastSeen.Add(r.cfg.TTL); next.IsZero() || exp.Before(next) {
			next = exp
		}
	}
	r.nextExpiry = next
}

// removeLocked deletes id and leaves a tombstone.
func (r *Registry) removeLocked(id string) {
	delete(r.nodes, id)
	r.gen++
	r.gone = append(r.gone, tomb{id: id, gen: r.gen})
	// Tombstones are bounded: past the limit the older half goes, and a
	// ?since= from before them gets the whole list instead.
	if limit := max(r.cfg.MaxNodes, 1024); len(r.gone) > 2*limit {
		cut := len(r.gone) - limit
		r.goneFloor = r.gone[cut-1].gen
		r.gone = slices.Delete(r.gone, 0, cut)
	}
}

// ErrStaleWrite is the store's answer to a write older than the record it
// holds (HTTP 409).
var ErrStaleWrite = errors.New("stale write")

// staleLocked reports why a write of id by the node process started at
// started, in its write number seq, is older than the live record held
// ("" when it is not). A write without a start time, or a held record
// without one (nodes of earlier versions), is never refused, nor is any
// write once the held record has expired.
func (r *Registry) staleLocked(id string, started time.Time, seq uint64, now time.Time) string {
	e := r.nodes[id]
	if e == nil || started.IsZero() || e.rec.Started.IsZero() || !r.liveLocked(e.rec, now) {
		return ""
	}
	held := e.rec
	switch {
	case started.Before(held.Started):
		return fmt.Sprintf("node %q is registered by a process started at %s; this write comes from one started earlier, at %s (a restarted node's predecessor, or a second node with the same id)",
			id, held.Started.UTC().Format(time.RFC3339Nano), started.UTC().Format(time.RFC3339Nano))
	case started.Equal(held.Started) && seq != 0 && seq < held.Seq:
		return fmt.Sprintf("node %q's write %d arrived after its write %d", id, seq, held.Seq)
	}
	return ""
}

// errFull is the store's answer to a new id past MaxNodes.
var errFull = errors.New("registry full")

// put stores rec (already validated); fresh is true for a node that was
// not live, and prev is the state it had when it was. A write older than
// the live record held is refused with an error wrapping ErrStaleWrite
// that says why; a new id past MaxNodes with errFull.
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
	if why := r.staleLocked(rec.ID, rec.Started, rec.Seq, now); why != "" {
		return Record{}, false, "", fmt.Errorf("%w: %s", ErrStaleWrite, why)
	}
	if !known {
		old = &entry{}
		r.nodes[rec.ID] = old
	} else {
		prev = old.rec.State
	}
	if !known || !sameListing(old.rec, rec) {
		r.gen++
		old.gen = r.gen
	}
	old.rec = rec
	if exp := rec.LastSeen.Add(r.cfg.TTL); r.nextExpiry.IsZero() || exp.Before(r.nextExpiry) || len(r.nodes) == 1 {
		r.nextExpiry = exp
	}
	return rec, !known, prev, nil
}

// sameListing reports whether a and b list the same but for the fields a
// heartbeat refreshes (LastSeen, Seq).
func sameListing(a, b Record) bool {
	if !a.Started.Equal(b.Started) {
		return false
	}
	a.LastSeen, b.LastSeen, a.Seq, b.Seq, a.Started, b.Started = time.Time{}, time.Time{}, 0, 0, time.Time{}, time.Time{}
	return a == b
}

// get returns the live record of id.
func (r *Registry) get(id string) (Record, bool) {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maybeSweepLocked(now)
	e, ok := r.nodes[id]
	if !ok {
		return Record{}, false
	}
	return e.rec, true
}

// remove deletes id, unless the deletion (from the node process started at
// started, its write number seq; zero: unknown) is older than the record
// held (an error wrapping ErrStaleWrite). It reports whether a live record
// was there.
func (r *Registry) remove(id string, started time.Time, seq uint64) (Record, bool, error) {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maybeSweepLocked(now)
	e, ok := r.nodes[id]
	if !ok {
		return Record{}, false, nil
	}
	if why := r.staleLocked(id, started, seq, now); why != "" {
		return Record{}, false, fmt.Errorf("%w: %s", ErrStaleWrite, why)
	}
	r.removeLocked(id)
	return e.rec, true, nil
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
