package protocol

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// maxSkipDepth bounds the nesting of a value under an unknown key.
const maxSkipDepth = 16

// DecodeFrame decodes one complete frame, length prefix included. It fails
// with ErrBadFrame when the prefix does not match the bytes that follow or the
// payload is not a valid message. The message does not alias frame.
func DecodeFrame(frame []byte) (Message, error) {
	if len(frame) < 4 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the 4-byte length prefix", ErrBadFrame, len(frame))
	}
	n := binary.BigEndian.Uint32(frame)
	if uint64(n) != uint64(len(frame)-4) {
		return nil, fmt.Errorf("%w: length prefix says %d bytes, %d follow", ErrBadFrame, n, len(frame)-4)
	}
	return decodePayload(frame[4:], false, nil)
}

// decodePayload decodes the payload of one frame. With alias, byte fields may
// share p's memory (p is never reused); otherwise they are copied. intern, if
// not nil, holds the last scene hash seen, to spare an allocation per job.
func decodePayload(p []byte, alias bool, intern *string) (Message, error) {
	r := reader{b: p, alias: alias, intern: intern}
	n, err := r.arrayLen()
	if err != nil {
		return nil, err
	}
	if n != 2 {
		return nil, r.errorf(0, "the payload is an array of %d, want [kind, body]", n)
	}
	at := r.off
	k, err := r.uint64()
	if err != nil {
		return nil, err
	}
	if k > math.MaxUint8 {
		return nil, r.errorf(at, "kind %d out of range", k)
	}
	r.kind = Kind(k)
	var m Message
	switch r.kind {
	case KindHello:
		m, err = r.hello()
	case KindChallenge:
		var c Challenge
		err = r.fields(challengeKeys, func(string) (err error) {
			c.Nonce, err = r.bin()
			return err
		})
		m = c
	case KindAnswer:
		var a Answer
		err = r.fields(answerKeys, func(string) (err error) {
			a.MAC, err = r.bin()
			return err
		})
		m = a
	case KindScene:
		m, err = r.scene()
	case KindTileJob:
		m, err = r.tileJob()
	case KindTileResult:
		m, err = r.tileResult()
	case KindError:
		m, err = r.error()
	case KindCancel:
		var c Cancel
		err = r.fields(jobKeys, func(string) (err error) {
			c.Job, err = r.uint64()
			return err
		})
		m = c
	case KindPing:
		var p Ping
		err = r.fields(seqKeys, func(string) (err error) {
			p.Seq, err = r.uint64()
			return err
		})
		m = p
	case KindPong:
		var p Pong
		err = r.fields(pongKeys, func(key string) (err error) {
			switch key {
			case "s":
				p.Seq, err = r.uint64()
			case "st":
				var s string
				s, err = r.str()
				p.State = NodeState(s)
			}
			return err
		})
		m = p
	default:
		r.kind = 0
		return nil, r.errorf(at, "unknown kind %d", k)
	}
	if err != nil {
		return nil, err
	}
	if r.off != len(r.b) {
		r.field = ""
		return nil, r.errorf(r.off, "%d trailing bytes after the body", len(r.b)-r.off)
	}
	return m, nil
}

// The keys of each body, as api.go's struct tags name them.
var (
	helloKeys      = []string{"v", "r", "id", "n", "c", "sw", "a"}
	challengeKeys  = []string{"n"}
	answerKeys     = []string{"m"}
	sceneKeys      = []string{"h", "m", "f"}
	blobKeys       = []string{"n", "d"}
	tileJobKeys    = []string{"j", "s", "w", "h", "spp", "md", "x0", "y0", "x1", "y1", "e", "fr", "sa", "sb", "pm"}
	tileResultKeys = []string{"j", "e", "p", "r", "ns"}
	errorKeys      = []string{"c", "m", "j"}
	jobKeys        = []string{"j"}
	seqKeys        = []string{"s"}
	pongKeys       = []string{"s", "st"}
)

