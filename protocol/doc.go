// Package protocol is tessera's wire between a controller and a node:
// length-prefixed MessagePack frames over TCP, a versioned and optionally
// authenticated handshake, and a Conn type used by both sides.
//
// PROTOCOL.md in the repository root specifies every frame byte by byte.
//
// protocol imports nothing of tessera.
package protocol
