package node

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"tessera/discovery"
	"tessera/node/guest"
	"tessera/protocol"
	"tessera/render"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrServerClosed is returned by Node.Serve after Shutdown or Close.
	ErrServerClosed = errors.New("node: server closed")
	// ErrBadConfig wraps every error New returns for an invalid Config.
	ErrBadConfig = errors.New("node: bad config")
)

// renderer renders rectangles of one loaded scene; *render.Scene is one.
// It must be safe for concurrent use.
type renderer interface {
	RenderTile(ctx context.Context, set render.Settings, r image.Rectangle, dst []float32) (rays uint64, err error)
}

// framer is a renderer of a scene with frames: an animation's frame f is
// rendered by Frame(f). A renderer that is not one renders every frame as
// its still.
type framer interface {
	Frame(f int) (renderer, error)
}

// animated is a loaded scene, whose frames the node computes itself (the
// scene crosses the wire once for every frame of a range; render caches a
// few frames' scenes, so the workers rendering one frame share one).
type animated struct{ *render.Scene }

func (a animated) Frame(f int) (renderer, error) {
	s, err := a.Scene.Frame(f)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// loadScene builds a scene with the render package.
func loadScene(b *render.Bundle, lim render.Limits) (renderer, error) {
	s, err := render.LoadBundle(b, lim)
	if err != nil {
		return nil, err
	}
	return animated{s}, nil
}

// frameOf returns the renderer of frame f (nil: the still) of scene r.
func frameOf(r renderer, f *int) (renderer, error) {
	if f == nil {
		return r, nil
	}
	if fr, ok := r.(framer); ok {
		return fr.Frame(*f)
	}
	return r, nil
}

// Config configures a Node. The zero value is valid: every zero field
// takes the default written beside it.
type Config struct {
	ID       string // unique node id in hellos; default a random one
	Name     string // human name in hellos; default the ID
	Workers  int    // render goroutines; default runtime.GOMAXPROCS(0), which follows a container's or a systemd slice's CPU quota
	Token    string // the room's token; empty: no authentication, frames unsealed
	Software string // software version in hellos

	MaxSceneBytes int64 // bytes of scene files the cache keeps; default 512 MiB
	MaxConns      int   // open connections, handshaking ones included; default 64
	MaxInFlight   int   // jobs queued or running per connection; default 256
	MaxFrame      int   // largest frame accepted; default the protocol's (272 MiB: any scene the default Limits load)

	// Priority of the threads that render tiles and load scenes (see
	// guest.Go); the zero value leaves them as the process runs.
	Priority guest.Priority
	// PauseGrace is how long tiles in progress may run on when the node
	// pauses (SetState) before they are handed back; default 2 s.
	PauseGrace time.Duration

	HandshakeTimeout time.Duration // a peer that has not finished the handshake by then is closed; default 5 s
	IdleTimeout      time.Duration // a connection silent this long is closed (controllers ping every second); default 60 s

	// Limits bound what a scene may cost to load and what a job may ask
	// for (image side, samples, depth, tile pixels): a job over one is
	// refused with CodeLimit naming it. Zero fields take render's defaults,
	// which a controller checks before it starts.
	Limits render.Limits
	Logger zerolog.Logger // the zero Logger discards
}

// Node defaults.
const (
	DefaultMaxSceneBytes    = 512 << 20
	DefaultMaxConns         = 64
	DefaultMaxInFlight      = 256
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultIdleTimeout      = 60 * time.Second
)

// scenesPerConn bounds the scenes one connection holds on to (the cache may
// evict them; a connection keeps using those it sent).
const scenesPerConn = 4

// concurrentLoads bounds the scenes being loaded at once on a node.
const concurrentLoads = 2

func (cfg Config) withDefaults() Config {
	if cfg.ID == "" {
		cfg.ID = discovery.NewID()
	}
	if cfg.Name == "" {
		cfg.Name = cfg.ID
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.PauseGrace == 0 {
		cfg.PauseGrace = DefaultPauseGrace
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.MaxConns, DefaultMaxConns)
	def(&cfg.MaxInFlight, DefaultMaxInFlight)
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = protocol.DefaultMaxFrame
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	if cfg.MaxSceneBytes == 0 {
		cfg.MaxSceneBytes = DefaultMaxSceneBytes
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	return cfg
}

func (cfg Config) validate() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"Workers", int64(cfg.Workers)}, {"MaxConns", int64(cfg.MaxConns)},
		{"MaxInFlight", int64(cfg.MaxInFlight)}, {"MaxSceneBytes", cfg.MaxSceneBytes},
		{"MaxFrame", int64(cfg.MaxFrame)},
		{"Limits.MaxImageSide", int64(cfg.Limits.MaxImageSide)}, {"Limits.MaxSPP", int64(cfg.Limits.MaxSPP)},
		{"Limits.MaxDepth", int64(cfg.Limits.MaxDepth)}, {"Limits.MaxTilePixels", int64(cfg.Limits.MaxTilePixels)},
		{"HandshakeTimeout", int64(cfg.HandshakeTimeout)}, {"IdleTimeout", int64(cfg.IdleTimeout)},
		{"PauseGrace", int64(cfg.PauseGrace)},
	} {
		if f.v < 0 {
			return fmt.Errorf("%w: Config.%s is %d, want >= 0", ErrBadConfig, f.name, f.v)
		}
	}
	return nil
}

