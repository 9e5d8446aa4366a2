package bench

// The watchers section (issue 19): what controllers polling a big registry
// cost it, with every poll asking for the whole list (as before) and with
// conditional, incremental polls (a discovery.Lister).

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"tessera/discovery"
)

// The watchers section's sizes.
const (
	watchNodes    = 10000
	watchWatchers = 40
	watchWindow   = 10 * time.Second
	quickWindow   = 3 * time.Second
	changeTimeout = 20 * time.Second // for every watcher to see a new node
)

// Watch modes: how the watchers poll.
const (
	WatchFull        = "full"        // GET /v1/nodes every poll: the whole list
	WatchConditional = "conditional" // If-None-Match and ?since=: 304 or the changes
)

// watchers measures one registry process holding watchNodes records (no
// heartbeats: nothing changes), polled by watchWatchers discovery.Watchers
// every watchInterval, in both modes, in alternating order from run to run.
func (b *bencher) watchers(ctx context.Context) (*Watchers, error) {
	window := watchWindow
	if b.s.Quick {
		window = quickWindow
	}
	reg, err := b.s.start(ctx, "registry", []string{"registry", "-listen", "127.0.0.1:0", "-no-mdns", "-ttl", "1h",
		"-max-nodes", strconv.Itoa(watchNodes + 100), "-log", "json"}, b.s.Token, false)
	if err != nil {
		return nil, err
	}
	b.nodes.add(reg)
	defer reg.stop()
	if err := seedRegistry(ctx, reg.addr, b.s.Token, watchNodes); err != nil {
		return nil, err
	}
	modes := []string{WatchFull, WatchConditional}
	samples := map[string][]WatchMode{}
	for run := 1; run <= b.s.Runs; run++ {
		order := modes
		if run%2 == 0 {
			order = []string{modes[1], modes[0]}
		}
		for _, mode := range order {
			m, err := b.watchRun(ctx, reg, mode, window, run)
			if err != nil {
				return nil, err
			}
			samples[mode] = append(samples[mode], m)
			b.log.Info().Int("run", run).Str("mode", mode).Float64("registryCPU", round(m.RegistryCPU, 4)).
				Float64("p50ms", round(m.LatencyP50Ms, 2)).Float64("p99ms", round(m.LatencyP99Ms, 2)).
				Float64("changeSeen", round(m.ChangeSeenSeconds, 3)).Msg("watchers")
		}
	}
	out := &Watchers{Nodes: watchNodes, Watchers: watchWatchers, IntervalSeconds: watchInterval.Seconds(), WindowSeconds: window.Seconds()}
	for _, mode := range modes {
		out.Modes = append(out.Modes, medianWatch(mode, samples[mode]))
	}
	return out, nil
}

