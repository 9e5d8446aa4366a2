package bench

// What protecting the room costs: sealed frames against plain ones.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"tessera/protocol"
	"tessera/scheduler"
)

// security measures what sealing and audits cost.
func (b *bencher) security(ctx context.Context, sc *scene) (*Security, error) {
	sealing, err := b.sealing(ctx, sc)
	if err != nil {
		return nil, err
	}
	audits, err := b.audits(ctx, sc)
	if err != nil {
		return nil, err
	}
	return &Security{Sealing: sealing, Audits: audits}, nil
}

// auditNodes is the honest room of the audits' measure.
const auditNodes = 2

// audits renders the main scene, in tiles of half the usual side, on two
// loopback nodes with the controller's checks on and off, back to back (in
// alternating order), Runs times.
func (b *bencher) audits(ctx context.Context, sc *scene) (*Audits, error) {
	procs, err := b.spawnNodes(ctx, auditNodes, b.s.Workers, "")
	if err != nil {
		return nil, err
	}
	defer stopProcs(procs)
	nodes := candidates(procs)
	set := sc.scene.Resolve(b.s.work.Render)
	if err := b.warmUp(ctx, sc, set, nodes); err != nil {
		return nil, err
	}
	off := job{scene: sc, set: set, tile: max(1, b.s.work.Tile/2), nodes: nodes, token: b.s.Token, log: b.log}
	on := off
	on.audits = true
	var offs, ons, costs, work, waits, cpu, cpuCosts []float64
	var last outcome
	for run := 1; run <= b.s.Runs; run++ {
		var a, z outcome
		var ctlOn, ctlOff, roomOff time.Duration
		cpuKnown := true
		for _, turn := range turns(2, run) {
			var err error
			before, ok := roomCPU(procs)
			ctl0, _ := selfCPU()
			if turn == 1 {
				z, err = off.run(ctx)
			} else {
				a, err = on.run(ctx)
			}
			if err != nil {
				return nil, err
			}
			after, ok2 := roomCPU(procs)
			ctl1, _ := selfCPU()
			cpuKnown = cpuKnown && ok && ok2
			if turn == 1 {
				ctlOff, roomOff = ctl1-ctl0, after-before
			} else {
				ctlOn = ctl1 - ctl0
			}
		}
		if cpuKnown && roomOff > 0 {
			cpuCosts = append(cpuCosts, (ctlOn-ctlOff).Seconds()/roomOff.Seconds())
		}
		last = a
		offs = append(offs, z.wall.Seconds())
		ons = append(ons, a.wall.Seconds())
		costs = append(costs, a.wall.Seconds()/z.wall.Seconds()-1)
		work = append(work, float64(a.stats.CheckPixels)/float64(a.stats.Width*a.stats.Height))
		waits = append(waits, a.stats.AuditWaitSeconds)
		cpu = append(cpu, a.stats.CheckSeconds/a.renderSeconds())
		b.log.Info().Int("run", run).Float64("off", round(z.wall.Seconds(), 3)).Float64("on", round(a.wall.Seconds(), 3)).
			Float64("cost", round(costs[len(costs)-1], 4)).Float64("work", round(work[len(work)-1], 4)).
			Int("audits", a.stats.Audits).Int("spotChecks", a.stats.SpotChecks).Msg("audits")
	}
	return &Audits{
		Nodes:            auditNodes,
		Workers:          b.s.Workers,
		Tile:             off.tile,
		Tiles:            last.stats.Tiles,
		OffSeconds:       median(offs),
		OnSeconds:        median(ons),
		Cost:             median(costs),
		Work:             median(work),
		CheckTime:        median(cpu),
		CPUCost:          median(cpuCosts),
		Audits:           last.stats.Audits,
		SpotChecks:       last.stats.SpotChecks,
		AuditsByNodes:    last.stats.AuditsByNodes,
		AuditWaitSeconds: median(waits),
	}, nil
}

// roomCPU is the CPU time used so far by this process (the controller) and
// the nodes procs together, where it can be read.
func roomCPU(procs []*nodeProc) (time.Duration, bool) {
	total, ok := selfCPU()
	for _, p := range procs {
		d, known := processCPU(p.cmd.Process.Pid)
		total += d
		ok = ok && known
	}
	return total, ok
}

