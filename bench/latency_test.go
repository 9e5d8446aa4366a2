package bench

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"tessera/protocol"
)

// steppingClock returns start, start+step, start+2*step, ... on each call.
type steppingClock struct {
	mu   sync.Mutex
	next time.Time
	step time.Duration
}

func (c *steppingClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.next
	c.next = c.next.Add(c.step)
	return t
}

// TestTimedConnMeasuresRoundTrips runs a controller's timed connection
// against a node over net.Pipe: the round trip of a tile is the clock's
// time between the TileJob's Send and its TileResult's Recv; results for
// jobs it never sent and other frames count nothing.
func TestTimedConnMeasuresRoundTrips(t *testing.T) {
	a, b := net.Pipe()
	clock := &steppingClock{next: time.Unix(1000, 0), step: 5 * time.Millisecond}
	times := newTileTimes()
	ctl := &timedConn{Conn: protocol.NewConn(a, protocol.Config{}), times: times, now: clock.now}
	node := protocol.NewConn(b, protocol.Config{})
	defer ctl.Close()
	defer node.Close()

	ctx := context.Background()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		if _, err := node.Handshake(ctx, protocol.Hello{Role: protocol.RoleNode, ID: "node-1", Cores: 3}, ""); err != nil {
			t.Errorf("node handshake: %v", err)
			return
		}
		m, err := node.Recv()
		if err != nil {
			t.Errorf("node recv: %v", err)
			return
		}
		job := m.(protocol.TileJob)
		pix := protocol.EncodePixels(make([]float32, 3*job.Pixels()))
		for _, reply := range []protocol.Message{
			protocol.TileResult{Job: 99, Pixels: pix, Rays: 1, Nanos: 1}, // a job never sent
			protocol.Pong{Seq: 1},
			protocol.TileResult{Job: job.Job, Epoch: job.Epoch, Pixels: pix, Rays: 4, Nanos: int64(2 * time.Millisecond)},
		} {
			if err := node.Send(reply); err != nil {
				t.Errorf("node send: %v", err)
				return
			}
		}
	})
	if _, err := ctl.Handshake(ctx, protocol.Hello{Role: protocol.RoleController, ID: "ctl"}, ""); err != nil {
		t.Fatal(err)
	}
	job := protocol.TileJob{Job: 7, Scene: "hash", Width: 8, Height: 8, SPP: 1, MaxDepth: 1, X0: 0, Y0: 0, X1: 4, Y1: 4, Epoch: 1}
	if err := ctl.Send(job); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := ctl.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	trips, renders, cores := times.snapshot()
	// The clock ticks once at the Send, then once per TileResult received.
	if len(trips) != 1 || trips[0] != 10*time.Millisecond {
		t.Errorf("round trips %v, want one of 10ms (the stray result ticks the clock but counts nothing)", trips)
	}
	if len(renders) != 1 || renders[0] != 2*time.Millisecond {
		t.Errorf("render times %v, want the node's 2ms", renders)
	}
	if len(cores) != 1 || cores[0] != 3 {
		t.Errorf("cores %v, want the 3 of the node's Hello", cores)
	}
}