// seedRegistry registers n records like a room's nodes, 16 at a time.
func seedRegistry(ctx context.Context, addr, token string, n int) error {
	c := &discovery.RegistryClient{Addr: addr, Token: token, HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	started := time.Now().UTC()
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				rec := discovery.Record{ID: fmt.Sprintf("pc-%05d", i), Name: fmt.Sprintf("pc-%05d.lab", i),
					Addr: fmt.Sprintf("10.%d.%d.%d:7701", i>>16&255, i>>8&255, i&255), Cores: 8, Version: "0.1.0",
					State: "ready", Started: started, Seq: 1}
				if _, err := c.Register(ctx, rec); err != nil {
					errs <- fmt.Errorf("bench: seeding the registry: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// atomicTime is a time set once by one goroutine and read by others.
type atomicTime struct {
	mu sync.Mutex
	t  time.Time
}

func (a *atomicTime) store(t time.Time) { a.mu.Lock(); a.t = t; a.mu.Unlock() }
func (a *atomicTime) load() time.Time   { a.mu.Lock(); defer a.mu.Unlock(); return a.t }

// pollTimes is a watcher's HTTP transport: it times every poll.
type pollTimes struct {
	base *http.Transport

	mu       sync.Mutex
	starts   []time.Time // of the polls since the last take
	polls    int         // answered or failed
	failed   int
	times    []time.Duration
	notMod   int
	bodyByte int64
}

func (p *pollTimes) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	p.mu.Lock()
	p.starts = append(p.starts, start)
	p.mu.Unlock()
	resp, err := p.base.RoundTrip(req)
	d := time.Since(start) // to the headers; the body follows at loopback speed
	p.mu.Lock()
	defer p.mu.Unlock()
	p.polls++
	p.times = append(p.times, d)
	if err != nil { // the watcher's deadline (2 s) passed
		p.failed++
		return resp, err
	}
	if resp.StatusCode == http.StatusNotModified {
		p.notMod++
	}
	if resp.ContentLength > 0 {
		p.bodyByte += resp.ContentLength
	}
	return resp, nil
}

// take returns what was counted since the last take, and resets it.
func (p *pollTimes) take() (polls, failed, notMod int, bytes int64, times []time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	polls, failed, notMod, bytes, times = p.polls, p.failed, p.notMod, p.bodyByte, p.times
	p.polls, p.failed, p.notMod, p.bodyByte, p.times, p.starts = 0, 0, 0, 0, nil, nil
	return
}

// since counts the polls begun at or after t (zero t: none).
func (p *pollTimes) since(t time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.starts {
		if !t.IsZero() && !s.Before(t) {
			n++
		}
	}
	return n
}

// count returns the polls made, or those answered.
func (p *pollTimes) count(answered bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if answered {
		return p.polls - p.failed
	}
	return p.polls
}

// watchRun runs the watchers in one mode: a warm-up (every watcher has its
// first, whole list), the window (the registry's CPU time, every poll's
// latency), then one new record (how long until every watcher reports it).
func (b *bencher) watchRun(ctx context.Context, reg *nodeProc, mode string, window time.Duration, run int) (WatchMode, error) {
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	probe := fmt.Sprintf("probe-%s-%d", mode, run)
	type sight struct {
		at    time.Time
		polls int // the watcher's polls begun since the probe registered
	}
	seen := make(chan sight, watchWatchers)
	var probeAt atomicTime
	transports := make([]*pollTimes, watchWatchers)
	for i := range transports {
		pt := &pollTimes{base: &http.Transport{}}
		transports[i] = pt
		hc := &http.Client{Transport: pt, Timeout: 10 * time.Second}
		cfg := discovery.WatcherConfig{Registries: []string{reg.addr}, Interval: watchInterval, Token: b.s.Token, HTTP: hc}
		if mode == WatchFull {
			c := &discovery.RegistryClient{Addr: reg.addr, Token: b.s.Token, HTTP: hc}
			cfg.List = func(ctx context.Context, _ string) ([]discovery.Record, error) { return c.List(ctx) }
		}
		w, err := discovery.NewWatcher(cfg)
		if err != nil {
			return WatchMode{}, fmt.Errorf("bench: watcher: %w", err)
		}
		// Controllers start at any moment: spread the watchers' rounds
		// over one interval.
		delay := time.Duration(i) * watchInterval / watchWatchers
		wg.Go(func() {
			_ = waitUntil(wctx, time.Now().Add(delay))
			w.Run(wctx) // returns at once when wctx has ended, closing Events
		})
		wg.Go(func() {
			defer pt.base.CloseIdleConnections()
			for ev := range w.Events() {
				if ev.Kind == discovery.Join && ev.Node.ID == probe {
					seen <- sight{at: time.Now(), polls: pt.since(probeAt.load())}
				}
			}
		})
	}
	// Warm-up: two polls each (the first is the whole list in both modes),
	// answered (conditional: a Lister without a first answer asks for the
	// whole list again) or not (full: under load they may time out).
	deadline := time.Now().Add(30 * time.Second)
	for _, pt := range transports {
		for pt.count(mode == WatchConditional) < 2 {
			if time.Now().After(deadline) {
				return WatchMode{}, fmt.Errorf("bench: watchers (%s): a watcher made %d polls in 30 s (%d answered)", mode, pt.count(false), pt.count(true))
			}
			if err := waitUntil(ctx, time.Now().Add(10*time.Millisecond)); err != nil {
				return WatchMode{}, err
			}
		}
	}
	for _, pt := range transports {
		pt.take()
	}
	cpu0, ok0 := processCPU(reg.cmd.Process.Pid)
	t0 := time.Now()
	if err := waitUntil(ctx, time.Now().Add(window)); err != nil {
		return WatchMode{}, err
	}
	cpu1, ok1 := processCPU(reg.cmd.Process.Pid)
	wall := time.Since(t0)
	m := WatchMode{Mode: mode, RegistryCPU: -1, LoadAverage: loadAverage()}
	if ok0 && ok1 {
		m.RegistryCPU = (cpu1 - cpu0).Seconds() / wall.Seconds()
	}
	var all []time.Duration
	var notMod, failed int
	var bytes int64
	for _, pt := range transports {
		p, f, nm, by, ts := pt.take()
		m.Polls += p
		failed += f
		notMod += nm
		bytes += by
		all = append(all, ts...)
	}
	if m.Polls > 0 {
		m.NotModified = float64(notMod) / float64(m.Polls)
		m.Failed = float64(failed) / float64(m.Polls)
	}
	if ok := m.Polls - failed; ok > 0 {
		m.BytesPerPoll = float64(bytes) / float64(ok)
	}
	m.LatencyP50Ms, m.LatencyP99Ms = ms(percentile(all, 50)), ms(percentile(all, 99))

	// A change: a node registers; every watcher must report it.
	// The registry may take seconds to answer while 40 watchers pull the
	// whole list on a loaded machine: the probe waits as long as the
	// watchers are given to see it (that wait counts in the change's time).
	c := &discovery.RegistryClient{Addr: reg.addr, Token: b.s.Token, HTTP: &http.Client{Timeout: changeTimeout}}
	start := time.Now()
	probeAt.store(start)
	if _, err := c.Register(ctx, discovery.Record{ID: probe, Addr: "10.255.0.1:7701", Cores: 8, Version: "0.1.0"}); err != nil {
		return WatchMode{}, fmt.Errorf("bench: watchers: registering the probe: %w", err)
	}
	var last time.Time
	timeout := time.After(changeTimeout)
	seenBy := 0
wait:
	for seenBy < watchWatchers {
		select {
		case sg := <-seen:
			last = sg.at
			seenBy++
			m.ChangePolls = max(m.ChangePolls, sg.polls)
		case <-timeout:
			break wait
		case <-ctx.Done():
			return WatchMode{}, context.Cause(ctx)
		}
	}
	m.ChangeMissed = watchWatchers - seenBy
	m.ChangeSeenSeconds = last.Sub(start).Seconds()
	if m.ChangeMissed > 0 {
		m.ChangeSeenSeconds = changeTimeout.Seconds()
	}
	stop() // the watchers first: in full mode they may keep the registry busy
	wg.Wait()
	if err := registryQuiet(ctx, reg); err != nil {
		return WatchMode{}, err
	}
	if err := c.Deregister(ctx, probe); err != nil {
		return WatchMode{}, fmt.Errorf("bench: watchers: deregistering the probe: %w", err)
	}
	return m, nil
}

// registryQuiet waits until the registry process uses under a tenth of a
// core over 200 ms (at most a minute): the lists it was still writing to
// watchers that have stopped (in full mode, on a loaded machine, a backlog of
// seconds) must not slow the probe's removal or the next mode's polls.
func registryQuiet(ctx context.Context, reg *nodeProc) error {
	const window = 200 * time.Millisecond
	deadline := time.Now().Add(time.Minute)
	for {
		cpu0, ok0 := processCPU(reg.cmd.Process.Pid)
		t0 := time.Now()
		if err := waitUntil(ctx, t0.Add(window)); err != nil {
			return err
		}
		cpu1, ok1 := processCPU(reg.cmd.Process.Pid)
		if !ok0 || !ok1 || (cpu1-cpu0).Seconds() < 0.1*time.Since(t0).Seconds() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: watchers: the registry still used %.0f%% of a core a minute after its watchers stopped", 100*(cpu1-cpu0).Seconds()/time.Since(t0).Seconds())
		}
	}
}

// medianWatch is the median of each figure over the runs of one mode.
func medianWatch(mode string, runs []WatchMode) WatchMode {
	pick := func(f func(WatchMode) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	return WatchMode{
		Mode:              mode,
		RegistryCPU:       pick(func(m WatchMode) float64 { return m.RegistryCPU }),
		Polls:             int(pick(func(m WatchMode) float64 { return float64(m.Polls) })),
		NotModified:       pick(func(m WatchMode) float64 { return m.NotModified }),
		Failed:            pick(func(m WatchMode) float64 { return m.Failed }),
		BytesPerPoll:      pick(func(m WatchMode) float64 { return m.BytesPerPoll }),
		LatencyP50Ms:      pick(func(m WatchMode) float64 { return m.LatencyP50Ms }),
		LatencyP99Ms:      pick(func(m WatchMode) float64 { return m.LatencyP99Ms }),
		ChangeSeenSeconds: pick(func(m WatchMode) float64 { return m.ChangeSeenSeconds }),
		ChangeMissed:      int(pick(func(m WatchMode) float64 { return float64(m.ChangeMissed) })),
		ChangePolls:       int(pick(func(m WatchMode) float64 { return float64(m.ChangePolls) })),
		LoadAverage:       pick(func(m WatchMode) float64 { return m.LoadAverage }),
	}
}
