package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"image"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"tessera/discovery"
	"tessera/protocol"
	"tessera/render"
)

// LocalAuto is Config.Local's "auto": no in-process node while remote nodes
// work; one with every core when none is at work after Discover, or when
// every one is lost.
const LocalAuto = -1

// Config configures a Controller. Scene, Bundle and Settings are required;
// every other zero field takes the default written beside it.
type Config struct {
	Scene    *render.Scene   // for the in-process node, audits and arbitration
	Bundle   *render.Bundle  // what is sent to nodes
	Settings render.Settings // zero fields take the scene file's (NewController resolves them)
	Tile     int             // tile side in pixels; default 32
	// Limits are the nodes' limits (zero fields: render's defaults, which a
	// node applies unless configured otherwise). NewController refuses
	// settings or a tile over them: every node would refuse them.
	Limits   render.Limits
	Local    int            // in-process workers: LocalAuto, 0 (never render here) or N
	Discover time.Duration  // how long to wait for remote nodes before LocalAuto renders here; default 1 s
	Token    string         // the room's token; empty: no authentication, frames unsealed
	ID       string         // the controller's id in hellos; default a random one
	Logger   zerolog.Logger // the zero Logger discards
	Clock    Clock          // default the wall clock

	// Audit says how much of every node's work is checked: spot checks of
	// every result, full audits by trust (AuditPolicy; the zero value is
	// DefaultAuditPolicy).
	Audit AuditPolicy
	// AuditSeed seeds the choice of the results audited and of the pixels
	// spot-checked, so that a test's checks are reproducible; 0 draws a
	// seed at random, so that no node can tell which of its tiles will be
	// checked.
	AuditSeed uint64

	// Dial connects to a node; the default is protocol.Dial over TCP. The
	// controller performs the handshake.
	Dial func(ctx context.Context, addr string) (NodeConn, error)

	// Frames, when not empty, makes the render an animation: these frames
	// of the scene's animation (each 0 to render.MaxFrame, none twice), in
	// the order they are to be done. Their tiles share one queue, the
	// earliest unfinished frame first; every node gets the scene once and
	// evaluates the frames itself. Empty: the still.
	Frames []int

	// Progressive renders every frame in passes (render.PassEnds of
	// Settings.SPP: 4 samples, then doubling the total): after each one the
	// controller holds a whole image (OnPass; Result.Image is the last one
	// written), and a render stopped after the passes ending at N samples
	// is bit for bit the render of N samples. Noise > 0 makes it adaptive
	// (render.Film's rule: a pixel whose estimated error, and its
	// neighbours', is below Noise takes no more samples; Settings.SPP is the
	// ceiling). Budget > 0 (a still only) ends the render when the next pass
	// is not expected to end within Budget of Run's start, at the rate of
	// the passes so far.
	Progressive bool
	Noise       float64
	Budget      time.Duration

	// OnProgress, OnTile, OnFrame and OnPass are called from Run's goroutine and
	// must return quickly. OnFrame gets each frame of an animation once
	// its last tile is in (hand the image to a writer: it is the
	// receiver's).
	OnProgress func(Progress)
	OnTile     func(TileEvent)
	OnFrame    func(FrameEvent)
	// OnPass gets each pass of a progressive render once written (the
	// image is the receiver's).
	OnPass func(PassEvent)
}

// tuning holds the controller's timings and limits. Tests shorten them.
type tuning struct {
	tick             time.Duration // how often deadlines are checked
	ping             time.Duration // ping interval per node
	live             time.Duration // a node silent this long is dropped
	handshake        time.Duration // dial plus handshake
	firstDeadline    time.Duration // no-progress deadline before a node has a measured speed
	minDeadline      time.Duration // floor of the measured deadline
	maxFailures      int           // failures before a node is suspended (lapses) or excluded (faults)
	suspendedWait    time.Duration // with Local 0 and no node taking part, how long to wait for suspended ones
	maxWindow        int           // tiles in flight per node, at most
	redialMin        time.Duration // backoff between dials of a lost node
	redialMax        time.Duration
	finishGrace      time.Duration // how long Run waits for Cancel frames to leave
	progressInterval time.Duration
	checkers         int  // goroutines rendering checks in-process; 0: one a core
	noDuplicates     bool // no endgame copies (tests that must tell an audit from a copy)
}

