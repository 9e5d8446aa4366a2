package node

import (
	"context"
	"image"
	"testing"

	"golang.org/x/sys/unix"

	"tessera/node/guest"
	"tessera/protocol"
	"tessera/render"
	"tessera/scheduler/schedtest"
)

// policyRender reports the scheduling policy of the thread each tile
// renders on.
type policyRender struct{ policies chan uint32 }

func (r policyRender) RenderTile(ctx context.Context, set render.Settings, rect image.Rectangle, dst []float32) (uint64, error) {
	attr, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return 0, err
	}
	r.policies <- attr.Policy
	schedtest.FillTile(dst, rect, set)
	return 1, nil
}

// TestNodeRendersOnIdleThreads: with Priority idle, tiles render and scenes
// load on SCHED_IDLE threads; without, on normal ones.
func TestNodeRendersOnIdleThreads(t *testing.T) {
	for _, tc := range []struct {
		p    guest.Priority
		want uint32
	}{
		{guest.PriorityIdle, unix.SCHED_IDLE},
		{guest.PriorityNormal, unix.SCHED_NORMAL},
	} {
		t.Run(tc.p.String(), func(t *testing.T) {
			rr := policyRender{policies: make(chan uint32, 8)}
			loads := make(chan uint32, 1)
			_, addr := startNodeWith(t, Config{Workers: 2, Priority: tc.p}, func(n *Node) {
				n.load = func(*render.Bundle, render.Limits) (renderer, error) {
					attr, err := unix.SchedGetAttr(0, 0)
					if err != nil {
						return nil, err
					}
					loads <- attr.Policy
					return rr, nil
				}
			})
			c := controllerConn(t, addr, "")
			send(t, c, schedtest.SceneFrame(schedtest.Bundle()))
			for i := range 4 {
				send(t, c, testJob(uint64(i+1), 32, image.Rect(i, 0, i+1, 1)))
			}
			if p := <-loads; p != tc.want {
				t.Errorf("the scene loaded on a thread of policy %d, want %d", p, tc.want)
			}
			for range 4 {
				if p := <-rr.policies; p != tc.want {
					t.Errorf("a tile rendered on a thread of policy %d, want %d", p, tc.want)
				}
				if _, ok := recv(t, c).(protocol.TileResult); !ok {
					t.Fatal("no result")
				}
			}
		})
	}
}
