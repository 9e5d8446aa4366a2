package bench

// The scale section (issue 19): the real controller in this process driving
// fleets of simulated nodes (`tessera sim`, one process for a whole fleet),
// from 10 to 1,000 nodes: tiles per second and the controller's CPU time per
// tile with nodes that answer at once (with the checks of their pixels, as
// in a real render, and without: the scheduler's own cost), the wall time
// against the ideal with nodes that take 50 ms a tile, and late joiners.

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"tessera/discovery"
	"tessera/render"
	"tessera/scheduler"
)

// DefaultFake is the scale section's node counts when Config.Fake is empty.
var DefaultFake = []int{10, 100, 300, 1000}

// The scale section's sizes.
const (
	scaleTile        = 4                     // pixels a side: tiny tiles, so the controller is what is measured
	scaleDelay       = 50 * time.Millisecond // of a "slow" node's tile
	scaleTilesFast   = 100000                // tiles of an instant render, whatever the nodes
	quickTilesFast   = 20000
	scaleTilesPerSim = 100 // tiles per node of a 50 ms render: 5 s ideal
	quickTilesPerSim = 40
	joinBase         = 100   // nodes at work in the join scenario
	joinLate         = 100   // nodes joining mid-render
	joinTiles        = 20000 // 10 s on 100 nodes alone
	quickJoinBase    = 20
	quickJoinLate    = 20
	quickJoinTiles   = 4000
	joinAt           = 0.25 // the joiners are offered when this share of the tiles is in
)

var simReady = regexp.MustCompile(`sim: ([0-9]+) nodes ready`)
var simNode = regexp.MustCompile(`node (\S+) listening on (127\.0\.0\.1:[0-9]+)`)

// scale measures every node count of Config.Fake (DefaultFake), Runs times.
func (b *bencher) scale(ctx context.Context) (*Scale, error) {
	fake := b.s.Fake
	if len(fake) == 0 {
		fake = DefaultFake
	}
	dir, err := os.MkdirTemp("", "tessera-bench-scale-")
	if err != nil {
		return nil, fmt.Errorf("bench: scale: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "trivial.json")
	if err := os.WriteFile(path, []byte(trivialJSON), 0o644); err != nil {
		return nil, fmt.Errorf("bench: scale: %w", err)
	}
	s, bundle, err := render.LoadFile(path, render.Limits{})
	if err != nil {
		return nil, fmt.Errorf("bench: scale: %w", err)
	}
	sc := &scene{name: "trivial", scene: s, bundle: bundle}
	fastTiles, perSim := scaleTilesFast, scaleTilesPerSim
	jb, jl, jt := joinBase, joinLate, joinTiles
	if b.s.Quick {
		fastTiles, perSim = quickTilesFast, quickTilesPerSim
		jb, jl, jt = quickJoinBase, quickJoinLate, quickJoinTiles
	}
	out := &Scale{TileSide: scaleTile, DelayMs: ms(scaleDelay)}
	rows := map[string][]ScaleRow{}
	var keys []string
	add := func(r ScaleRow) {
		k := fmt.Sprintf("%s/%d", r.Case, r.Nodes)
		if _, ok := rows[k]; !ok {
			keys = append(keys, k)
		}
		rows[k] = append(rows[k], r)
	}
	for run := 1; run <= b.s.Runs; run++ {
		for _, n := range fake {
			for _, c := range []scaleCase{
				{kind: CaseInstant, nodes: n, tiles: fastTiles},
				{kind: CaseInstantNoChecks, nodes: n, tiles: fastTiles, noChecks: true},
				{kind: CaseSlow, nodes: n, delay: scaleDelay, tiles: perSim * n},
			} {
				r, err := b.scaleRun(ctx, sc, path, c)
				if err != nil {
					return nil, err
				}
				add(r)
			}
		}
		// Late joiners, and the same render without them.
		for _, late := range []int{jl, 0} {
			kind := CaseJoin
			if late == 0 {
				kind = CaseAlone
			}
			r, err := b.scaleRun(ctx, sc, path, scaleCase{kind: kind, nodes: jb, late: late, delay: scaleDelay, tiles: jt})
			if err != nil {
				return nil, err
			}
			add(r)
		}
	}
	for _, k := range keys {
		r := medianScale(rows[k])
		if r.Case == CaseJoin || r.Case == CaseAlone {
			out.Join = append(out.Join, r)
		} else {
			out.Rows = append(out.Rows, r)
		}
	}
	return out, nil
}

// The scale section's cases.
const (
	CaseInstant = "instant" // nodes that answer at once
	// CaseInstantNoChecks is CaseInstant with the checks of the nodes'
	// pixels off: the scheduler's own cost, without the audits a new node's
	// first results get (about 16 a node, whatever its share of the image).
	CaseInstantNoChecks = "instant, no checks"
	CaseSlow            = "50ms"  // nodes that take 50 ms a tile
	CaseJoin            = "join"  // 50 ms nodes, and as many more offered once a quarter of the tiles are in
	CaseAlone           = "alone" // the join case without the joiners
)

// scaleCase is one render of the scale section.
type scaleCase struct {
	kind     string
	nodes    int           // at work from the start
	late     int           // offered once joinAt of the tiles are in
	delay    time.Duration // per tile
	tiles    int           // about: the image is the smallest square of scaleTile tiles with this many
	noChecks bool          // the checks of the nodes' pixels off
}

// simFleet is a `tessera sim` process and its nodes.
type simFleet struct {
	proc  *nodeProc
	nodes []discovery.Node
}

// startSim starts a fleet of n simulated nodes that take delay per tile,
// with the image of set already rendered.
func (b *bencher) startSim(ctx context.Context, scenePath string, set render.Settings, n int, delay time.Duration, prefix string) (*simFleet, error) {
	args := []string{"sim", "-nodes", strconv.Itoa(n), "-cores", "1", "-delay", delay.String(), "-prefix", prefix,
		"-scene", scenePath, "-width", strconv.Itoa(set.Width), "-height", strconv.Itoa(set.Height),
		"-spp", strconv.Itoa(set.SPP), "-depth", strconv.Itoa(set.MaxDepth), "-log", "json"}
	p, err := b.s.startTail(ctx, prefix+"sim", args, b.s.Token, false, 64*n+(8<<10))
	if err != nil {
		return nil, err
	}
	b.nodes.add(p)
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		changed := p.out.changed()
		text := p.out.String()
		if simReady.MatchString(text) {
			f := &simFleet{proc: p}
			for _, m := range simNode.FindAllStringSubmatch(text, -1) {
				f.nodes = append(f.nodes, discovery.Node{ID: m[1], Name: m[1], Addr: m[2], Source: discovery.SourceFlag})
			}
			if len(f.nodes) != n {
				p.stop()
				return nil, fmt.Errorf("bench: sim printed %d node addresses, want %d", len(f.nodes), n)
			}
			return f, nil
		}
		select {
		case <-changed:
		case <-p.exited:
			return nil, fmt.Errorf("bench: sim exited (%v) before its nodes were ready: %s", p.err, tail(p.out.String()))
		case <-deadline.C:
			p.stop()
			return nil, fmt.Errorf("bench: sim's %d nodes not ready within 60 s: %s", n, tail(p.out.String()))
		case <-ctx.Done():
			p.stop()
			return nil, context.Cause(ctx)
		}
	}
}

// tail is the end of a process's output, for errors.
func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}

