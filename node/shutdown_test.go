package node

import (
	"context"
	"errors"
	"image"
	"testing"
	"time"

	"tessera/protocol"
	"tessera/scheduler/schedtest"
)

func TestNodeShutdownHandsQueuedJobsBack(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline bool // the running tile outlives Shutdown's context
	}{
		{name: "running tile finishes"},
		{name: "deadline cancels the running tile", deadline: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := &recordingRender{gate: make(chan struct{}), started: make(chan image.Rectangle, 8)}
			n, addr, _ := startFakeNode(t, Config{Workers: 1}, rr)
			c := controllerConn(t, addr, "")
			send(t, c, schedtest.SceneFrame(schedtest.Bundle()))
			for i := range 5 {
				send(t, c, testJob(uint64(i+1), 32, image.Rect(i, 0, i+1, 1)))
			}
			<-rr.started // job 1 runs, 2..5 queued
			schedtest.WaitFor(t, "the jobs to be queued", 5*time.Second, func() bool { return n.Counters().JobsQueued == 4 })

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			shut := make(chan error, 1)
			go func() { shut <- n.Shutdown(ctx) }()
			// The connection is told first, then each queued job is handed back.
			if m, ok := recv(t, c).(protocol.Error); !ok || m.Code != protocol.CodeShutdown || m.Job != 0 {
				t.Fatalf("got %#v, want the shutdown notice for the connection (job 0)", m)
			}
			handed := map[uint64]bool{}
			for len(handed) < 4 { // at once, while job 1 still runs
				m, ok := recv(t, c).(protocol.Error)
				if !ok || m.Code != protocol.CodeShutdown || m.Job < 2 {
					t.Fatalf("got %#v, want shutdown hand-backs of jobs 2..5", m)
				}
				handed[m.Job] = true
			}
			// New work is refused the same way.
			send(t, c, testJob(9, 32, image.Rect(0, 1, 1, 2)))
			if m, ok := recv(t, c).(protocol.Error); !ok || m.Code != protocol.CodeShutdown || m.Job != 9 {
				t.Fatalf("got %#v, want job 9 handed back", m)
			}
			if tc.deadline {
				cancel()
				if m, ok := recv(t, c).(protocol.Error); !ok || m.Code != protocol.CodeShutdown || m.Job != 1 {
					t.Fatalf("got %#v, want the cancelled job 1 handed back", m)
				}
				if err := <-shut; !errors.Is(err, context.Canceled) {
					t.Errorf("Shutdown: %v, want context.Canceled", err)
				}
			} else {
				rr.gate <- struct{}{}
				if r, ok := recv(t, c).(protocol.TileResult); !ok || r.Job != 1 {
					t.Fatalf("got %#v, want job 1's result", r)
				}
				if err := <-shut; err != nil {
					t.Errorf("Shutdown: %v", err)
				}
			}
			if _, err := c.Recv(); err == nil {
				t.Error("connection open after Shutdown")
			}
			if k := n.Counters(); k.Conns != 0 || k.JobsQueued != 0 || k.JobsRunning != 0 {
				t.Errorf("after Shutdown: %+v", k)
			}
		})
	}
}

func TestNodeCloseIsIdempotent(t *testing.T) {
	n, addr, _ := startFakeNode(t, Config{}, &recordingRender{})
	c := controllerConn(t, addr, "")
	send(t, c, protocol.Ping{Seq: 1})
	recv(t, c)
	for range 3 {
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after Close: %v", err)
	}
	if _, err := c.Recv(); err == nil {
		t.Error("connection open after Close")
	}
}
