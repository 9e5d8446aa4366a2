package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"unicode/utf8"
)

// The codec writes the subset of MessagePack that PROTOCOL.md specifies by
// hand rather than through msgpack.Marshal: it allocates nothing, and the
// decoder beside it is stricter than the library's (which reads nil as 0,
// wraps negative integers into unsigned fields and skips unknown values with
// unbounded recursion). The tests check both directions against
// github.com/vmihailenco/msgpack/v5 and the struct tags in api.go.

// maxFrameLimit is the largest payload any Config may allow.
const maxFrameLimit = math.MaxInt32

// AppendFrame appends m as one complete frame, length prefix included, to
// dst. It fails on a message that cannot be encoded (a string that is not
// UTF-8, a pointer, a Scene with more than MaxSceneFiles files) or whose
// payload would exceed 2^31-1 bytes, and then returns dst unchanged.
func AppendFrame(dst []byte, m Message) ([]byte, error) {
	b, _, err := appendFrame(dst, m)
	return b, err
}

// appendFrame is AppendFrame, and returns the kind of m too. It does not
// let m escape, so that sending a message value does not allocate.
func appendFrame(dst []byte, m Message) ([]byte, Kind, error) {
	start := len(dst)
	e := encoder{b: append(dst, 0, 0, 0, 0)}
	e.message(m)
	if e.err != nil {
		return dst, e.kind, e.err
	}
	n := len(e.b) - start - 4
	if n > maxFrameLimit {
		return dst, e.kind, fmt.Errorf("%w: %v of %d bytes", ErrFrameTooLarge, e.kind, n)
	}
	binary.BigEndian.PutUint32(e.b[start:], uint32(n))
	return e.b, e.kind, nil
}

// encoder appends MessagePack to b and keeps the first error.
type encoder struct {
	b    []byte
	err  error
	kind Kind // the message being encoded
}

// message appends the payload of m: the array [kind, body]. It calls no
// method of m, which would make m escape.
func (e *encoder) message(m Message) {
	switch m := m.(type) {
	case Hello:
		e.begin(KindHello)
		e.hello(&m)
	case Challenge:
		e.begin(KindChallenge)
		e.challenge(&m)
	case Answer:
		e.begin(KindAnswer)
		e.answer(&m)
	case Scene:
		e.begin(KindScene)
		e.scene(&m)
	case TileJob:
		e.begin(KindTileJob)
		e.tileJob(&m)
	case TileResult:
		e.begin(KindTileResult)
		e.tileResult(&m)
	case Error:
		e.begin(KindError)
		e.error(&m)
	case Cancel:
		e.begin(KindCancel)
		e.job(m.Job)
	case Ping:
		e.begin(KindPing)
		e.seq(m.Seq)
	case Pong:
		e.begin(KindPong)
		e.pong(&m)
	case nil:
		e.err = errors.New("protocol: encode: nil message")
	default:
		e.err = fmt.Errorf("protocol: encode: %v is not a message of this package", reflect.TypeOf(m))
	}
}

// begin starts a message of kind k.
func (e *encoder) begin(k Kind) {
	e.kind = k
	e.b = append(e.b, 0x92) // fixarray of 2
	e.b = appendUint(e.b, uint64(k))
}

func (e *encoder) job(id uint64) {
	e.mapLen(1)
	e.uint("j", id)
}

func (e *encoder) seq(n uint64) {
	e.mapLen(1)
	e.uint("s", n)
}

// pong writes the state only when there is one, so that a Pong without
// one is the same bytes as in earlier versions.
func (e *encoder) pong(m *Pong) {
	if m.State == "" {
		e.seq(m.Seq)
		return
	}
	e.mapLen(2)
	e.uint("s", m.Seq)
	e.str("st", string(m.State))
}

func (e *encoder) hello(m *Hello) {
	e.mapLen(7)
	e.int("v", int64(m.Version))
	e.str("r", string(m.Role))
	e.str("id", m.ID)
	e.str("n", m.Name)
	e.int("c", int64(m.Cores))
	e.str("sw", m.Software)
	e.bool("a", m.Auth)
}