// scaleRun renders one case on fresh fleets and measures it.
func (b *bencher) scaleRun(ctx context.Context, sc *scene, scenePath string, c scaleCase) (ScaleRow, error) {
	side := scaleTile * int(math.Ceil(math.Sqrt(float64(c.tiles))))
	set := sc.scene.Resolve(render.Settings{Width: side, Height: side, SPP: 1, MaxDepth: 1})
	b.seq++
	base, err := b.startSim(ctx, scenePath, set, c.nodes, c.delay, fmt.Sprintf("sim%d-", b.seq))
	if err != nil {
		return ScaleRow{}, err
	}
	defer base.proc.stop()
	var late *simFleet
	if c.late > 0 {
		if late, err = b.startSim(ctx, scenePath, set, c.late, c.delay, fmt.Sprintf("late%d-", b.seq)); err != nil {
			return ScaleRow{}, err
		}
		defer late.proc.stop()
	}

	var (
		ctl       *scheduler.Controller
		joinedAt  time.Time
		remaining int
		start     time.Time
	)
	cfg := scheduler.Config{
		Scene: sc.scene, Bundle: sc.bundle, Settings: set, Tile: scaleTile, Local: 0, Token: b.s.Token,
		Logger: b.log.Level(zerolog.WarnLevel), Audit: scheduler.AuditPolicy{Off: c.noChecks},
	}
	if late != nil {
		cfg.OnProgress = func(p scheduler.Progress) {
			if joinedAt.IsZero() && float64(p.Done) >= joinAt*float64(p.Total) {
				joinedAt, remaining = time.Now(), p.Total-p.Done
				for _, n := range late.nodes {
					ctl.AddNode(n)
				}
			}
		}
	}
	ctl, err = scheduler.NewController(cfg)
	if err != nil {
		return ScaleRow{}, fmt.Errorf("bench: %w", err)
	}
	for _, n := range base.nodes {
		ctl.AddNode(n)
	}
	runtime.GC() // the heap watched is this render's, not the last one's garbage
	heap := startHeapWatch()
	cpu0, cpuOK := processCPU(os.Getpid())
	start = time.Now()
	res, err := ctl.Run(ctx)
	wall := time.Since(start)
	cpu1, cpuOK1 := processCPU(os.Getpid())
	peak := heap.stop()
	if err != nil {
		return ScaleRow{}, fmt.Errorf("bench: scale: %d simulated nodes: %w", c.nodes, err)
	}
	st := res.Stats
	row := ScaleRow{
		Case: c.kind, Nodes: c.nodes, Joiners: c.late, DelayMs: ms(c.delay), Tiles: st.Tiles,
		WallSeconds: wall.Seconds(), TilesPerSecond: float64(st.Tiles) / wall.Seconds(),
		CPUPerTileUs: -1, PeakHeapMB: float64(peak) / (1 << 20),
		Retries: st.Retries, Duplicates: st.Duplicates, LoadAverage: loadAverage(),
		Audits: st.Audits, AuditsByNodes: st.AuditsByNodes, AuditWaitSeconds: st.AuditWaitSeconds,
	}
	if cpuOK && cpuOK1 {
		row.CPUPerTileUs = float64((cpu1 - cpu0).Microseconds()) / float64(st.Tiles)
		row.ControllerCPUs = (cpu1 - cpu0).Seconds() / wall.Seconds()
	}
	if c.kind == CaseSlow || c.kind == CaseAlone {
		row.IdealSeconds = float64(st.Tiles) * c.delay.Seconds() / float64(c.nodes)
		row.WallOverIdeal = row.WallSeconds / row.IdealSeconds
	}
	lateIDs := map[string]bool{}
	if late != nil {
		for _, n := range late.nodes {
			lateIDs[n.ID] = true
		}
	}
	for _, n := range st.Nodes {
		if n.Excluded != "" {
			row.Excluded++
		}
		row.Failures += n.Failures
		if n.Tiles > 0 {
			row.NodesUsed++
		}
		if lateIDs[n.ID] {
			row.JoinerTiles += n.Tiles
			if n.Tiles > 0 {
				row.JoinersUsed++
			}
		}
	}
	if remaining > 0 {
		row.JoinerShare = float64(row.JoinerTiles) / float64(remaining)
		row.JoinedAfterSeconds = joinedAt.Sub(start).Seconds()
	}
	b.log.Info().Int("nodes", c.nodes).Int("joiners", c.late).Float64("delayMs", row.DelayMs).Int("tiles", st.Tiles).
		Float64("seconds", round(row.WallSeconds, 3)).Float64("tiles/s", round(row.TilesPerSecond, 0)).
		Float64("cpuPerTileUs", round(row.CPUPerTileUs, 1)).Int("excluded", row.Excluded).Int("failures", row.Failures).
		Float64("joinerShare", round(row.JoinerShare, 3)).Int("audits", row.Audits).Float64("auditWait", round(row.AuditWaitSeconds, 3)).Msg("scale")
	return row, nil
}

