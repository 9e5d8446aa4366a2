// Package schedtest is what the tests of the controller (scheduler) and of
// the node share: hostile and broken fake nodes, in the manner of
// net/http/httptest (a loopback listener whose connections run a script,
// optionally after a real protocol handshake), the fake renderer's pixels,
// the reference render and bit-exact image comparison.
//
// Only tests import this package.
package schedtest

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"tessera/protocol"
)

// Serve runs one connection of a Rogue: nc is the raw connection, c the
// protocol Conn after the handshake (nil when the Rogue does not handshake).
type Serve func(nc net.Conn, c *protocol.Conn)

// Rogue is a fake node on 127.0.0.1. It runs until the test ends; then its
// connections are closed and every goroutine is waited for.
type Rogue struct {
	Addr string // host:port to dial

	l     net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// StartRogue serves serve on a loopback listener. With hello.Role set, every
// connection first does a real token-less handshake as that hello; with the
// zero Hello, serve gets the raw connection only.
func StartRogue(t testing.TB, hello protocol.Hello, serve Serve) *Rogue {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Rogue{Addr: l.Addr().String(), l: l}
	r.wg.Go(func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, nc)
			r.mu.Unlock()
			r.wg.Go(func() {
				defer nc.Close()
				var c *protocol.Conn
				if hello.Role != "" {
					c = protocol.NewConn(nc, protocol.Config{})
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, err := c.Handshake(ctx, hello, "")
					cancel()
					if err != nil {
						return
					}
				}
				serve(nc, c)
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		r.mu.Lock()
		for _, nc := range r.conns {
			nc.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

// AnswerJobs answers every tile job with answer and every ping with a pong,
// until the connection ends; frames it cannot decode are skipped.
func AnswerJobs(answer func(c *protocol.Conn, j protocol.TileJob)) Serve {
	return func(_ net.Conn, c *protocol.Conn) {
		for {
			m, err := c.Recv()
			if errors.Is(err, protocol.ErrBadFrame) {
				continue
			}
			if err != nil {
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

// BlackHole accepts and never answers; it reads, so that the peer's writes
// do not block.
func BlackHole(nc net.Conn, _ *protocol.Conn) {
	buf := make([]byte, 32<<10)
	for {
		if _, err := nc.Read(buf); err != nil {
			return
		}
	}
}
