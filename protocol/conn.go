package protocol

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	readBufferSize  = 8 << 10
	writeBufferSize = 16 << 10
	// eagerBody is the largest frame body allocated in full on the word
	// of its length prefix; a larger body's buffer grows as its bytes
	// arrive, so that a peer that announces a big frame and sends nothing
	// costs little memory.
	eagerBody = 16 << 10
	// keepBuffer is the largest read or write buffer a Conn keeps for the
	// next frame; a larger frame's buffer is dropped after use (on the
	// read side it then backs the decoded message, uncopied).
	keepBuffer = 256 << 10
	// ioChunk is the most bytes of a frame read or written between two
	// renewals of the connection's deadline: Config.ReadTimeout and
	// WriteTimeout bound the wait for progress, so that a big Scene on a
	// slow link arrives however long it takes as a whole.
	ioChunk = 1 << 20
	// bigScene is the size of a Scene's files from which its encoding
	// waits for one of bigSends.
	bigScene = 16 << 20
)

// bigSends bounds the big Scenes being encoded and written at once, by all
// Conns together: each holds a copy of its files (sealed, for that
// connection alone) until it is written, so that a controller meeting many
// nodes at once would otherwise hold as many copies of a big scene.
var bigSends = make(chan struct{}, 2)

// Conn is a framed connection used by both controller and node. Send is safe
// for concurrent use; Recv must be called from one goroutine at a time;
// Close may be called at any time, from any goroutine, any number of times.
type Conn struct {
	nc  net.Conn
	cfg Config // defaults filled in

	// Send side, guarded by wmu.
	wmu     sync.Mutex
	bw      *bufio.Writer
	wbuf    []byte       // the frame being sent
	werr    error        // sticky: after a failed write the stream is broken
	waiting atomic.Int32 // Send calls queued on wmu: the last one flushes
	sent    atomic.Int64
	tx      *sealer // seals what Send writes, after a handshake with a token

	// Recv side, owned by the receiving goroutine.
	br        *bufio.Reader
	hdr       [4]byte
	rbuf      []byte // reused for frames up to keepBuffer
	rerr      error  // sticky: after a failed read the stream is out of step
	maxFrame  int    // the limit now: lower during the handshake
	lastScene string // interned TileJob.Scene
	received  atomic.Int64
	rx        *sealer     // opens what Recv reads, after a handshake with a token
	sealed    atomic.Bool // tx and rx are set: for Sealed, from any goroutine

	closed atomic.Bool
	done   chan struct{} // closed by Close: a Send waiting for a turn (bigSends) gives up
}

// NewConn wraps nc. The Conn owns nc from now on: Close closes it.
func NewConn(nc net.Conn, cfg Config) *Conn {
	cfg = cfg.withDefaults()
	return &Conn{
		nc:       nc,
		cfg:      cfg,
		bw:       bufio.NewWriterSize(nc, writeBufferSize),
		br:       bufio.NewReaderSize(nc, readBufferSize),
		maxFrame: cfg.MaxFrame,
		done:     make(chan struct{}),
	}
}

// Dial connects to addr over TCP. It does not handshake: call Handshake next.
func Dial(ctx context.Context, addr string, cfg Config) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("protocol: dial %s: %w", addr, err)
	}
	return NewConn(nc, cfg), nil
}

// Send writes m as one frame, within Config.WriteTimeout. Frames sent
// together by concurrent callers share system calls: a Send that sees
// another waiting leaves the flush to it. A nil return means the frame was
// handed to the kernel or to a Send that will flush it. After a write fails
// the connection is broken and every later Send returns the same error.
func (c *Conn) Send(m Message) error {
	c.lock()
	defer c.wmu.Unlock()
	if err := c.startWrite(time.Now().Add(c.cfg.WriteTimeout)); err != nil {
		return err
	}
	err := c.write(m)
	// Flush even when m was refused: frames of earlier Sends may be
	// waiting in the buffer for this call to flush them.
	if ferr := c.flushUnlessWaiting(); err == nil {
		err = ferr
	}
	return err
}

// SendBatch is Send for several messages: their frames go out back to back
// and are flushed once, within one Config.WriteTimeout a MiB (a controller's
// writer sends what its outbox holds so: one system call for many jobs). A
// message that cannot be encoded stops the batch (the frames before it are
// sent) and the error says which.
func (c *Conn) SendBatch(ms []Message) error {
	c.lock()
	defer c.wmu.Unlock()
	if err := c.startWrite(time.Now().Add(c.cfg.WriteTimeout)); err != nil {
		return err
	}
	var err error
	for i, m := range ms {
		if err = c.write(m); err != nil {
			if c.werr == nil {
				err = fmt.Errorf("protocol: send batch: message %d of %d: %w", i+1, len(ms), err)
			}
			break
		}
	}
	if ferr := c.flushUnlessWaiting(); err == nil {
		err = ferr
	}
	return err
}