// heapWatch samples the live heap every 20 ms and keeps the peak.
type heapWatch struct {
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	peak  uint64
}

func startHeapWatch() *heapWatch {
	h := &heapWatch{stopc: make(chan struct{}), done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			h.mu.Lock()
			h.peak = max(h.peak, sample[0].Value.Uint64())
			h.mu.Unlock()
		}
	}
	go func() {
		defer close(h.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-t.C:
			case <-h.stopc:
				read()
				return
			}
		}
	}()
	return h
}

func (h *heapWatch) stop() uint64 {
	close(h.stopc)
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peak
}

// medianScale is the median of each figure over runs of one case.
func medianScale(runs []ScaleRow) ScaleRow {
	pick := func(f func(ScaleRow) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	r := runs[0]
	r.WallSeconds = pick(func(r ScaleRow) float64 { return r.WallSeconds })
	r.TilesPerSecond = pick(func(r ScaleRow) float64 { return r.TilesPerSecond })
	r.CPUPerTileUs = pick(func(r ScaleRow) float64 { return r.CPUPerTileUs })
	r.ControllerCPUs = pick(func(r ScaleRow) float64 { return r.ControllerCPUs })
	r.PeakHeapMB = pick(func(r ScaleRow) float64 { return r.PeakHeapMB })
	r.WallOverIdeal = pick(func(r ScaleRow) float64 { return r.WallOverIdeal })
	r.JoinerShare = pick(func(r ScaleRow) float64 { return r.JoinerShare })
	r.JoinedAfterSeconds = pick(func(r ScaleRow) float64 { return r.JoinedAfterSeconds })
	r.LoadAverage = pick(func(r ScaleRow) float64 { return r.LoadAverage })
	r.AuditWaitSeconds = pick(func(r ScaleRow) float64 { return r.AuditWaitSeconds })
	// Counts: the worst run, so that one exclusion is never hidden.
	for _, x := range runs {
		r.Excluded = max(r.Excluded, x.Excluded)
		r.Failures = max(r.Failures, x.Failures)
		r.Retries = max(r.Retries, x.Retries)
		r.Duplicates = max(r.Duplicates, x.Duplicates)
		r.NodesUsed = min(r.NodesUsed, x.NodesUsed)
		r.JoinerTiles = min(r.JoinerTiles, x.JoinerTiles)
		r.JoinersUsed = min(r.JoinersUsed, x.JoinersUsed)
	}
	r.Runs = len(runs)
	return r
}

// ParseFake parses -fake: a comma-separated list of node counts.
func ParseFake(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 5000 {
			return nil, fmt.Errorf("%w: -fake %q: want node counts from 1 to 5000, e.g. 10,100,1000", ErrBadConfig, f)
		}
		out = append(out, n)
	}
	return out, nil
}
