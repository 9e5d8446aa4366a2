package bench

// Per-tile round trips, measured from the controller's side of each
// connection without any hook in the scheduler: Config.Dial hands the
// controller a connection that notes when each TileJob leaves and its
// TileResult comes back.

import (
	"context"
	"sync"
	"time"

	"tessera/protocol"
	"tessera/scheduler"
)

// tileTimes collects the round trips of every connection of one render.
type tileTimes struct {
	mu      sync.Mutex
	sent    map[connJob]time.Time // TileJobs sent, by connection and job
	trips   []time.Duration       // TileJob sent to TileResult received
	renders []time.Duration       // the node's own render time of each result
	cores   []int                 // workers each node offered in its Hello
}

// connJob names a job on one connection (job ids are unique per render, but
// a duplicated tile's copies have distinct ids anyway).
type connJob struct {
	conn *timedConn
	job  uint64
}

func newTileTimes() *tileTimes { return &tileTimes{sent: make(map[connJob]time.Time)} }

// dial is a scheduler.Config.Dial that times tiles.
func (tt *tileTimes) dial(ctx context.Context, addr string) (scheduler.NodeConn, error) {
	c, err := protocol.Dial(ctx, addr, protocol.Config{})
	if err != nil {
		return nil, err
	}
	return &timedConn{Conn: c, times: tt, now: time.Now}, nil
}

// snapshot returns copies of the round trips, render times and cores so far.
func (tt *tileTimes) snapshot() (trips, renders []time.Duration, cores []int) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return append([]time.Duration(nil), tt.trips...), append([]time.Duration(nil), tt.renders...), append([]int(nil), tt.cores...)
}

// timedConn is a protocol connection that reports tile round trips.
type timedConn struct {
	*protocol.Conn
	times *tileTimes
	now   func() time.Time
}

// Handshake notes the workers the node offers.
func (c *timedConn) Handshake(ctx context.Context, self protocol.Hello, token string) (protocol.Hello, error) {
	h, err := c.Conn.Handshake(ctx, self, token)
	if err == nil {
		c.times.mu.Lock()
		c.times.cores = append(c.times.cores, h.Cores)
		c.times.mu.Unlock()
	}
	return h, err
}

// Send notes when a TileJob leaves.
func (c *timedConn) Send(m protocol.Message) error {
	if j, ok := m.(protocol.TileJob); ok {
		c.times.mu.Lock()
		c.times.sent[connJob{conn: c, job: j.Job}] = c.now()
		c.times.mu.Unlock()
	}
	return c.Conn.Send(m)
}

// SendBatch notes when each TileJob of a batch leaves (the controller's
// writer sends what its outbox holds so; without this method the embedded
// Conn's would bypass Send).
func (c *timedConn) SendBatch(ms []protocol.Message) error {
	now := c.now()
	c.times.mu.Lock()
	for _, m := range ms {
		if j, ok := m.(protocol.TileJob); ok {
			c.times.sent[connJob{conn: c, job: j.Job}] = now
		}
	}
	c.times.mu.Unlock()
	return c.Conn.SendBatch(ms)
}

// Recv notes when a TileResult arrives.
func (c *timedConn) Recv() (protocol.Message, error) {
	m, err := c.Conn.Recv()
	if r, ok := m.(protocol.TileResult); ok && err == nil {
		now := c.now()
		key := connJob{conn: c, job: r.Job}
		c.times.mu.Lock()
		if t, ok := c.times.sent[key]; ok {
			delete(c.times.sent, key)
			c.times.trips = append(c.times.trips, now.Sub(t))
			c.times.renders = append(c.times.renders, time.Duration(r.Nanos))
		}
		c.times.mu.Unlock()
	}
	return m, err
}