// lifeState is a Node's lifecycle.
type lifeState uint8

const (
	stateServing lifeState = iota
	stateShuttingDown
	stateClosed
)

// Node executes tile jobs for any number of controllers. Create it with
// New, serve listeners with Serve, stop it with Shutdown or Close.
type Node struct {
	cfg Config
	log zerolog.Logger

	// A seam for tests; set by New to loadScene.
	load func(*render.Bundle, render.Limits) (renderer, error)

	ctx    context.Context // cancelled by Close: every job and connection
	cancel context.CancelFunc
	loads  chan struct{} // semaphore of concurrentLoads

	mu        sync.Mutex
	work      *sync.Cond // signalled when a connection becomes ready or the workers must stop
	state     lifeState
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	nconns    int           // accepted and not yet closed, handshaking ones included
	ready     []*conn       // connections with queued jobs, in round-robin order
	running   int           // jobs being rendered
	idle      chan struct{} // closed when running drops to zero during shutdown
	noConns   chan struct{} // closed when nconns drops to zero during shutdown
	cache     sceneCache
	started   bool // workers started
	stopWork  bool // workers must return

	avail      protocol.NodeState // ready or paused (pause.go); changed by SetState only
	availWhy   string
	pauseGen   uint64      // counts changes of avail: a grace timer of an earlier pause is stale
	pauseTimer *time.Timer // the running pause's grace, if any
	jobsPaused uint64      // jobs answered "paused"

	priorityWarned sync.Once // a failure to lower a thread is logged once

	counters []workerCounters // one per worker: no shared counter on the hot path
	wg       sync.WaitGroup   // workers, connections, loads
}

// workerCounters are one worker's totals, padded to a cache line.
type workerCounters struct {
	jobs atomic.Uint64
	rays atomic.Uint64
	_    [48]byte
}

// warned makes a node without a token say once per process that its frames
// are not protected.
var warned sync.Once

