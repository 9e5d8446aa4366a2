package scheduler

import (
	"context"
	"image"

	"tessera/protocol"
	"tessera/render"
)

// NodeConn is a framed, handshaking connection to a node: what Config.Dial
// returns. *protocol.Conn is one; tests use fakes.
type NodeConn interface {
	Handshake(ctx context.Context, self protocol.Hello, token string) (protocol.Hello, error)
	Send(m protocol.Message) error
	Recv() (protocol.Message, error)
	Close() error
	BytesSent() int64
	BytesReceived() int64
}

// batchSender is a NodeConn that can send several messages with one flush
// (*protocol.Conn): a session's writer then sends everything its outbox
// holds in one system call. A NodeConn that wraps a *protocol.Conn by
// embedding it and overrides Send must override SendBatch too, or its Send
// is bypassed.
type batchSender interface {
	SendBatch(ms []protocol.Message) error
}

// TileRenderer renders rectangles of the scene in-process (the in-process
// node, audits and arbitration); *render.Scene is one. It must be safe for
// concurrent use.
type TileRenderer interface {
	RenderTile(ctx context.Context, set render.Settings, r image.Rectangle, dst []float32) (rays uint64, err error)
}

// hashBundle is the render package's content hash.
func hashBundle(b *render.Bundle) string { return b.Hash() }