func (r *reader) hello() (m Hello, err error) {
	err = r.fields(helloKeys, func(key string) (err error) {
		switch key {
		case "v":
			m.Version, err = decodeInt[int](r)
		case "r":
			var s string
			s, err = r.str()
			m.Role = Role(s)
		case "id":
			m.ID, err = r.str()
		case "n":
			m.Name, err = r.str()
		case "c":
			m.Cores, err = decodeInt[int](r)
		case "sw":
			m.Software, err = r.str()
		case "a":
			m.Auth, err = r.bool()
		}
		return err
	})
	return m, err
}

func (r *reader) scene() (m Scene, err error) {
	err = r.fields(sceneKeys, func(key string) (err error) {
		switch key {
		case "h":
			m.Hash, err = r.str()
		case "m":
			m.Main, err = r.str()
		case "f":
			m.Files, err = r.blobs()
		}
		return err
	})
	return m, err
}

func (r *reader) blobs() ([]Blob, error) {
	at := r.off
	n, err := r.arrayLen()
	if err != nil || n == 0 {
		return nil, err
	}
	if n > MaxSceneFiles {
		return nil, r.errorf(at, "%d files, the limit MaxSceneFiles is %d", n, MaxSceneFiles)
	}
	files := make([]Blob, n)
	for i := range files {
		f := &files[i]
		r.file = i + 1
		err := r.fields(blobKeys, func(key string) (err error) {
			switch key {
			case "n":
				f.Name, err = r.str()
			case "d":
				f.Data, err = r.bin()
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	r.file = 0
	return files, nil
}

func (r *reader) tileJob() (m TileJob, err error) {
	err = r.fields(tileJobKeys, func(key string) (err error) {
		switch key {
		case "j":
			m.Job, err = r.uint64()
		case "s":
			m.Scene, err = r.internStr()
		case "w":
			m.Width, err = decodeInt[int](r)
		case "h":
			m.Height, err = decodeInt[int](r)
		case "spp":
			m.SPP, err = decodeInt[int](r)
		case "md":
			m.MaxDepth, err = decodeInt[int](r)
		case "x0":
			m.X0, err = decodeInt[int](r)
		case "y0":
			m.Y0, err = decodeInt[int](r)
		case "x1":
			m.X1, err = decodeInt[int](r)
		case "y1":
			m.Y1, err = decodeInt[int](r)
		case "e":
			m.Epoch, err = decodeUint[uint32](r)
		case "fr":
			var f int
			if f, err = decodeInt[int](r); err == nil {
				m.Frame = &f
			}
		case "sa":
			m.From, err = decodeInt[int](r)
		case "sb":
			m.To, err = decodeInt[int](r)
		case "pm":
			m.Mask, err = r.bin()
		}
		return err
	})
	return m, err
}

func (r *reader) tileResult() (m TileResult, err error) {
	err = r.fields(tileResultKeys, func(key string) (err error) {
		switch key {
		case "j":
			m.Job, err = r.uint64()
		case "e":
			m.Epoch, err = decodeUint[uint32](r)
		case "p":
			m.Pixels, err = r.bin()
		case "r":
			m.Rays, err = r.uint64()
		case "ns":
			m.Nanos, err = r.int64()
		}
		return err
	})
	return m, err
}

func (r *reader) error() (m Error, err error) {
	err = r.fields(errorKeys, func(key string) (err error) {
		switch key {
		case "c":
			var s string
			s, err = r.str()
			m.Code = Code(s)
		case "m":
			m.Message, err = r.str()
		case "j":
			m.Job, err = r.uint64()
		}
		return err
	})
	return m, err
}

// reader decodes the MessagePack subset of PROTOCOL.md from b, strictly:
// every value must have the type its key calls for.
type reader struct {
	b      []byte
	off    int
	kind   Kind   // the message being decoded, for errors
	field  string // the key being decoded, for errors
	file   int    // 1 + the index of the Scene file being decoded; 0 outside
	alias  bool   // bin values may share b's memory
	intern *string
}

// errorf returns an ErrBadFrame error that says where: message, key, offset.
func (r *reader) errorf(at int, format string, args ...any) error {
	where := "payload"
	switch {
	case r.file > 0:
		where = fmt.Sprintf("%v \"f[%d].%s\"", r.kind, r.file-1, r.field)
	case r.kind != 0 && r.field != "":
		where = fmt.Sprintf("%v %q", r.kind, r.field)
	case r.kind != 0:
		where = r.kind.String()
	}
	return fmt.Errorf("%w: %s at byte %d: %s", ErrBadFrame, where, at, fmt.Sprintf(format, args...))
}

// fields decodes a map body: for each known key, once, it calls field with
// the key (one of keys) to decode the value; it skips the values of unknown
// keys. A key missing from the map leaves its field zero.
func (r *reader) fields(keys []string, field func(key string) error) error {
	at := r.off
	n, err := r.mapLen()
	if err != nil {
		return err
	}
	if n > MaxMapKeys {
		return r.errorf(at, "a map of %d keys, the limit MaxMapKeys is %d", n, MaxMapKeys)
	}
	var seen uint64
	for entry := range n {
		r.field = ""
		at := r.off
		k, err := r.key()
		if err != nil {
			return err
		}
		i := lookup(keys, k, entry)
		if i < 0 {
			if err := r.skip(0); err != nil {
				return err
			}
			continue
		}
		r.field = keys[i]
		if seen&(1<<i) != 0 {
			return r.errorf(at, "key %q appears twice", keys[i])
		}
		seen |= 1 << i
		if err := field(keys[i]); err != nil {
			return err
		}
	}
	r.field = ""
	return nil
}

// lookup returns the index of k in keys, or -1. It tries guess first: our
// encoder writes the keys in the order of the table.
func lookup(keys []string, k []byte, guess int) int {
	if guess < len(keys) && keys[guess] == string(k) {
		return guess
	}
	for i, key := range keys {
		if key == string(k) {
			return i
		}
	}
	return -1
}

// typeName names the MessagePack type that byte c starts.
func typeName(c byte) string {
	switch {
	case c <= 0x7f || c >= 0xe0 || (c >= 0xcc && c <= 0xd3):
		return "integer"
	case c <= 0x8f || c == 0xde || c == 0xdf:
		return "map"
	case c <= 0x9f || c == 0xdc || c == 0xdd:
		return "array"
	case c <= 0xbf || (c >= 0xd9 && c <= 0xdb):
		return "str"
	case c == 0xc0:
		return "nil"
	case c == 0xc2 || c == 0xc3:
		return "bool"
	case c >= 0xc4 && c <= 0xc6:
		return "bin"
	case c == 0xca || c == 0xcb:
		return "float"
	case c == 0xc1:
		return "the reserved byte 0xc1"
	}
	return "ext"
}

// next returns the next n bytes, or an error if fewer remain.
func (r *reader) next(at, n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, r.errorf(at, "truncated: %d bytes needed, %d left", n, len(r.b)-r.off)
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p, nil
}

// code returns the first byte of the next value.
func (r *reader) code() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.errorf(r.off, "truncated: a value expected, no bytes left")
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

// size reads a big-endian length of w bytes (1, 2 or 4).
func (r *reader) size(at, w int) (int, error) {
	p, err := r.next(at, w)
	if err != nil {
		return 0, err
	}
	switch w {
	case 1:
		return int(p[0]), nil
	case 2:
		return int(binary.BigEndian.Uint16(p)), nil
	}
	n := binary.BigEndian.Uint32(p)
	if uint64(n) > uint64(len(r.b)) {
		return 0, r.errorf(at, "length %d exceeds the frame", n)
	}
	return int(n), nil
}

func (r *reader) mapLen() (int, error) {
	at := r.off
	c, err := r.code()
	switch {
	case err != nil:
		return 0, err
	case c >= 0x80 && c <= 0x8f:
		return int(c & 0x0f), nil
	case c == 0xde:
		return r.size(at, 2)
	case c == 0xdf:
		return r.size(at, 4)
	}
	return 0, r.errorf(at, "want map, got %s", typeName(c))
}

func (r *reader) arrayLen() (int, error) {
	at := r.off
	c, err := r.code()
	switch {
	case err != nil:
		return 0, err
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f), nil
	case c == 0xdc:
		return r.size(at, 2)
	case c == 0xdd:
		return r.size(at, 4)
	}
	return 0, r.errorf(at, "want array, got %s", typeName(c))
}

// rawStr returns the bytes of a str value, which must be UTF-8.
func (r *reader) rawStr() ([]byte, error) {
	at := r.off
	c, err := r.code()
	if err != nil {
		return nil, err
	}
	var n int
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = int(c & 0x1f)
	case c == 0xd9:
		n, err = r.size(at, 1)
	case c == 0xda:
		n, err = r.size(at, 2)
	case c == 0xdb:
		n, err = r.size(at, 4)
	default:
		return nil, r.errorf(at, "want str, got %s", typeName(c))
	}
	if err != nil {
		return nil, err
	}
	p, err := r.next(at, n)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(p) {
		return nil, r.errorf(at, "str is not valid UTF-8: %q", p)
	}
	return p, nil
}

// key returns a map key, which must be a str.
func (r *reader) key() ([]byte, error) { return r.rawStr() }

func (r *reader) str() (string, error) {
	p, err := r.rawStr()
	return string(p), err
}

// internStr is str, but returns the interned string when it is the same,
// and interns a new one.
func (r *reader) internStr() (string, error) {
	p, err := r.rawStr()
	if err != nil || r.intern == nil {
		return string(p), err
	}
	if *r.intern != string(p) {
		*r.intern = string(p)
	}
	return *r.intern, nil
}

// bin returns a bin value; nil when empty. It is a copy unless r.alias.
func (r *reader) bin() ([]byte, error) {
	at := r.off
	c, err := r.code()
	if err != nil {
		return nil, err
	}
	var n int
	switch c {
	case 0xc4:
		n, err = r.size(at, 1)
	case 0xc5:
		n, err = r.size(at, 2)
	case 0xc6:
		n, err = r.size(at, 4)
	default:
		return nil, r.errorf(at, "want bin, got %s", typeName(c))
	}
	if err != nil {
		return nil, err
	}
	p, err := r.next(at, n)
	if err != nil || n == 0 {
		return nil, err
	}
	if r.alias {
		return p[:n:n], nil
	}
	return append([]byte(nil), p...), nil
}

func (r *reader) bool() (bool, error) {
	at := r.off
	c, err := r.code()
	switch {
	case err != nil:
		return false, err
	case c == 0xc2:
		return false, nil
	case c == 0xc3:
		return true, nil
	}
	return false, r.errorf(at, "want bool, got %s", typeName(c))
}

// integer reads any MessagePack integer. neg reports a negative value, which
// is then int64(v).
func (r *reader) integer() (v uint64, neg bool, at int, err error) {
	at = r.off
	c, err := r.code()
	if err != nil {
		return 0, false, at, err
	}
	switch {
	case c <= 0x7f:
		return uint64(c), false, at, nil
	case c >= 0xe0:
		return uint64(int64(int8(c))), true, at, nil
	}
	var w int
	switch c {
	case 0xcc, 0xd0:
		w = 1
	case 0xcd, 0xd1:
		w = 2
	case 0xce, 0xd2:
		w = 4
	case 0xcf, 0xd3:
		w = 8
	default:
		return 0, false, at, r.errorf(at, "want integer, got %s", typeName(c))
	}
	p, err := r.next(at, w)
	if err != nil {
		return 0, false, at, err
	}
	if c >= 0xd0 { // signed
		var s int64
		switch w {
		case 1:
			s = int64(int8(p[0]))
		case 2:
			s = int64(int16(binary.BigEndian.Uint16(p)))
		case 4:
			s = int64(int32(binary.BigEndian.Uint32(p)))
		case 8:
			s = int64(binary.BigEndian.Uint64(p))
		}
		return uint64(s), s < 0, at, nil
	}
	switch w {
	case 1:
		return uint64(p[0]), false, at, nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), false, at, nil
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), false, at, nil
	}
	return binary.BigEndian.Uint64(p), false, at, nil
}