// New checks cfg and returns a Node that serves nothing yet.
func New(cfg Config) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if need := int64(cfg.Limits.MaxTilePixels)*protocol.BytesPerPixel + 64; need > int64(cfg.MaxFrame) {
		return nil, fmt.Errorf("%w: Limits.MaxTilePixels=%d needs results of %d bytes, over MaxFrame=%d", ErrBadConfig, cfg.Limits.MaxTilePixels, need, cfg.MaxFrame)
	}
	n := &Node{
		cfg:       cfg,
		log:       cfg.Logger.With().Str("node", cfg.ID).Logger(),
		load:      loadScene,
		loads:     make(chan struct{}, concurrentLoads),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		cache:     newSceneCache(cfg.MaxSceneBytes),
		counters:  make([]workerCounters, cfg.Workers),
		avail:     protocol.StateReady,
	}
	if cfg.Token == "" {
		warned.Do(func() { n.log.Warn().Msg(protocol.NoTokenWarning) })
	}
	n.work = sync.NewCond(&n.mu)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	return n, nil
}

// ID returns the node's id, as its hellos carry it.
func (n *Node) ID() string { return n.cfg.ID }

func (n *Node) hello() protocol.Hello {
	return protocol.Hello{
		Version:  protocol.Version,
		Role:     protocol.RoleNode,
		ID:       n.cfg.ID,
		Name:     n.cfg.Name,
		Cores:    n.cfg.Workers,
		Software: n.cfg.Software,
	}
}

// Serve accepts connections on l until Shutdown or Close, when it returns
// ErrServerClosed; any other error of l.Accept that is not temporary ends it
// too. Serve may be called for several listeners at once. l is closed when
// Serve returns.
func (n *Node) Serve(l net.Listener) error {
	defer l.Close()
	n.mu.Lock()
	if n.state != stateServing {
		n.mu.Unlock()
		return ErrServerClosed
	}
	n.listeners[l] = struct{}{}
	n.startWorkersLocked()
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.listeners, l)
		n.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if n.stopped() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: wait and retry, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			n.log.Warn().Err(err).Dur("retryIn", backoff).Msg("accept failed")
			select {
			case <-time.After(backoff):
			case <-n.ctx.Done():
			}
			continue
		}
		backoff = 0
		n.mu.Lock()
		switch {
		case n.state != stateServing:
			n.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		case n.nconns >= n.cfg.MaxConns:
			n.mu.Unlock()
			n.refuse(nc)
			continue
		}
		n.nconns++
		n.wg.Add(1)
		n.mu.Unlock()
		go n.serveConn(nc)
	}
}

// refuse answers a connection over MaxConns with an Error frame naming the
// limit, and closes it. The frame is tiny and the socket fresh, so this does
// not block the accept loop; a deadline makes sure.
func (n *Node) refuse(nc net.Conn) {
	n.log.Warn().Str("remote", nc.RemoteAddr().String()).Int("MaxConns", n.cfg.MaxConns).Msg("connection refused: limit reached")
	c := protocol.NewConn(nc, protocol.Config{WriteTimeout: time.Second})
	_ = c.Send(protocol.Error{Code: protocol.CodeBusy, Message: fmt.Sprintf("node %s: connection limit MaxConns=%d reached", n.cfg.ID, n.cfg.MaxConns)})
	c.Close()
}

func (n *Node) stopped() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state != stateServing
}