var defaultTuning = tuning{
	tick:             100 * time.Millisecond,
	ping:             time.Second,
	live:             4 * time.Second,
	handshake:        3 * time.Second,
	firstDeadline:    15 * time.Second,
	minDeadline:      time.Second,
	maxFailures:      3,
	suspendedWait:    time.Minute,
	maxWindow:        256,
	redialMin:        250 * time.Millisecond,
	redialMax:        5 * time.Second,
	finishGrace:      time.Second,
	progressInterval: ProgressInterval,
}

// Controller renders one image on every node it is given. Create it with
// NewController, add nodes with AddNode (before or during Run), and call Run
// once.
type Controller struct {
	cfg      Config
	tune     tuning
	log      zerolog.Logger
	renderer TileRenderer   // the in-process renderer: cfg.Scene, or a fake in tests
	scene    protocol.Scene // the frame every connection gets first
	noSend   string         // why the scene cannot be sent to nodes, if it cannot
	cores    int            // for LocalAuto
	audit    AuditPolicy    // cfg.Audit with its defaults
	seed     uint64         // cfg.AuditSeed, or a random one

	mu      sync.Mutex
	ops     []discovery.Node // AddNode calls not yet taken by Run
	started bool
	ended   bool
	wake    chan struct{} // capacity 1: ops waiting
}

// warned makes a controller without a token say once per process that its
// frames are not protected (a benchmark makes controllers by the dozen).
var warned sync.Once

// NewController checks cfg and returns a Controller. It resolves the
// settings (zero fields from the scene file) and refuses, before any node is
// dialled, what every node would refuse: settings over Config.Limits, or a
// tile of more than Limits.MaxTilePixels pixels (the error wraps both
// ErrBadConfig and render.ErrLimit, and names the limit).
func NewController(cfg Config) (*Controller, error) {
	if cfg.Scene == nil {
		return nil, fmt.Errorf("%w: Config.Scene is nil", ErrBadConfig)
	}
	cfg.Settings = cfg.Scene.Resolve(cfg.Settings)
	for _, f := range cfg.Frames {
		if err := cfg.Scene.CheckFrame(f); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
		}
	}
	return newController(cfg, sceneRenderer{cfg.Scene})
}

// newController is NewController with the in-process renderer given.
func newController(cfg Config, r TileRenderer) (*Controller, error) {
	set := cfg.Settings
	switch {
	case cfg.Bundle == nil:
		return nil, fmt.Errorf("%w: Config.Bundle is nil", ErrBadConfig)
	case set.Width < 1 || set.Height < 1 || set.SPP < 1 || set.MaxDepth < 1:
		return nil, fmt.Errorf("%w: Config.Settings %+v not resolved: every field must be > 0", ErrBadConfig, set)
	case cfg.Tile < 0:
		return nil, fmt.Errorf("%w: Config.Tile is %d, want > 0", ErrBadConfig, cfg.Tile)
	case cfg.Local < LocalAuto:
		return nil, fmt.Errorf("%w: Config.Local is %d, want LocalAuto (-1), 0 or a number of workers", ErrBadConfig, cfg.Local)
	case cfg.Discover < 0:
		return nil, fmt.Errorf("%w: Config.Discover is %v, want >= 0", ErrBadConfig, cfg.Discover)
	}
	seen := make(map[int]bool, len(cfg.Frames))
	for _, f := range cfg.Frames {
		switch {
		case f < 0 || f > render.MaxFrame:
			return nil, fmt.Errorf("%w: frame %d (expected 0 to %d)", ErrBadConfig, f, render.MaxFrame)
		case seen[f]:
			return nil, fmt.Errorf("%w: frame %d given twice", ErrBadConfig, f)
		}
		seen[f] = true
	}
	switch {
	case !cfg.Progressive && (cfg.Noise != 0 || cfg.Budget != 0):
		return nil, fmt.Errorf("%w: Config.Noise and Config.Budget need Config.Progressive", ErrBadConfig)
	case math.IsNaN(cfg.Noise) || math.IsInf(cfg.Noise, 0) || cfg.Noise < 0:
		return nil, fmt.Errorf("%w: Config.Noise is %v, want 0 (none) or more", ErrBadConfig, cfg.Noise)
	case cfg.Budget < 0:
		return nil, fmt.Errorf("%w: Config.Budget is %v, want 0 (none) or more", ErrBadConfig, cfg.Budget)
	case cfg.Budget > 0 && len(cfg.Frames) > 0:
		return nil, fmt.Errorf("%w: a time budget is for a still, not for %d frames of an animation", ErrBadConfig, len(cfg.Frames))
	}
	cfg.Frames = slices.Clone(cfg.Frames)
	if cfg.Tile == 0 {
		cfg.Tile = 32
	}
	// The largest tile is the first one: tiles are clipped by the image.
	if err := cfg.Limits.CheckTile(set, image.Rect(0, 0, min(cfg.Tile, set.Width), min(cfg.Tile, set.Height))); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if cfg.Discover == 0 {
		cfg.Discover = time.Second
	}
	if cfg.ID == "" {
		cfg.ID = discovery.NewID()
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Dial == nil {
		cfg.Dial = func(ctx context.Context, addr string) (NodeConn, error) {
			c, err := protocol.Dial(ctx, addr, protocol.Config{})
			if err != nil {
				return nil, err
			}
			return c, nil
		}
	}
	scene := sceneFrame(cfg.Bundle)
	c := &Controller{
		cfg:      cfg,
		tune:     defaultTuning,
		log:      cfg.Logger.With().Str("controller", cfg.ID).Logger(),
		renderer: r,
		scene:    scene,
		cores:    runtime.NumCPU(),
		wake:     make(chan struct{}, 1),
		audit:    cfg.Audit.withDefaults(),
		seed:     cfg.AuditSeed,
	}
	if c.seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		c.seed = binary.LittleEndian.Uint64(b[:])
	}
	if cfg.Token == "" {
		warned.Do(func() { c.log.Warn().Msg(protocol.NoTokenWarning) })
	}
	if err := checkScene(scene); err != nil {
		c.noSend = "the scene cannot be sent within the frame limit: " + err.Error()
	}
	return c, nil
}

