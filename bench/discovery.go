package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"tessera/discovery"
)

// discovery starts a node process with -registry pointing at an in-process
// registry, Runs times, and times how long until the registry lists it, and
// until a discovery.Watcher polling that registry as `tessera render` does
// (every second) reports it.
func (b *bencher) discovery(ctx context.Context) (*Discovery, error) {
	reg, err := startRegistry(b.s.Token)
	if err != nil {
		return nil, err
	}
	defer reg.stop()
	w, err := discovery.NewWatcher(discovery.WatcherConfig{Registries: []string{reg.addr}, Interval: watchInterval, Token: b.s.Token})
	if err != nil {
		return nil, fmt.Errorf("bench: watcher: %w", err)
	}
	wctx, stopWatch := context.WithCancel(ctx)
	joined := make(chan joinEvent)
	var wg sync.WaitGroup
	defer func() { stopWatch(); wg.Wait() }()
	watchStart := time.Now() // its rounds start now and every watchInterval after
	wg.Go(func() { w.Run(wctx) })
	wg.Go(func() {
		for ev := range w.Events() { // closed when Run returns
			if ev.Kind != discovery.Join {
				continue
			}
			select {
			case joined <- joinEvent{id: ev.Node.ID, at: time.Now()}:
			case <-wctx.Done():
			}
		}
	})

	var regSecs, watchSecs []float64
	for run := 1; run <= b.s.Runs; run++ {
		// The watcher sees a node at its first round after the node
		// registered: start each run at another phase of its rounds, spread
		// evenly over an interval, so that the median is the typical wait
		// and not always the same point of the cycle.
		phase := time.Duration((float64(run) - 0.5) / float64(b.s.Runs) * float64(watchInterval))
		if err := waitUntil(ctx, nextPhase(watchStart, watchInterval, phase, time.Now())); err != nil {
			return nil, fmt.Errorf("bench: discovery: %w", err)
		}
		start := time.Now()
		deadline := start.Add(discoveryTimeout)
		procs, err := b.spawnNodes(ctx, 1, 1, reg.addr)
		if err != nil {
			return nil, err
		}
		id := procs[0].id
		listed, err := reg.waitListed(ctx, id, deadline)
		var seen time.Time
		if err == nil {
			seen, err = waitJoin(ctx, joined, id, deadline)
		}
		if stopErr := stopProcs(procs); err == nil {
			err = stopErr
		}
		if err != nil {
			return nil, err
		}
		regSecs = append(regSecs, listed.Sub(start).Seconds())
		watchSecs = append(watchSecs, seen.Sub(start).Seconds())
		b.log.Info().Int("run", run).Float64("registry", round(regSecs[len(regSecs)-1], 3)).
			Float64("watcher", round(watchSecs[len(watchSecs)-1], 3)).Msg("discovery")
	}
	return &Discovery{RegistrySeconds: median(regSecs), WatcherSeconds: median(watchSecs)}, nil
}

// watchInterval is how often the watcher lists the registry, as in
// tessera render (discovery's default).
const watchInterval = time.Second

// nextPhase returns the first time after now that lies phase after one of
// the instants base + k*interval.
func nextPhase(base time.Time, interval, phase time.Duration, now time.Time) time.Time {
	t := base.Add(phase)
	if now.Before(t) {
		return t
	}
	k := now.Sub(t)/interval + 1
	return t.Add(k * interval)
}

// waitUntil waits until t or until ctx ends.
func waitUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// joinEvent is a node the watcher reported, and when.
type joinEvent struct {
	id string
	at time.Time
}

// waitJoin waits until the watcher reports node id.
func waitJoin(ctx context.Context, joined <-chan joinEvent, id string, deadline time.Time) (time.Time, error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case ev := <-joined:
			if ev.id == id {
				return ev.at, nil
			}
		case <-timer.C:
			return time.Time{}, fmt.Errorf("bench: the watcher did not report node %s by %v", id, deadline.Format(time.TimeOnly))
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("bench: waiting for the watcher to report node %s: %w", id, context.Cause(ctx))
		}
	}
}