// Shutdown stops the node gracefully: it stops accepting, tells every
// controller (Error "shutdown" with job 0: take no new jobs here), hands
// every queued job back at once (Error "shutdown" with the job id, so that
// the controller re-queues it elsewhere), lets the tiles being
// rendered finish until ctx is done and cancels the rest (handing them back
// the same way), then closes every connection. It returns ctx's error if the
// deadline cut tiles short.
func (n *Node) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	if n.state != stateServing {
		n.mu.Unlock()
		n.Close()
		return nil
	}
	n.state = stateShuttingDown
	n.closeListenersLocked()
	for c := range n.conns {
		if c.established {
			// First, so that a controller knows at once that jobs still
			// crossing the wire will not all be answered.
			c.out.Push(protocol.Error{Code: protocol.CodeShutdown, Message: fmt.Sprintf("node %s is shutting down", n.cfg.ID)})
		}
		n.handBackLocked(c, protocol.CodeShutdown, fmt.Sprintf("node %s is shutting down", n.cfg.ID))
		c.inReady = false
	}
	clear(n.ready)
	n.ready = n.ready[:0]
	var idle chan struct{}
	if n.running > 0 {
		n.idle = make(chan struct{})
		idle = n.idle
	}
	n.mu.Unlock()

	var err error
	if idle != nil {
		select {
		case <-idle:
		case <-ctx.Done():
			err = ctx.Err()
			n.mu.Lock()
			for c := range n.conns {
				for _, j := range c.jobs {
					if j.state == jobRunning {
						j.stop(stopShutdown)
					}
				}
			}
			n.mu.Unlock()
			<-idle // cancelled tiles end at their next check of ctx
		}
	}
	// Every writer sends its hand-backs, then closes its connection; wait for
	// that (bounded by ctx), then close what is left.
	n.mu.Lock()
	var gone chan struct{}
	if n.nconns > 0 {
		n.noConns = make(chan struct{})
		gone = n.noConns
	}
	for c := range n.conns {
		if c.established {
			c.out.Close()
		} else {
			c.cancel()
		}
	}
	n.mu.Unlock()
	if gone != nil {
		select {
		case <-gone:
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
		}
	}
	n.Close()
	return err
}

// Close stops the node at once: listeners and connections closed, jobs
// cancelled. It waits for every goroutine of the node and may be called any
// number of times.
func (n *Node) Close() error {
	n.mu.Lock()
	n.state = stateClosed
	n.closeListenersLocked()
	if n.pauseTimer != nil {
		n.pauseTimer.Stop()
		n.pauseTimer = nil
	}
	n.stopWork = true
	n.work.Broadcast()
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
	return nil
}

func (n *Node) closeListenersLocked() {
	for l := range n.listeners {
		l.Close()
	}
}

// Counters are a node's counters, for a debug endpoint.
type Counters struct {
	Goroutines  int    `json:"goroutines"` // of the whole process
	OpenFiles   int    `json:"openFiles"`  // of the whole process (entries of /proc/self/fd); -1 where unknown
	Conns       int    `json:"conns"`      // open connections, handshaking ones included
	Workers     int    `json:"workers"`
	JobsWaiting int    `json:"jobsWaiting"` // for their scene to load
	JobsQueued  int    `json:"jobsQueued"`
	JobsRunning int    `json:"jobsRunning"`
	JobsDone    uint64 `json:"jobsDone"`
	Rays        uint64 `json:"rays"`
	Scenes      int    `json:"scenes"`     // in the cache
	SceneBytes  int64  `json:"sceneBytes"` // in the cache
	State       string `json:"state"`      // ready, paused-busy, paused-schedule
	StateWhy    string `json:"stateWhy,omitempty"`
	JobsPaused  uint64 `json:"jobsPaused"` // jobs answered "paused": handed back, or refused while paused
}

// Counters returns the node's counters.
func (n *Node) Counters() Counters {
	s := Counters{Goroutines: runtime.NumGoroutine(), OpenFiles: openFiles(), Workers: n.cfg.Workers}
	for i := range n.counters {
		s.JobsDone += n.counters[i].jobs.Load()
		s.Rays += n.counters[i].rays.Load()
	}
	n.mu.Lock()
	s.Conns = n.nconns
	s.JobsRunning = n.running
	for c := range n.conns {
		s.JobsQueued += c.nqueued
		for _, j := range c.jobs {
			if j.state == jobWaiting {
				s.JobsWaiting++
			}
		}
	}
	s.Scenes = n.cache.lru.Len()
	s.SceneBytes = n.cache.bytes
	s.State, s.StateWhy, s.JobsPaused = string(n.avail), n.availWhy, n.jobsPaused
	n.mu.Unlock()
	return s
}

// openFiles counts this process's open file descriptors (Linux), or -1.
func openFiles() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}
