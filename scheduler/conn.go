package scheduler

import (
	"context"
	"image"

	"tessera/protocol"
	"tessera/render"
)

// NodeConn is a framed, handshaking connection: what the controller dials and
// the node serves. *protocol.Conn is one; tests use fakes.
type NodeConn interface {
	Handshake(ctx context.Context, self protocol.Hello, token string) (protocol.Hello, error)
	Send(m protocol.Message) error
	Recv() (protocol.Message, error)
	Close() error
	BytesSent() int64
	BytesReceived() int64
}

// TileRenderer renders rectangles of one loaded scene; *render.Scene is one.
// It must be safe for concurrent use.
type TileRenderer interface {
	RenderTile(ctx context.Context, set render.Settings, r image.Rectangle, dst []float32) (rays uint64, err error)
}

// loadScene builds a scene with the render package.
func loadScene(b *render.Bundle, lim render.Limits) (TileRenderer, error) {
	s, err := render.LoadBundle(b, lim)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// hashBundle is the render package's content hash.
func hashBundle(b *render.Bundle) string { return b.Hash() }
