// Package protocol is tessera's wire between a controller and a node:
// length-prefixed MessagePack frames over TCP, a versioned and optionally
// authenticated handshake, and a Conn type used by both sides.
//
// PROTOCOL.md in the repository root specifies every message byte by byte,
// well enough to write a client in another language; this comment
// summarises it.
//
// # Framing
//
// Each frame is a four-byte, big-endian, unsigned length L followed by L
// bytes of MessagePack. L counts the payload only. The payload is an array
// of two elements, [kind, body]: kind is an unsigned integer (a Kind: 1
// Hello, 2 Challenge, 3 Answer, 4 Scene, 5 TileJob, 6 TileResult, 7 Error,
// 8 Cancel, 9 Ping, 10 Pong; append only) and body is a map from short
// string keys to the message's fields (the msgpack struct tags of api.go).
// A Ping with Seq 1 is the ten bytes
//
//	00 00 00 06   L = 6
//	92            array of 2
//	09            kind 9, Ping
//	81            map of 1 entry
//	a1 73         key "s"
//	01            Seq = 1
//
// A receiver checks L against Config.MaxFrame (272 MiB by default;
// HandshakeMaxFrame, 64 KiB, until the handshake succeeds) before it
// allocates anything, and closes the connection with ErrFrameTooLarge when L
// is larger. The buffer of a large frame grows as its bytes arrive.
//
// Decoding is strict: any integer form whose value fits the field, UTF-8
// strings, bin for bytes, no nil, no trailing bytes, no key twice; unknown
// kinds are errors (ErrBadFrame), unknown keys are checked and skipped.
// Pixels travel as little-endian float32 RGB, rows top to bottom
// (EncodePixels, DecodePixels). Messages go by value: Send refuses a
// pointer. The codec is hand-written because github.com/vmihailenco/msgpack
// (the tests' conformance oracle) reads nil as zero, wraps integers that do
// not fit, keeps the last of a repeated key and recurses without limit;
// PROTOCOL.md says so at length.
//
// # After the handshake
//
// Job ids start at 1 (0 is reserved: an Error with job 0 concerns the
// connection, and its sender closes after it, at once but for shutdown) and
// are unique among the jobs in flight. A Scene that loads gets no answer; one
// that does not gets Error bad-scene (or limit) with job 0 and the node closes
// the connection. Scene.Hash is the hex SHA-256 of the files as PROTOCOL.md
// builds it (render.Bundle.Hash). A node never pings and closes a connection
// idle for 60 s: a controller pings.
//
// # Handshake
//
// The controller dials and speaks first. Without a token: Hello out, Hello
// back. With a token on both sides each challenges the other: the node sends
// its Hello and a Challenge (32 random bytes); the controller answers with
// an HMAC-SHA256 keyed with the token over the nonce, its role and both
// Hellos, and sends its own Challenge; the node checks, then answers in
// turn. The token never crosses the wire. A wrong answer, a token on one
// side only, a version mismatch or a wrong role is refused with an Error
// frame and the connection closes; both sides then report ErrUnauthorized,
// ErrVersionMismatch or ErrHandshake.
//
// # Sealed frames
//
// After a handshake with a token, every frame in both directions is sealed
// with AES-256-GCM. Each direction's key and IV come from HKDF-SHA256: salt
// the two Challenge nonces (the node's first), secret the token, info
// "tessera-seal-v2\n", the sending side's role, "\n" and the SHA-256 of both
// Hellos; 32 bytes of key, 12 of IV. The i-th sealed frame of a direction
// (from 0) has the nonce IV XOR i (big-endian, in the last 8 bytes) and the
// length prefix as associated data; the prefix counts the 16-byte tag. A
// frame that does not open (altered, replayed, dropped, reordered) closes the
// connection and Recv returns an error matching ErrTampered. Without a token
// nothing is sealed: Conn.Sealed says which.
//
// # Conn
//
// A Conn is used by both ends. Send is safe for concurrent use and
// coalesces: frames queued by concurrent senders leave in one write, and
// SendBatch sends several with one flush (an Outbox drained with DrainBatch:
// a controller's jobs to one node share a system call). Recv is
// called from one goroutine; what it returns never aliases a buffer it
// reuses. Each Send and Recv has its own deadline (Config), Handshake honours
// its context and a timeout, and Close is idempotent and unblocks both.
//
// protocol imports nothing of tessera.
package protocol