// sealing renders the main scene on one loopback node with a token and on
// one without, back to back (in alternating order), Runs times; then once
// more on the sealed node, counting frames, for the bytes sealing adds.
func (b *bencher) sealing(ctx context.Context, sc *scene) (*Sealing, error) {
	token := b.s.Token
	if token == "" {
		key := make([]byte, 16)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		token = hex.EncodeToString(key)
	}
	sealedProcs, err := b.spawnNodesToken(ctx, 1, b.s.Workers, "", token)
	if err != nil {
		return nil, err
	}
	defer stopProcs(sealedProcs)
	plainProcs, err := b.spawnNodesToken(ctx, 1, b.s.Workers, "", "")
	if err != nil {
		return nil, err
	}
	defer stopProcs(plainProcs)
	set := sc.scene.Resolve(b.s.work.Render)
	sealedJob := job{scene: sc, set: set, tile: b.s.work.Tile, nodes: candidates(sealedProcs), token: token, log: b.log}
	plainJob := job{scene: sc, set: set, tile: b.s.work.Tile, nodes: candidates(plainProcs), log: b.log}
	for _, j := range []job{sealedJob, plainJob} {
		j.set.Width, j.set.Height, j.set.SPP = min(set.Width, 64), min(set.Height, 64), 1
		if _, err := j.run(ctx); err != nil {
			return nil, err
		}
	}
	var plains, sealeds, costs, equal []float64
	tiles := 0
	for run := 1; run <= b.s.Runs; run++ {
		var plain, sealed outcome
		for _, turn := range turns(2, run) {
			var err error
			if turn == 1 {
				plain, err = plainJob.run(ctx)
			} else {
				sealed, err = sealedJob.run(ctx)
			}
			if err != nil {
				return nil, err
			}
		}
		tiles = sealed.stats.Tiles
		plains = append(plains, plain.wall.Seconds())
		sealeds = append(sealeds, sealed.wall.Seconds())
		costs = append(costs, sealed.wall.Seconds()/plain.wall.Seconds()-1)
		equal = append(equal, (plain.renderSeconds()/plain.wall.Seconds())/(sealed.renderSeconds()/sealed.wall.Seconds())-1)
		b.log.Info().Int("run", run).Float64("plain", round(plain.wall.Seconds(), 3)).Float64("sealed", round(sealed.wall.Seconds(), 3)).
			Float64("cost", round(costs[len(costs)-1], 4)).Msg("sealing")
	}
	fc := &frameCounter{}
	counted := sealedJob
	counted.dial = fc.dial
	if _, err := counted.run(ctx); err != nil {
		return nil, err
	}
	frames, perFrame := fc.result()
	return &Sealing{
		Workers:          b.s.Workers,
		PlainSeconds:     median(plains),
		SealedSeconds:    median(sealeds),
		Cost:             median(costs),
		CostAtEqualSpeed: median(equal),
		Tiles:            tiles,
		Frames:           frames,
		BytesPerFrame:    perFrame,
	}, nil
}

// frameCounter counts the frames of every connection of one render after
// their handshakes, and their bytes on the wire against their plain size.
type frameCounter struct {
	mu    sync.Mutex
	conns []*countingConn
}

func (fc *frameCounter) dial(ctx context.Context, addr string) (scheduler.NodeConn, error) {
	c, err := protocol.Dial(ctx, addr, protocol.Config{})
	if err != nil {
		return nil, err
	}
	cc := &countingConn{Conn: c}
	fc.mu.Lock()
	fc.conns = append(fc.conns, cc)
	fc.mu.Unlock()
	return cc, nil
}

// result returns the frames after the handshakes and the bytes each added
// to its plain form, on average.
func (fc *frameCounter) result() (frames int64, extraPerFrame float64) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	var wire, plain int64
	for _, c := range fc.conns {
		c.mu.Lock()
		frames += c.frames
		plain += c.plain
		wire += c.BytesSent() + c.BytesReceived() - c.base
		c.mu.Unlock()
	}
	if frames == 0 {
		return 0, 0
	}
	return frames, float64(wire-plain) / float64(frames)
}

// countingConn counts the frames it sends and receives after the
// handshake, and what they would weigh unsealed.
type countingConn struct {
	*protocol.Conn
	mu     sync.Mutex
	base   int64 // bytes of the handshake
	frames int64
	plain  int64
	buf    []byte
}

func (c *countingConn) Handshake(ctx context.Context, self protocol.Hello, token string) (protocol.Hello, error) {
	h, err := c.Conn.Handshake(ctx, self, token)
	c.mu.Lock()
	c.base = c.BytesSent() + c.BytesReceived()
	c.mu.Unlock()
	return h, err
}

func (c *countingConn) count(m protocol.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	if c.buf, err = protocol.AppendFrame(c.buf[:0], m); err == nil {
		c.frames++
		c.plain += int64(len(c.buf))
	}
}

func (c *countingConn) Send(m protocol.Message) error {
	err := c.Conn.Send(m)
	if err == nil {
		c.count(m)
	}
	return err
}

// SendBatch counts a batch's frames (without it the embedded Conn's would
// bypass Send). A failed batch counts none: its connection is then closed.
func (c *countingConn) SendBatch(ms []protocol.Message) error {
	err := c.Conn.SendBatch(ms)
	if err == nil {
		for _, m := range ms {
			c.count(m)
		}
	}
	return err
}

func (c *countingConn) Recv() (protocol.Message, error) {
	m, err := c.Conn.Recv()
	if err == nil {
		c.count(m)
	}
	return m, err
}