// lock takes c.wmu, counted as waiting while it waits.
func (c *Conn) lock() {
	c.waiting.Add(1)
	c.wmu.Lock()
	c.waiting.Add(-1)
}

// startWrite checks that the connection can be written and sets the
// deadline of the writes to come. c.wmu must be held.
func (c *Conn) startWrite(deadline time.Time) error {
	if c.closed.Load() {
		return fmt.Errorf("protocol: send: %w", ErrClosed)
	}
	if c.werr != nil {
		return c.werr
	}
	if err := c.nc.SetWriteDeadline(deadline); err != nil {
		return c.writeFailed(err)
	}
	return nil
}

// write encodes m and hands its frame to the buffered writer. An encoding
// error leaves the connection usable. c.wmu must be held.
func (c *Conn) write(m Message) error {
	if c.werr != nil {
		return c.werr
	}
	dst := c.wbuf[:0]
	if size := sceneSize(m); size >= bigScene {
		select {
		case bigSends <- struct{}{}:
		case <-c.done:
			return c.writeFailed(ErrClosed)
		}
		defer func() { <-bigSends }()
		// The wait for a turn is not the peer's to answer for.
		if err := c.nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout)); err != nil {
			return c.writeFailed(err)
		}
		dst = make([]byte, 0, size+SealOverhead+4)
	}
	b, kind, err := appendFrame(dst, m)
	if err != nil {
		return err
	}
	if n := len(b) - 4; n > c.cfg.MaxFrame {
		return fmt.Errorf("%w: %v of %d bytes, the limit is %d", ErrFrameTooLarge, kind, n, c.cfg.MaxFrame)
	}
	if c.tx != nil {
		b = c.tx.seal(slices.Grow(b, SealOverhead))
	}
	c.wbuf = b
	err = c.writeChunks(b)
	if cap(c.wbuf) > keepBuffer {
		c.wbuf = nil
	}
	return err
}

// writeChunks writes b, renewing the write deadline after each ioChunk
// bytes. c.wmu must be held.
func (c *Conn) writeChunks(b []byte) error {
	for len(b) > 0 {
		k := min(len(b), ioChunk)
		n, err := c.bw.Write(b[:k])
		c.sent.Add(int64(n))
		if err != nil {
			return c.writeFailed(err)
		}
		if b = b[k:]; len(b) > 0 {
			if err := c.nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout)); err != nil {
				return c.writeFailed(err)
			}
		}
	}
	return nil
}

// sceneSize is m.FrameSize() if m is a Scene, else 0.
func sceneSize(m Message) int {
	switch m := m.(type) {
	case Scene:
		return m.FrameSize()
	case *Scene:
		return m.FrameSize()
	}
	return 0
}

// flushUnlessWaiting flushes unless another Send waits for c.wmu: that one
// will. c.wmu must be held.
func (c *Conn) flushUnlessWaiting() error {
	if c.waiting.Load() > 0 {
		return nil
	}
	return c.flush()
}

// flush writes out what is buffered. c.wmu must be held.
func (c *Conn) flush() error {
	if c.werr != nil {
		return c.werr
	}
	if err := c.bw.Flush(); err != nil {
		return c.writeFailed(err)
	}
	return nil
}

// writeFailed records err as the sticky write error. c.wmu must be held.
func (c *Conn) writeFailed(err error) error {
	if c.closed.Load() {
		err = ErrClosed
	}
	c.werr = fmt.Errorf("protocol: send: %w", err)
	return c.werr
}

// Recv reads and decodes the next frame, within Config.ReadTimeout. The
// message never aliases memory that a later Recv reuses.
//
// A frame that does not decode returns an error matching ErrBadFrame and
// leaves the stream in step: the next Recv reads the next frame. Any other
// error (the peer closed, a timeout, a truncated frame, ErrFrameTooLarge,
// ErrClosed) is final: every later Recv returns it, or ErrClosed once the
// connection is closed. A length prefix over the limit also closes the
// connection. A clean end of stream between frames
// matches io.EOF.
func (c *Conn) Recv() (Message, error) {
	if c.closed.Load() {
		return nil, fmt.Errorf("protocol: recv: %w", ErrClosed)
	}
	if c.rerr != nil {
		return nil, c.rerr
	}
	if c.cfg.ReadTimeout > 0 {
		if err := c.nc.SetReadDeadline(time.Now().Add(c.cfg.ReadTimeout)); err != nil {
			return nil, c.readFailed(err)
		}
	}
	p, owned, err := c.readFrame()
	if err != nil {
		return nil, err
	}
	return decodePayload(p, owned, &c.lastScene)
}

