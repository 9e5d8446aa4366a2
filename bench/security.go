package bench

// What protecting the room costs: sealed frames against plain ones.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"

	"tessera/protocol"
	"tessera/scheduler"
)

// security renders the main scene on one loopback node with a token and on
// one without, back to back (in alternating order), Runs times; then once
// more on the sealed node, counting frames, for the bytes sealing adds.
func (b *bencher) security(ctx context.Context, sc *scene) (*Security, error) {
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
	return &Security{Sealing: &Sealing{
		Workers:          b.s.Workers,
		PlainSeconds:     median(plains),
		SealedSeconds:    median(sealeds),
		Cost:             median(costs),
		CostAtEqualSpeed: median(equal),
		Tiles:            tiles,
		Frames:           frames,
		BytesPerFrame:    perFrame,
	}}, nil
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

func (c *countingConn) Recv() (protocol.Message, error) {
	m, err := c.Conn.Recv()
	if err == nil {
		c.count(m)
	}
	return m, err
}
