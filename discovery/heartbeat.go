package discovery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Heartbeat timing.
const (
	minBackoff      = 250 * time.Millisecond
	maxBackoff      = 10 * time.Second
	deregisterAfter = 2 * time.Second // the fresh deadline of the final Deregister
)

// Heartbeat registers rec and refreshes it every TTL/3 (the TTL the registry
// answers, with ±10 % jitter) until ctx ends; then it deregisters with a
// fresh 2 s deadline and returns. A failed registration is retried with
// exponential backoff from 250 ms to 10 s, with jitter. Registrations that
// cannot succeed (an invalid record: HTTP 400) end the loop with an error.
//
// Logs go to c.Logger, one line per change of state (registered, failing,
// refusing a registry whose answers are not signed with our token), not one
// per attempt. A registry that does not sign its answers when c.Token is set
// is never counted as registered.
//
// The error is nil when ctx ended and the deregistration succeeded (or the
// registry had already forgotten the node).
func (c *RegistryClient) Heartbeat(ctx context.Context, rec Record) error {
	return c.HeartbeatLive(ctx, NewLiveRecord(rec))
}

// HeartbeatLive is Heartbeat of a record that changes while the node runs:
// every change is registered at once, not at the next refresh.
func (c *RegistryClient) HeartbeatLive(ctx context.Context, live *LiveRecord) error {
	rec, _ := live.Load()
	if err := CheckID(rec.ID); err != nil {
		return fmt.Errorf("discovery: heartbeat: %w", err)
	}
	log := c.Logger.With().Str("registry", c.Addr).Str("id", rec.ID).Logger()
	// Every write carries when this run began and its number in the run,
	// so that the registry refuses a write of an earlier run (or a late
	// duplicate) over a newer record.
	started := rec.Started
	if started.IsZero() {
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		started = now().UTC()
	}
	var (
		registered bool   // (maybe) at least once: deregister at the end
		failing    string // the class of the last failure; "" while healthy
		backoff    = minBackoff
		wait       time.Duration
		seq        uint64
	)
	for {
		sent := rec
		seq++
		out := rec
		out.Started, out.Seq = started, seq
		lease, err := c.Register(ctx, out)
		switch {
		case ctx.Err() != nil:
			// Canceled mid-request: the registry may have stored the record,
			// unless it is one that refuses us or that we refuse.
			if failing != "unsigned" && failing != "unauthorized" {
				registered = true
			}
		case err == nil:
			registered = true
			if failing != "" || wait == 0 {
				log.Info().Str("addr", lease.Record.Addr).Dur("ttl", lease.TTL).Msg("registered with the registry")
			}
			failing, backoff = "", minBackoff
			ttl := lease.TTL
			if ttl <= 0 {
				ttl = DefaultTTL
			}
			wait = jitter(ttl/3, 0.1)
		case errors.Is(err, ErrBadRequest):
			log.Error().Err(err).Msg("the registry refuses this node's record; giving up")
			return fmt.Errorf("discovery: heartbeat: %w", err)
		default:
			class := failureClass(err)
			if class != failing {
				ev := log.Warn()
				if class == "unsigned" {
					ev = log.Error()
				}
				ev.Err(err).Msg(failureMessage(class))
				failing = class
			} else {
				log.Debug().Err(err).Dur("backoff", backoff).Msg("registration still failing")
			}
			wait = jitter(backoff, 0.5)
			backoff = min(2*backoff, maxBackoff)
		}
		if ctx.Err() != nil {
			break
		}
		var changed <-chan struct{}
		rec, changed = live.Load()
		if rec != sent {
			continue // changed while the request was under way
		}
		if !sleepUnless(ctx, wait, changed) {
			break
		}
		rec, _ = live.Load()
		if rec != sent && failing == "" {
			log.Debug().Str("state", string(rec.State)).Msg("the record changed: registering it now")
		}
	}
	if !registered {
		return nil
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deregisterAfter)
	defer cancel()
	err := c.deregister(dctx, rec.ID, &deleteBody{Started: started, Seq: seq + 1})
	if errors.Is(err, ErrSuperseded) {
		log.Info().Msg("not deregistered: the registry holds a newer record of this id")
		return nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		log.Warn().Err(err).Msg("deregistration failed; the record expires after the TTL")
		return fmt.Errorf("discovery: heartbeat: %w", err)
	}
	log.Info().Msg("deregistered")
	return nil
}

// failureClass groups errors so that a change of cause is logged once.
func failureClass(err error) string {
	switch {
	case errors.Is(err, ErrUnsignedResponse):
		return "unsigned"
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrRegistryFull):
		return "full"
	case errors.Is(err, ErrSuperseded):
		return "superseded"
	default:
		return "unreachable"
	}
}

func failureMessage(class string) string {
	switch class {
	case "unsigned":
		return "refusing the registry: its answers are not signed with our token (it has none or another one); retrying"
	case "unauthorized":
		return "the registry refuses our signature: it has another token, or we have none; retrying"
	case "full":
		return "the registry is full (max-nodes); retrying"
	case "superseded":
		return "the registry holds a newer record of this id, from a node process started later: is another node running with the same -id? retrying"
	default:
		return "cannot register with the registry; retrying with backoff"
	}
}

// jitter returns d scaled by a random factor in [1-f, 1+f].
func jitter(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * (1 - f + 2*f*rand.Float64()))
}

// sleep waits d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool { return sleepUnless(ctx, d, nil) }

// sleepUnless is sleep cut short when wake is closed (then it reports true,
// as after the whole d).
func sleepUnless(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-wake:
		return true
	case <-ctx.Done():
		return false
	}
}