func (r *reader) uint64() (uint64, error) { return decodeUint[uint64](r) }

func (r *reader) int64() (int64, error) { return decodeInt[int64](r) }

// decodeUint reads an integer that must fit U.
func decodeUint[U ~uint8 | ~uint16 | ~uint32 | ~uint64](r *reader) (U, error) {
	v, neg, at, err := r.integer()
	if err != nil {
		return 0, err
	}
	if neg || uint64(U(v)) != v {
		return 0, r.errorf(at, "%s out of range for %T", formatInt(v, neg), U(0))
	}
	return U(v), nil
}

// decodeInt reads an integer that must fit I.
func decodeInt[I ~int | ~int32 | ~int64](r *reader) (I, error) {
	v, neg, at, err := r.integer()
	if err != nil {
		return 0, err
	}
	s := int64(v)
	if neg != (s < 0) || int64(I(s)) != s {
		return 0, r.errorf(at, "%s out of range for %T", formatInt(v, neg), I(0))
	}
	return I(s), nil
}

func formatInt(v uint64, neg bool) string {
	if neg {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatUint(v, 10)
}

// skip checks and skips one value of any type (under an unknown key).
func (r *reader) skip(depth int) error {
	at := r.off
	if depth > maxSkipDepth {
		return r.errorf(at, "values nested deeper than %d", maxSkipDepth)
	}
	c, err := r.code()
	if err != nil {
		return err
	}
	n := 0 // bytes to skip
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return nil
	case c <= 0x8f:
		return r.skipN(int(c&0x0f)*2, depth)
	case c <= 0x9f:
		return r.skipN(int(c&0x0f), depth)
	case c <= 0xbf:
		n = int(c & 0x1f)
	case c == 0xc4 || c == 0xd9:
		n, err = r.size(at, 1)
	case c == 0xc5 || c == 0xda:
		n, err = r.size(at, 2)
	case c == 0xc6 || c == 0xdb:
		n, err = r.size(at, 4)
	case c == 0xc7: // ext 8: size, type, data
		n, err = r.size(at, 1)
		n++
	case c == 0xc8:
		n, err = r.size(at, 2)
		n++
	case c == 0xc9:
		n, err = r.size(at, 4)
		n++
	case c == 0xca:
		n = 4
	case c == 0xcb:
		n = 8
	case c >= 0xcc && c <= 0xd3:
		n = 1 << (c & 0x03)
	case c >= 0xd4 && c <= 0xd8: // fixext 1, 2, 4, 8, 16: type, data
		n = 1 + 1<<(c-0xd4)
	case c == 0xdc:
		n, err = r.size(at, 2)
		if err == nil {
			return r.skipN(n, depth)
		}
	case c == 0xdd:
		n, err = r.size(at, 4)
		if err == nil {
			return r.skipN(n, depth)
		}
	case c == 0xde:
		n, err = r.size(at, 2)
		if err == nil {
			return r.skipN(2*n, depth)
		}
	case c == 0xdf:
		n, err = r.size(at, 4)
		if err == nil {
			return r.skipN(2*n, depth)
		}
	default: // 0xc1
		return r.errorf(at, "the reserved byte 0xc1")
	}
	if err != nil {
		return err
	}
	_, err = r.next(at, n)
	return err
}

// skipN skips n values one level deeper.
func (r *reader) skipN(n, depth int) error {
	for range n {
		if err := r.skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}
