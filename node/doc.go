// Package node is tessera's compute node: the executor that serves the
// protocol to any number of controllers and renders their tile jobs, and
// the service around it that lets controllers find it.
//
// # Executor
//
// A Node serves the protocol to any number of controllers. Tile jobs from
// all connections share one pool of workers, round robin between
// connections, so that two controllers each get half of the node. Scenes are
// cached by content hash, verified on arrival and bounded in bytes with
// least-recently-used eviction. Every resource a peer can make the node hold
// is bounded: connections (MaxConns), jobs per connection (MaxInFlight), the
// handshake's duration, frame size, tile size, samples and path depth. A peer
// that breaks the protocol is disconnected; the node never panics on input.
// Shutdown hands queued jobs back to their controllers at once (an Error frame
// with code "shutdown" and the job id) and finishes or cancels the tiles
// in flight by the context's deadline.
//
// The node prints nothing: logs go to the zerolog.Logger of the Config.
package node
