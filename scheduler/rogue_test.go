package scheduler

import (
	"testing"

	"tessera/protocol"
	"tessera/scheduler/schedtest"
)

// startRogue serves a hostile or broken "node" (see schedtest) and returns
// its address; with handshake, each connection first handshakes as node id.
func startRogue(t *testing.T, id string, handshake bool, serve schedtest.Serve) string {
	t.Helper()
	var hello protocol.Hello
	if handshake {
		hello = protocol.Hello{Role: protocol.RoleNode, ID: id, Cores: 2}
	}
	return schedtest.StartRogue(t, hello, serve).Addr
}