func (e *encoder) challenge(m *Challenge) {
	e.mapLen(1)
	e.bin("n", m.Nonce)
}

func (e *encoder) answer(m *Answer) {
	e.mapLen(1)
	e.bin("m", m.MAC)
}

func (e *encoder) scene(m *Scene) {
	if len(m.Files) > MaxSceneFiles && e.err == nil {
		e.err = fmt.Errorf("protocol: encode Scene: %d files, the limit MaxSceneFiles is %d", len(m.Files), MaxSceneFiles)
	}
	e.mapLen(3)
	e.str("h", m.Hash)
	e.str("m", m.Main)
	e.key("f")
	e.b = appendArrayLen(e.b, len(m.Files))
	for i := range m.Files {
		e.mapLen(2)
		e.str("n", m.Files[i].Name)
		e.bin("d", m.Files[i].Data)
	}
}

func (e *encoder) tileJob(m *TileJob) {
	n := 11
	if m.Frame != nil {
		n++
	}
	if m.To != 0 {
		n += 2
	}
	if m.Mask != nil {
		n++
	}
	e.mapLen(n)
	e.uint("j", m.Job)
	e.str("s", m.Scene)
	e.int("w", int64(m.Width))
	e.int("h", int64(m.Height))
	e.int("spp", int64(m.SPP))
	e.int("md", int64(m.MaxDepth))
	e.int("x0", int64(m.X0))
	e.int("y0", int64(m.Y0))
	e.int("x1", int64(m.X1))
	e.int("y1", int64(m.Y1))
	e.uint("e", uint64(m.Epoch))
	if m.Frame != nil {
		e.int("fr", int64(*m.Frame))
	}
	if m.To != 0 {
		e.int("sa", int64(m.From))
		e.int("sb", int64(m.To))
	}
	if m.Mask != nil {
		e.bin("pm", m.Mask)
	}
}

func (e *encoder) tileResult(m *TileResult) {
	e.mapLen(5)
	e.uint("j", m.Job)
	e.uint("e", uint64(m.Epoch))
	e.bin("p", m.Pixels)
	e.uint("r", m.Rays)
	e.int("ns", m.Nanos)
}

func (e *encoder) error(m *Error) {
	e.mapLen(3)
	e.str("c", string(m.Code))
	e.str("m", m.Message)
	e.uint("j", m.Job)
}

func (e *encoder) mapLen(n int) { e.b = appendMapLen(e.b, n) }

// key appends a key; keys are constants of this file, short ASCII.
func (e *encoder) key(k string) { e.b = appendStr(e.b, k) }

func (e *encoder) uint(k string, v uint64) {
	e.key(k)
	e.b = appendUint(e.b, v)
}

func (e *encoder) int(k string, v int64) {
	e.key(k)
	e.b = appendInt(e.b, v)
}

func (e *encoder) bool(k string, v bool) {
	e.key(k)
	if v {
		e.b = append(e.b, 0xc3)
	} else {
		e.b = append(e.b, 0xc2)
	}
}

func (e *encoder) str(k, v string) {
	if !utf8.ValidString(v) && e.err == nil {
		e.err = fmt.Errorf("protocol: encode %v: field %q is not valid UTF-8: %q", e.kind, k, v)
	}
	e.key(k)
	e.b = appendStr(e.b, v)
}

func (e *encoder) bin(k string, v []byte) {
	e.key(k)
	e.b = appendBin(e.b, v)
}

// appendUint appends v in the smallest unsigned representation.
func appendUint(b []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

// appendInt appends v in the smallest representation: unsigned when v >= 0.
func appendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0:
		return appendUint(b, uint64(v))
	case v >= -32:
		return append(b, byte(v)) // negative fixint
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

func appendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func appendBin(b []byte, p []byte) []byte {
	n := len(p)
	switch {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, p...)
}

func appendMapLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}

func appendArrayLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}
