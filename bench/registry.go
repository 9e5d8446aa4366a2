package bench

import (
	"context"
	"fmt"
	"net"
	"time"

	"tessera/discovery"
)

// benchRegistry is an in-process registry on a free loopback port.
type benchRegistry struct {
	reg  *discovery.Registry
	addr string
	done chan struct{}
}

func startRegistry(token string) (*benchRegistry, error) {
	reg, err := discovery.NewRegistry(discovery.RegistryConfig{Token: token})
	if err != nil {
		return nil, fmt.Errorf("bench: registry: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: registry: %w", err)
	}
	r := &benchRegistry{reg: reg, addr: l.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		reg.Serve(l)
	}()
	return r, nil
}

func (r *benchRegistry) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r.reg.Shutdown(ctx)
	<-r.done
}

// waitListed polls the registry until it lists id, and returns when the
// registry stored that record (its LastSeen: the first registration, as
// heartbeats come TTL/3 later).
func (r *benchRegistry) waitListed(ctx context.Context, id string, deadline time.Time) (time.Time, error) {
	for {
		for _, rec := range r.reg.Nodes() {
			if rec.ID == id {
				return rec.LastSeen, nil
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("bench: node %s was not listed by the registry by %v", id, deadline.Format(time.TimeOnly))
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("bench: waiting for node %s in the registry: %w", id, context.Cause(ctx))
		case <-time.After(discoveryPoll):
		}
	}
}
