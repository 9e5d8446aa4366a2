package scheduler

import (
	"errors"
	"net"
	"testing"

	"tessera/node"
)

// startNode serves a real node on 127.0.0.1:0 until the test ends.
func startNode(t testing.TB, cfg node.Config) (*node.Node, string) {
	t.Helper()
	n, err := node.New(cfg)
	if err != nil {
		t.Fatalf("node.New: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- n.Serve(l) }()
	t.Cleanup(func() {
		n.Close()
		if err := <-served; !errors.Is(err, node.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return n, l.Addr().String()
}
