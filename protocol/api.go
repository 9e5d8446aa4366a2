package protocol

// This file is the public surface other packages build against: the
// messages, their wire keys, the limits and the configuration. The codec is
// in encode.go and decode.go, the connection in conn.go, the handshake in
// handshake.go and the errors in errors.go.

import "time"

// Version is the protocol version carried in Hello. Hello and Error are
// encoded the same way in every version, so that peers of different versions
// can always tell each other so.
const Version = 2

// Limits of the wire. See PROTOCOL.md, "Limits".
const (
	// DefaultMaxFrame is the largest frame payload accepted when
	// Config.MaxFrame is zero: 272 MiB, so that the biggest scene the
	// render package's default limits load (MaxSceneBytes, 256 MiB of
	// files) fits in one Scene frame with its names, up to MaxSceneFiles.
	// A big frame's buffer grows as its bytes arrive (see Conn).
	DefaultMaxFrame = 272 << 20
	// HandshakeMaxFrame is the largest frame payload accepted during the
	// handshake, whatever Config.MaxFrame says: an unauthenticated peer
	// cannot make a Conn allocate more than this.
	HandshakeMaxFrame = 64 << 10
	// MaxSceneFiles is the most files one Scene may carry.
	MaxSceneFiles = 1024
	// MaxMapKeys is the most keys one message body (a MessagePack map)
	// may hold, known and unknown ones together.
	MaxMapKeys = 64
	// NonceSize is the length of a Challenge nonce and of an Answer MAC.
	NonceSize = 32
)

// Kind identifies a message on the wire. The values are wire format: append only.
type Kind uint8

const (
	KindHello      Kind = 1
	KindChallenge  Kind = 2
	KindAnswer     Kind = 3
	KindScene      Kind = 4
	KindTileJob    Kind = 5
	KindTileResult Kind = 6
	KindError      Kind = 7
	KindCancel     Kind = 8
	KindPing       Kind = 9
	KindPong       Kind = 10
)

// Message is one of the message structs below, as a value: Send takes
// values (a pointer is refused as not a message of this package), Recv
// returns values.
type Message interface{ Kind() Kind }

// Role says which end of a connection a peer is. The values are wire format.
type Role string

const (
	RoleController Role = "controller" // dials, sends scenes and jobs
	RoleNode       Role = "node"       // listens, renders
)

// Hello opens a connection, from both sides. The msgpack tags are the wire
// keys; PROTOCOL.md lists them with their MessagePack types.
type Hello struct {
	Version  int    `msgpack:"v"`  // protocol version; zero in Handshake's self means Version
	Role     Role   `msgpack:"r"`  // RoleController or RoleNode
	ID       string `msgpack:"id"` // unique node (or controller) id
	Name     string `msgpack:"n"`  // human-readable name, e.g. the host name
	Cores    int    `msgpack:"c"`  // workers the sender offers (0 for a controller)
	Software string `msgpack:"sw"` // software version, e.g. "0.1.0"
	Auth     bool   `msgpack:"a"`  // the sender holds a token; Handshake sets it
}

// Challenge carries a fresh random nonce of NonceSize bytes; the peer answers
// with a MAC computed as PROTOCOL.md, "Authentication", describes.
type Challenge struct {
	Nonce []byte `msgpack:"n"`
}

// Answer answers a Challenge.
type Answer struct {
	MAC []byte `msgpack:"m"`
}

// Blob is one named file of a scene.
type Blob struct {
	Name string `msgpack:"n"` // slash-separated path relative to the scene file
	Data []byte `msgpack:"d"`
}

// Scene is a scene by content hash, with the scene file and every mesh and
// texture it references.
type Scene struct {
	Hash  string `msgpack:"h"` // content hash, chosen by the controller
	Main  string `msgpack:"m"` // name of the scene JSON among Files
	Files []Blob `msgpack:"f"` // at most MaxSceneFiles
}

// FrameSize is about the size of m's frame on the wire, from above: the
// MessagePack of each file's name and length is counted as 16 bytes.
func (m *Scene) FrameSize() int {
	n := len(m.Hash) + len(m.Main) + 64
	for _, f := range m.Files {
		n += len(f.Name) + len(f.Data) + 16
	}
	return n
}

