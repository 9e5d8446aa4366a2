package scheduler

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"tessera/protocol"
)

// rogue is a hostile or broken "node" on a real TCP listener. Each
// connection runs serve, which gets the raw connection and, unless
// handshake is false, the protocol Conn after a proper handshake.
type rogue struct {
	l     net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func startRogue(t *testing.T, id string, handshake bool, serve func(nc net.Conn, c *protocol.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rogue{l: l}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, nc)
			r.mu.Unlock()
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer nc.Close()
				var c *protocol.Conn
				if handshake {
					c = protocol.NewConn(nc, protocol.Config{})
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, err := c.Handshake(ctx, protocol.Hello{Role: protocol.RoleNode, ID: id, Cores: 2}, "")
					cancel()
					if err != nil {
						return
					}
				}
				serve(nc, c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		r.mu.Lock()
		for _, nc := range r.conns {
			nc.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return l.Addr().String()
}

// rogueJobs answers every job with answer until the connection ends;
// pings get pongs.
func rogueJobs(answer func(c *protocol.Conn, j protocol.TileJob)) func(net.Conn, *protocol.Conn) {
	return func(_ net.Conn, c *protocol.Conn) {
		for {
			m, err := c.Recv()
			if err != nil {
				if errors.Is(err, protocol.ErrBadFrame) {
					continue
				}
				return
			}
			switch m := m.(type) {
			case protocol.TileJob:
				answer(c, m)
			case protocol.Ping:
				_ = c.Send(protocol.Pong{Seq: m.Seq})
			}
		}
	}
}

// blackHole accepts and never answers; it reads, so that writes do not block.
func blackHole(nc net.Conn, _ *protocol.Conn) {
	buf := make([]byte, 32<<10)
	for {
		if _, err := nc.Read(buf); err != nil {
			return
		}
	}
}
