package discovery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// BrowseFunc is the signature of Browse, injectable in tests.
type BrowseFunc func(ctx context.Context, service string, timeout time.Duration) ([]Entry, error)

// FinderConfig configures FindRegistries. The zero value of every field but
// Record is valid.
type FinderConfig struct {
	// Record is the node to register with every registry found.
	Record Record
	// Live, when not nil, replaces Record: the node's record as it
	// changes, registered again at each change.
	Live *LiveRecord
	// Token signs the registrations (see RegistryClient.Token).
	Token string
	// Interval between two browses. Default 2 s.
	Interval time.Duration
	// Forget is how long a registry may be missing from the browses before
	// its heartbeat is stopped. Default 30 s.
	Forget time.Duration
	// HTTP is the client for the registries; nil: a shared default.
	HTTP *http.Client
	// Logger: the zero value discards.
	Logger zerolog.Logger
	// Browse replaces the mDNS browse (tests). Nil means Browse.
	Browse BrowseFunc
}

// FindRegistries is for a node started without a registry address: it
// browses for RegistryService every Interval until ctx ends and runs a
// Heartbeat of cfg.Record with every registry it finds (one per instance;
// restarted if the registry's address changes). A registry missing from the
// browses for Forget has its heartbeat stopped (which deregisters). When ctx
// ends it stops every heartbeat, waits for their deregistrations and
// returns nil. A host without multicast is not an error: it logs one
// warning and keeps trying quietly.
func FindRegistries(ctx context.Context, cfg FinderConfig) error {
	if cfg.Live == nil {
		cfg.Live = NewLiveRecord(cfg.Record)
	}
	cfg.Record, _ = cfg.Live.Load()
	if err := CheckID(cfg.Record.ID); err != nil {
		return fmt.Errorf("discovery: find registries: %w", err)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.Forget <= 0 {
		cfg.Forget = 30 * time.Second
	}
	if cfg.Browse == nil {
		cfg.Browse = Browse
	}
	timeout := min(DefaultBrowseTimeout, cfg.Interval/2)

	type beat struct {
		addr     string
		lastSeen time.Time
		cancel   context.CancelFunc
		done     chan struct{}
	}
	beats := make(map[string]*beat)
	var wg sync.WaitGroup
	stop := func(inst string, b *beat) {
		b.cancel()
		<-b.done
		delete(beats, inst)
	}
	defer func() {
		for _, b := range beats {
			b.cancel()
		}
		wg.Wait()
	}()

	var browseFailing bool
	for {
		entries, err := cfg.Browse(ctx, RegistryService, timeout)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil && !browseFailing:
			cfg.Logger.Warn().Err(err).Msg("cannot browse for registries over mDNS; retrying quietly")
			browseFailing = true
		case err == nil && browseFailing:
			cfg.Logger.Info().Msg("browsing for registries over mDNS works again")
			browseFailing = false
		}
		now := time.Now()
		for _, e := range entries {
			b, ok := beats[e.Instance]
			if ok && b.addr != e.Addr {
				cfg.Logger.Info().Str("registry", e.Instance).Str("from", b.addr).Str("to", e.Addr).Msg("registry moved")
				stop(e.Instance, b)
				ok = false
			}
			if !ok {
				cfg.Logger.Info().Str("registry", e.Instance).Str("addr", e.Addr).Msg("found a registry over mDNS")
				hctx, cancel := context.WithCancel(ctx)
				b = &beat{addr: e.Addr, cancel: cancel, done: make(chan struct{})}
				beats[e.Instance] = b
				client := &RegistryClient{Addr: e.Addr, Token: cfg.Token, HTTP: cfg.HTTP, Logger: cfg.Logger}
				wg.Go(func() {
					defer close(b.done)
					if err := client.HeartbeatLive(hctx, cfg.Live); err != nil && !errors.Is(err, context.Canceled) {
						cfg.Logger.Warn().Err(err).Str("registry", e.Addr).Msg("heartbeat with a found registry ended")
					}
				})
			}
			b.lastSeen = now
		}
		for inst, b := range beats {
			if now.Sub(b.lastSeen) > cfg.Forget {
				cfg.Logger.Info().Str("registry", inst).Str("addr", b.addr).Msg("registry gone from mDNS; stopping its heartbeat")
				stop(inst, b)
			}
		}
		if !sleep(ctx, cfg.Interval) {
			return nil
		}
	}
}