// TileJob asks a node to render the rectangle [X0,X1) x [Y0,Y1) of an image
// of Width x Height pixels. Validate checks that it makes sense.
type TileJob struct {
	Job      uint64 `msgpack:"j"`   // job id, unique per controller connection
	Scene    string `msgpack:"s"`   // scene hash; the scene was sent before
	Width    int    `msgpack:"w"`   // image width in pixels
	Height   int    `msgpack:"h"`   // image height in pixels
	SPP      int    `msgpack:"spp"` // samples per pixel
	MaxDepth int    `msgpack:"md"`  // longest path, in bounces
	X0       int    `msgpack:"x0"`
	Y0       int    `msgpack:"y0"`
	X1       int    `msgpack:"x1"`
	Y1       int    `msgpack:"y1"`
	Epoch    uint32 `msgpack:"e"` // lease epoch, echoed in the result
	// Frame is the frame of the scene's animation to render: the node
	// evaluates the animation at it itself. nil renders the still (the
	// scene as its files stand), and the key is then left out, so that a
	// still's jobs are the frames they always were.
	Frame *int `msgpack:"fr,omitempty"`
	// To > 0 makes the job one pass of a progressive render: samples
	// [From, To) of each pixel of the rectangle that Mask selects, and the
	// result carries their sums, not means (see PassPixels). Zero (the keys
	// left out) renders every pixel's SPP samples, as a job always did.
	From int `msgpack:"sa,omitempty"`
	To   int `msgpack:"sb,omitempty"`
	// Mask selects the pixels of a pass, one bit a pixel of the rectangle
	// in row-major order (pixel k is bit k%8 of byte k/8, least significant
	// first; bits past the last pixel zero); nil (the key left out) selects
	// every pixel. Only with To > 0.
	Mask []byte `msgpack:"pm,omitempty"`
}

// TileResult carries a rendered tile: Pixels is linear float32 RGB, row-major,
// little-endian (EncodePixels and DecodePixels convert), 12 bytes a pixel:
// the job's pixels (TileJob.ResultPixels of them; for a pass, the sums of
// the pass's samples of the pixels its mask selects).
type TileResult struct {
	Job    uint64 `msgpack:"j"`
	Epoch  uint32 `msgpack:"e"`
	Pixels []byte `msgpack:"p"`
	Rays   uint64 `msgpack:"r"`  // rays traced for this tile
	Nanos  int64  `msgpack:"ns"` // render time on the node
}

// Error reports a failure; Job is 0 when it concerns the connection. Err
// turns it into a Go error.
type Error struct {
	Code    Code   `msgpack:"c"`
	Message string `msgpack:"m"`
	Job     uint64 `msgpack:"j"`
}

// Cancel withdraws a job.
type Cancel struct {
	Job uint64 `msgpack:"j"`
}

// Ping and Pong check liveness: a Pong echoes the Ping's Seq. A node's
// Pong also carries its State, so that a controller learns within a ping
// that a paused node takes tiles again (empty from a controller, and from
// nodes of earlier versions: ready).
type Ping struct {
	Seq uint64 `msgpack:"s"`
}
type Pong struct {
	Seq   uint64    `msgpack:"s"`
	State NodeState `msgpack:"st,omitempty"`
}

func (Hello) Kind() Kind      { return KindHello }
func (Challenge) Kind() Kind  { return KindChallenge }
func (Answer) Kind() Kind     { return KindAnswer }
func (Scene) Kind() Kind      { return KindScene }
func (TileJob) Kind() Kind    { return KindTileJob }
func (TileResult) Kind() Kind { return KindTileResult }
func (Error) Kind() Kind      { return KindError }
func (Cancel) Kind() Kind     { return KindCancel }
func (Ping) Kind() Kind       { return KindPing }
func (Pong) Kind() Kind       { return KindPong }

// Config tunes a Conn. The zero value is valid; a zero or negative field
// takes its default.
type Config struct {
	// MaxFrame is the largest frame payload sent or accepted, in bytes;
	// 0 means DefaultMaxFrame; more than 2^31-1 means 2^31-1. A larger length prefix closes the connection
	// with ErrFrameTooLarge before anything is allocated.
	MaxFrame int
	// ReadTimeout bounds each Recv's wait for a frame and its first MiB,
	// and then for each further MiB of it; 0 means none (use Ping to
	// detect a dead peer).
	ReadTimeout time.Duration
	// WriteTimeout bounds each Send's (or SendBatch's) writing of its
	// first MiB, and then of each further MiB; 0 means 10 s.
	WriteTimeout time.Duration
	// HandshakeTimeout bounds Handshake, on top of its context; 0 means 10 s.
	HandshakeTimeout time.Duration
}

const (
	defaultWriteTimeout     = 10 * time.Second
	defaultHandshakeTimeout = 10 * time.Second
)

// withDefaults returns a copy of cfg with its defaults filled in.
func (cfg Config) withDefaults() Config {
	switch {
	case cfg.MaxFrame <= 0:
		cfg.MaxFrame = DefaultMaxFrame
	case int64(cfg.MaxFrame) > maxFrameLimit:
		cfg.MaxFrame = maxFrameLimit
	}
	if cfg.ReadTimeout < 0 {
		cfg.ReadTimeout = 0
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaultWriteTimeout
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = defaultHandshakeTimeout
	}
	return cfg
}
