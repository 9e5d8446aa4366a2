package protocol

import (
	"errors"
	"fmt"
)

// Code names the reason of an Error frame. The values are wire format; a
// receiver must accept codes it does not know (RemoteError keeps them).
type Code string

const (
	// CodeUnauthorized: the token proof is missing or wrong, or one side
	// holds a token and the other none. The connection closes.
	CodeUnauthorized Code = "unauthorized"
	// CodeVersionMismatch: the peers speak different protocol versions;
	// the message names both. The connection closes.
	CodeVersionMismatch Code = "version-mismatch"
	// CodeBadHello: a Hello that cannot be accepted (wrong role, a message
	// out of order during the handshake). The connection closes.
	CodeBadHello Code = "bad-hello"
	// CodeBadFrame: a frame that does not decode, or a message the
	// receiver did not expect.
	CodeBadFrame Code = "bad-frame"
	// CodeBadScene: a Scene that does not load; the message says where.
	CodeBadScene Code = "bad-scene"
	// CodeUnknownScene: a TileJob names a scene the node does not hold;
	// send the Scene and retry the job.
	CodeUnknownScene Code = "unknown-scene"
	// CodeBadJob: a TileJob that fails TileJob.Validate.
	CodeBadJob Code = "bad-job"
	// CodeBusy: the peer is at a capacity limit for now (jobs in flight,
	// connections); retry later or elsewhere. The message names the limit.
	CodeBusy Code = "busy"
	// CodeLimit: the request exceeds a fixed limit (scene size, triangle
	// count, tile size); retrying does not help. The message names the limit.
	CodeLimit Code = "limit"
	// CodeCanceled: the job was canceled (by a Cancel or by the node).
	CodeCanceled Code = "canceled"
	// CodeShutdown: the peer is shutting down; its jobs in flight are
	// handed back unfinished.
	CodeShutdown Code = "shutdown"
	// CodeInternal: the peer failed for a reason of its own.
	CodeInternal Code = "internal"
	// CodePaused: the node is paused (its Pong's State says why); the job
	// was not done. The controller renders it elsewhere, counts no failure
	// against the node, and sends it no job until a Pong says ready.
	CodePaused Code = "paused"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrFrameTooLarge: a length prefix over the limit. The connection is
	// closed before the frame is read or any buffer allocated for it.
	ErrFrameTooLarge = errors.New("protocol: frame too large")
	// ErrBadFrame: a frame that is not a valid message (see PROTOCOL.md,
	// "Decoding rules"). The stream stays in step: the next Recv reads the
	// next frame.
	ErrBadFrame = errors.New("protocol: bad frame")
	// ErrUnauthorized: the handshake's token proof failed, on either side.
	ErrUnauthorized = errors.New("protocol: unauthorized")
	// ErrVersionMismatch: the peer speaks another protocol version.
	ErrVersionMismatch = errors.New("protocol: version mismatch")
	// ErrHandshake: any other handshake failure (wrong role, a message out
	// of order).
	ErrHandshake = errors.New("protocol: handshake failed")
	// ErrBadJob: a TileJob that fails Validate.
	ErrBadJob = errors.New("protocol: bad tile job")
	// ErrTampered: a sealed frame does not open with the connection's key:
	// it was altered, replayed, dropped (the next one fails) or reordered
	// on the way. The connection is closed.
	ErrTampered = errors.New("protocol: sealed frame does not open (altered, replayed, dropped or reordered on the way)")
	// ErrClosed: the Conn was closed by Close (or by the handshake's
	// context).
	ErrClosed = errors.New("protocol: connection closed")
)

// RemoteError is an Error frame received from the peer, as a Go error.
// errors.Is matches it against ErrUnauthorized, ErrVersionMismatch and
// ErrHandshake according to its code.
type RemoteError struct {
	Code    Code
	Message string
	Job     uint64 // 0 when it concerns the connection
}

func (e *RemoteError) Error() string {
	s := "protocol: peer reports " + string(e.Code)
	if e.Job != 0 {
		s += fmt.Sprintf(" for job %d", e.Job)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is reports whether the remote code means target.
func (e *RemoteError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Code == CodeUnauthorized
	case ErrVersionMismatch:
		return e.Code == CodeVersionMismatch
	case ErrHandshake:
		return e.Code == CodeBadHello
	}
	return false
}

// Err returns m as a *RemoteError.
func (m Error) Err() error {
	return &RemoteError{Code: m.Code, Message: m.Message, Job: m.Job}
}

// String returns the message name, or Kind(N) for an unknown kind.
func (k Kind) String() string {
	switch k {
	case KindHello:
		return "Hello"
	case KindChallenge:
		return "Challenge"
	case KindAnswer:
		return "Answer"
	case KindScene:
		return "Scene"
	case KindTileJob:
		return "TileJob"
	case KindTileResult:
		return "TileResult"
	case KindError:
		return "Error"
	case KindCancel:
		return "Cancel"
	case KindPing:
		return "Ping"
	case KindPong:
		return "Pong"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}