// Settings returns the render's settings, resolved.
func (c *Controller) Settings() render.Settings { return c.cfg.Settings }

// CheckScene reports whether b can be sent to nodes at all: its Scene frame
// within the protocol's default frame limit (MaxFrame, 272 MiB, which every
// node applies unless configured otherwise, and which holds any scene the
// render package's default limits load) and its files within
// MaxSceneFiles. The error wraps render.ErrLimit and names the limit. A
// controller given such a scene excludes every node it meets and can only
// render in-process.
func CheckScene(b *render.Bundle) error { return checkScene(sceneFrame(b)) }

// sceneFrameLimit is the largest Scene frame sent to nodes: the frame limit
// they apply by default (a variable for tests).
var sceneFrameLimit = protocol.DefaultMaxFrame

func checkScene(m protocol.Scene) error {
	if n := len(m.Files); n > protocol.MaxSceneFiles {
		return &render.LimitError{Limit: "MaxSceneFiles", What: "files in the scene", Value: int64(n), Max: protocol.MaxSceneFiles}
	}
	if size := m.FrameSize(); size > sceneFrameLimit {
		return &render.LimitError{Limit: "MaxFrame", What: fmt.Sprintf("bytes (%d MiB) in the scene's frame", size>>20), Value: int64(size), Max: int64(sceneFrameLimit)}
	}
	return nil
}

// sceneFrame is the Scene message for b, files in name order.
func sceneFrame(b *render.Bundle) protocol.Scene {
	m := protocol.Scene{Hash: hashBundle(b), Main: b.Main, Files: make([]protocol.Blob, 0, len(b.Files))}
	for name, data := range b.Files {
		m.Files = append(m.Files, protocol.Blob{Name: name, Data: data})
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Name < m.Files[j].Name })
	return m
}

// AddNode offers a node to render on, as discovery found it (its Addr is
// required; an empty ID is proven by the handshake). It may be called at any
// time, from any goroutine; a node already known by its Key (or, after its
// handshake, by its proven id) is ignored, as is one excluded from this
// render.
func (c *Controller) AddNode(n discovery.Node) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ops = append(c.ops, n)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// takeOps returns the pending AddNode calls.
func (c *Controller) takeOps() []discovery.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := c.ops
	c.ops = nil
	return ops
}

// Run renders the image and returns it. It returns an error, with a Result
// holding the partial image, when ctx is cancelled (ErrInterrupted: every
// node is told to cancel its jobs) or when tiles are left and no node can
// render them (ErrNoNodes). Run may be called once.
func (c *Controller) Run(ctx context.Context) (*Result, error) {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return nil, ErrAlreadyRun
	}
	c.started = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.ended = true
		c.ops = nil
		c.mu.Unlock()
	}()
	r := newRun(ctx, c)
	return r.loop(ctx)
}