// readFrame reads one frame's payload. owned reports a buffer that will not
// be reused, which the decoded message may keep.
func (c *Conn) readFrame() (p []byte, owned bool, err error) {
	if c.closed.Load() {
		return nil, false, c.readFailed(ErrClosed)
	}
	k, err := io.ReadFull(c.br, c.hdr[:])
	c.received.Add(int64(k))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("truncated length prefix, %d of 4 bytes: %w", k, err)
		}
		return nil, false, c.readFailed(err)
	}
	n := binary.BigEndian.Uint32(c.hdr[:])
	limit := c.maxFrame
	if c.rx != nil {
		limit += SealOverhead
	}
	if uint64(n) > uint64(limit) {
		c.Close()
		c.rerr = &frameTooLargeError{size: n, limit: limit}
		return nil, false, c.rerr
	}
	p, owned, err = c.readBody(int(n))
	if err != nil || c.rx == nil {
		return p, owned, err
	}
	frame := c.rx.n
	if p, err = c.rx.open(c.hdr[:], p); err != nil {
		c.Close()
		c.rerr = fmt.Errorf("%w: frame %d after the handshake (%d bytes) from %v: %v; connection closed",
			ErrTampered, frame, n, c.RemoteAddr(), err)
		return nil, false, c.rerr
	}
	return p, owned, nil
}

// frameTooLargeError refuses a length prefix; it costs one allocation.
type frameTooLargeError struct {
	size  uint32
	limit int
}

func (e *frameTooLargeError) Error() string {
	return fmt.Sprintf("%v: the length prefix announces %d bytes, the limit is %d", ErrFrameTooLarge, e.size, e.limit)
}

func (e *frameTooLargeError) Unwrap() error { return ErrFrameTooLarge }

// readBody reads n bytes of payload. The buffer grows as the bytes arrive.
func (c *Conn) readBody(n int) (p []byte, owned bool, err error) {
	if n <= cap(c.rbuf) {
		p = c.rbuf[:0]
	} else {
		p = make([]byte, 0, min(n, max(eagerBody, 2*cap(c.rbuf))))
	}
	for len(p) < n {
		if len(p) == cap(p) {
			q := make([]byte, len(p), min(n, 2*cap(p)))
			copy(q, p)
			p = q
		}
		k, err := io.ReadFull(c.br, p[len(p):min(n, cap(p), len(p)+ioChunk)])
		c.received.Add(int64(k))
		p = p[:len(p)+k]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, false, c.readFailed(fmt.Errorf("truncated frame, %d of %d bytes: %w", len(p), n, err))
		}
		if len(p) < n && c.cfg.ReadTimeout > 0 && c.maxFrame > HandshakeMaxFrame {
			if err := c.nc.SetReadDeadline(time.Now().Add(c.cfg.ReadTimeout)); err != nil {
				return nil, false, c.readFailed(err)
			}
		}
	}
	if cap(p) > keepBuffer {
		return p, true, nil
	}
	c.rbuf = p
	return p, false, nil
}

// readFailed records err as the sticky read error.
func (c *Conn) readFailed(err error) error {
	if c.closed.Load() {
		err = ErrClosed
	}
	c.rerr = fmt.Errorf("protocol: recv: %w", err)
	return c.rerr
}

// Close closes the connection. Blocked Send and Recv calls return
// ErrClosed. Only the first call closes; later ones return nil.
func (c *Conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(c.done)
	if err := c.nc.Close(); err != nil {
		return fmt.Errorf("protocol: close: %w", err)
	}
	return nil
}

// BytesSent returns the bytes of all frames sent, length prefixes included.
func (c *Conn) BytesSent() int64 { return c.sent.Load() }

// BytesReceived returns the bytes of all frames received, length prefixes
// included (and the part read of a frame that failed).
func (c *Conn) BytesReceived() int64 { return c.received.Load() }

// Sealed reports whether frames are sealed: true after a handshake with a
// token, when every frame is encrypted and authenticated (PROTOCOL.md,
// "Sealed frames"); false before or without one, when frames cross the
// network as they are.
func (c *Conn) Sealed() bool { return c.sealed.Load() }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }
