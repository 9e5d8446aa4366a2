package protocol

// This file is the public surface other packages build against.

import (
	"context"
	"errors"
	"net"
	"time"
)

// Version is the protocol version carried in Hello.
const Version = 1

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

// Message is one of the message structs below.
type Message interface{ Kind() Kind }

// Hello opens a connection, from both sides.
type Hello struct {
	Version  int
	Role     string // "controller" or "node"
	ID       string // unique node (or controller) id
	Name     string
	Cores    int
	Software string
}

// Challenge carries a fresh random nonce; the peer must answer with
// HMAC-SHA256(token, nonce).
type Challenge struct{ Nonce []byte }

// Answer answers a Challenge.
type Answer struct{ MAC []byte }

// Blob is one named file of a scene.
type Blob struct {
	Name string
	Data []byte
}

// Scene is a scene by content hash, with the scene file and every mesh and
// texture it references.
type Scene struct {
	Hash  string
	Main  string // name of the scene JSON among Files
	Files []Blob
}

// TileJob asks a node to render one rectangle.
type TileJob struct {
	Job            uint64
	Scene          string // scene hash
	Width, Height  int
	SPP, MaxDepth  int
	X0, Y0, X1, Y1 int
	Epoch          uint32
}

// TileResult carries a rendered tile: linear float32 RGB, row-major.
type TileResult struct {
	Job    uint64
	Epoch  uint32
	Pixels []byte
	Rays   uint64
	Nanos  int64 // render time on the node
}

// Error reports a failure; Job is 0 when it concerns the connection.
type Error struct {
	Code    string
	Message string
	Job     uint64
}

// Cancel withdraws a job.
type Cancel struct{ Job uint64 }

// Ping and Pong check liveness.
type Ping struct{ Seq uint64 }
type Pong struct{ Seq uint64 }

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

var errNotYet = errors.New("protocol: not implemented yet")

// Config tunes a Conn; the zero value is valid.
type Config struct {
	MaxFrame     int           // largest frame accepted; 0 means 64 MiB
	ReadTimeout  time.Duration // per Recv; 0 means none
	WriteTimeout time.Duration // per Send; 0 means 10 s
}

// Conn is a framed connection used by both controller and node. Send is safe
// for concurrent use; Recv must be called from one goroutine.
type Conn struct{}

// NewConn wraps nc.
func NewConn(nc net.Conn, cfg Config) *Conn { return &Conn{} }

// Dial connects to addr.
func Dial(ctx context.Context, addr string, cfg Config) (*Conn, error) { return nil, errNotYet }

func (c *Conn) Send(m Message) error   { return errNotYet }
func (c *Conn) Recv() (Message, error) { return nil, errNotYet }
func (c *Conn) Close() error           { return nil }
func (c *Conn) BytesSent() int64       { return 0 }
func (c *Conn) BytesReceived() int64   { return 0 }
func (c *Conn) RemoteAddr() net.Addr   { return nil }

// Handshake exchanges Hellos and, where either side holds a token, proves it
// (each side that has a token challenges the other). It returns the peer's Hello.
func (c *Conn) Handshake(ctx context.Context, self Hello, token string) (Hello, error) {
	return Hello{}, errNotYet
}
