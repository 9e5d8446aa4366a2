package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"tessera/discovery"
	"tessera/render"
	"tessera/scheduler"
)

// job is one render through a scheduler.Controller.
type job struct {
	scene *scene
	set   render.Settings // resolved
	tile  int
	local int                                                       // in-process workers; 0 for none
	nodes []discovery.Node                                          // remote nodes
	times *tileTimes                                                // when not nil, tiles are timed (and nodes' cores noted)
	dial  func(context.Context, string) (scheduler.NodeConn, error) // when not nil, how nodes are dialled
	// audits turns the controller's checks of the nodes' pixels on; every
	// section but the audits' own measures distribution without them.
	audits bool
	token  string
	log    zerolog.Logger
}

// outcome is what one render measured.
type outcome struct {
	wall  time.Duration
	stats scheduler.Stats
}

// used counts the nodes that rendered tiles of the image.
func (o outcome) used() int {
	n := 0
	for _, ns := range o.stats.Nodes {
		if ns.Tiles > 0 {
			n++
		}
	}
	return n
}

// renderSeconds is the render time the nodes reported, summed.
func (o outcome) renderSeconds() float64 {
	var sum float64
	for _, ns := range o.stats.Nodes {
		sum += ns.Seconds
	}
	return sum
}

// run renders j and times it, from Run's call to its return (dial,
// handshake, scene transfer and the final cancels included).
func (j job) run(ctx context.Context) (outcome, error) {
	cfg := scheduler.Config{
		Scene:    j.scene.scene,
		Bundle:   j.scene.bundle,
		Settings: j.set,
		Tile:     j.tile,
		Local:    j.local,
		Token:    j.token,
		Logger:   j.log.Level(zerolog.WarnLevel),
		Audit:    scheduler.AuditPolicy{Off: !j.audits},
	}
	if j.times != nil {
		cfg.Dial = j.times.dial
	}
	if j.dial != nil {
		cfg.Dial = j.dial
	}
	ctl, err := scheduler.NewController(cfg)
	if err != nil {
		return outcome{}, fmt.Errorf("bench: %w", err)
	}
	for _, c := range j.nodes {
		ctl.AddNode(c)
	}
	start := time.Now()
	res, err := ctl.Run(ctx)
	wall := time.Since(start)
	if err != nil {
		return outcome{}, fmt.Errorf("bench: render %s on %s: %w", j.scene.name, j.where(), err)
	}
	if res.Stats.Retries > 0 || res.Stats.Mismatches > 0 {
		j.log.Warn().Int("retries", res.Stats.Retries).Int("mismatches", res.Stats.Mismatches).
			Str("scene", j.scene.name).Str("on", j.where()).Msg("render had to retry tiles: its time is not representative")
	}
	return outcome{wall: wall, stats: res.Stats}, nil
}

// where describes the render's nodes.
func (j job) where() string {
	switch {
	case len(j.nodes) == 0:
		return fmt.Sprintf("%d in-process workers", j.local)
	case j.local == 0:
		return fmt.Sprintf("%d nodes", len(j.nodes))
	}
	return fmt.Sprintf("%d nodes and %d in-process workers", len(j.nodes), j.local)
}

// candidates turns spawned nodes into the controller's candidates.
func candidates(procs []*nodeProc) []discovery.Node {
	out := make([]discovery.Node, len(procs))
	for i, p := range procs {
		out[i] = discovery.Node{ID: p.id, Name: p.id, Addr: p.addr, Source: discovery.SourceFlag}
	}
	return out
}
