package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// handshakeFrames is how many frames each direction carries during a
// handshake with tokens: Hello, Challenge and Answer, in some order.
const handshakeFrames = 3

// sealedPair returns two Conns over loopback TCP after a handshake with
// the same token (none when token is empty).
func sealedPair(t testing.TB, token string) (ctl, node *Conn) {
	t.Helper()
	ctl, node = tcpPair(t, Config{})
	c, n := handshakeBoth(ctl, node, controllerHello, nodeHello, token, token)
	if c.err != nil || n.err != nil {
		t.Fatalf("handshake: controller %v, node %v", c.err, n.err)
	}
	return ctl, node
}

// TestSealedRoundTrip: every message crosses a sealed connection both ways
// unchanged, each frame 16 bytes longer than its plain form; without a
// token the bytes are the plain frames.
func TestSealedRoundTrip(t *testing.T) {
	for _, token := range []string{"s3cret", ""} {
		t.Run(fmt.Sprintf("token %q", token), func(t *testing.T) {
			ctl, node := sealedPair(t, token)
			if ctl.Sealed() != (token != "") || node.Sealed() != (token != "") {
				t.Fatalf("Sealed: controller %v, node %v, want %v", ctl.Sealed(), node.Sealed(), token != "")
			}
			overhead := 0
			if token != "" {
				overhead = SealOverhead
			}
			for _, pair := range [][2]*Conn{{ctl, node}, {node, ctl}} {
				from, to := pair[0], pair[1]
				big := Scene{Hash: "b", Main: "m.obj", Files: []Blob{{Name: "m.obj", Data: bytes.Repeat([]byte("v 1 2 3\n"), 1<<17)}}}
				for _, m := range append(sampleMessages(), big, Ping{Seq: 1}) { // 1 MiB: a buffer not kept
					sent := from.BytesSent()
					errc := make(chan error, 1)
					go func() { errc <- from.Send(m) }()
					got, err := to.Recv()
					if err != nil {
						t.Fatalf("Recv %v: %v", m.Kind(), err)
					}
					if err := <-errc; err != nil {
						t.Fatalf("Send %v: %v", m.Kind(), err)
					}
					if !reflect.DeepEqual(got, m) {
						t.Fatalf("%v arrived as %#v", m.Kind(), got)
					}
					if n, want := from.BytesSent()-sent, int64(len(mustFrame(t, m))+overhead); n != want {
						t.Errorf("%v: %d bytes on the wire, want %d", m.Kind(), n, want)
					}
				}
			}
		})
	}
}

// TestSealedWireUnreadable: with a token nothing of a scene's files, a tile's
// pixels or any frame's payload appears on the wire; without one they do.
func TestSealedWireUnreadable(t *testing.T) {
	scene := Scene{Hash: "9f86d081884c7d65", Main: "room.json", Files: []Blob{
		{Name: "room.json", Data: []byte(`{"materials":{"lectern-oak":{"type":"diffuse"}}}`)},
	}}
	result := TileResult{Job: 9, Epoch: 1, Pixels: testPixels(32 * 32), Rays: 4096}
	secrets := map[string][]byte{
		"the scene's file":  scene.Files[0].Data,
		"the material name": []byte("lectern-oak"),
		"the scene's hash":  []byte(scene.Hash),
		"a row of pixels":   result.Pixels[12*32 : 12*64],
		"the job frame":     mustFrame(t, TileJob{Job: 9, Scene: scene.Hash, Width: 64, Height: 64, SPP: 1, MaxDepth: 2, X1: 32, Y1: 32})[4:],
	}
	for _, token := range []string{"s3cret", ""} {
		t.Run(fmt.Sprintf("token %q", token), func(t *testing.T) {
			x, y := net.Pipe()
			var wire syncBuffer
			ctl := NewConn(tapConn{Conn: x, w: &wire}, Config{})
			node := NewConn(tapConn{Conn: y, w: &wire}, Config{})
			defer ctl.Close()
			defer node.Close()
			if c, n := handshakeBoth(ctl, node, controllerHello, nodeHello, token, token); c.err != nil || n.err != nil {
				t.Fatal(c.err, n.err)
			}
			exchange(t, ctl, node, scene, TileJob{Job: 9, Scene: scene.Hash, Width: 64, Height: 64, SPP: 1, MaxDepth: 2, X1: 32, Y1: 32})
			exchange(t, node, ctl, result)
			b := wire.Bytes()
			for what, s := range secrets {
				if found := bytes.Contains(b, s); found != (token == "") {
					t.Errorf("%s on the wire: %v, want %v", what, found, token == "")
				}
			}
		})
	}
}

// exchange sends ms from one end and receives them at the other.
func exchange(t *testing.T, from, to *Conn, ms ...Message) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		for _, m := range ms {
			if err := from.Send(m); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for _, m := range ms {
		got, err := to.Recv()
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("Recv: %#v, %v; want %v", got, err, m.Kind())
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// relay forwards frames between two pipes, one goroutine a direction, and
// lets a test rewrite the frames of one direction: mangle gets each frame
// (prefix included, counted from 0, handshake frames included) and returns
// what to forward in its place.
type relay struct {
	wg     sync.WaitGroup
	closed chan struct{} // the controller's end stopped reading: it closed
	pipes  []net.Conn
}

// newRelay returns a controller Conn and a node Conn joined through a relay
// that applies mangle to the frames the node sends.
func newRelay(t *testing.T, mangle func(i int, frame []byte) [][]byte) (ctl, node *Conn, r *relay) {
	t.Helper()
	ctlEnd, relayC := net.Pipe()
	relayN, nodeEnd := net.Pipe()
	r = &relay{closed: make(chan struct{}), pipes: []net.Conn{ctlEnd, relayC, relayN, nodeEnd}}
	forward := func(src, dst net.Conn, mangle func(int, []byte) [][]byte) {
		defer r.wg.Done()
		defer src.Close()
		defer dst.Close()
		for i := 0; ; i++ {
			var hdr [4]byte
			if _, err := io.ReadFull(src, hdr[:]); err != nil {
				return
			}
			frame := make([]byte, 4+binary.BigEndian.Uint32(hdr[:]))
			copy(frame, hdr[:])
			if _, err := io.ReadFull(src, frame[4:]); err != nil {
				return
			}
			out := [][]byte{frame}
			if mangle != nil {
				out = mangle(i, frame)
			}
			for _, f := range out {
				if _, err := dst.Write(f); err != nil {
					return
				}
			}
		}
	}
	r.wg.Add(2)
	go forward(relayC, relayN, nil)
	go func() {
		forward(relayN, relayC, mangle)
		close(r.closed)
	}()
	ctl, node = NewConn(ctlEnd, Config{}), NewConn(nodeEnd, Config{})
	t.Cleanup(func() {
		ctl.Close()
		node.Close()
		r.wg.Wait()
	})
	return ctl, node, r
}

// TestSealedTamperingDetected: a relay that alters, replays, drops or
// reorders one of the node's frames after the handshake is caught at that
// frame: the frames before it arrive, Recv then fails with ErrTampered
// naming the frame, and the controller's end closes. Without a token the
// same altered frame is taken as it comes.
func TestSealedTamperingDetected(t *testing.T) {
	const sent, target = 6, 3 // the node sends 6 results; the relay touches the 4th
	var held []byte
	tests := []struct {
		name   string
		mangle func(frame []byte) [][]byte // the target frame, or the one after it for swap
		good   int                         // results that arrive before the failure
		failAt int                         // the frame the error names
	}{
		{name: "a byte of the pixels flipped", good: target, failAt: target, mangle: func(f []byte) [][]byte {
			f[len(f)/2] ^= 0x01
			return [][]byte{f}
		}},
		{name: "a byte of the tag flipped", good: target, failAt: target, mangle: func(f []byte) [][]byte {
			f[len(f)-1] ^= 0x80
			return [][]byte{f}
		}},
		{name: "the length prefix shortened by one", good: target, failAt: target, mangle: func(f []byte) [][]byte {
			binary.BigEndian.PutUint32(f, binary.BigEndian.Uint32(f)-1)
			return [][]byte{f}
		}},
		{name: "replayed", good: target + 1, failAt: target + 1, mangle: func(f []byte) [][]byte {
			return [][]byte{f, bytes.Clone(f)}
		}},
		{name: "dropped", good: target, failAt: target, mangle: func([]byte) [][]byte { return nil }},
		{name: "swapped with the next", good: target, failAt: target, mangle: nil}, // below
	}
	for _, tt := range tests {
		for _, token := range []string{"s3cret", ""} {
			if token == "" && tt.name != "a byte of the pixels flipped" {
				continue
			}
			t.Run(fmt.Sprintf("%s, token %q", tt.name, token), func(t *testing.T) {
				at := target
				if token != "" {
					at += handshakeFrames
				} else {
					at++ // the Hello
				}
				ctl, node, r := newRelay(t, func(i int, f []byte) [][]byte {
					switch {
					case tt.mangle == nil && i == at: // swap: hold this one
						held = f
						return nil
					case tt.mangle == nil && i == at+1:
						return [][]byte{f, held}
					case tt.mangle != nil && i == at:
						return tt.mangle(f)
					}
					return [][]byte{f}
				})
				if c, n := handshakeBoth(ctl, node, controllerHello, nodeHello, token, token); c.err != nil || n.err != nil {
					t.Fatal(c.err, n.err)
				}
				go func() {
					for j := range sent {
						if node.Send(TileResult{Job: uint64(j + 1), Pixels: testPixels(64)}) != nil {
							return
						}
					}
				}()
				if token == "" {
					for j := range sent {
						m, err := ctl.Recv()
						if err != nil {
							t.Fatalf("result %d: %v", j+1, err)
						}
						if j == target && bytes.Equal(m.(TileResult).Pixels, testPixels(64)) {
							t.Errorf("result %d: the flipped byte did not reach the pixels", j+1)
						}
					}
					return
				}
				for j := range tt.good {
					m, err := ctl.Recv()
					if err != nil {
						t.Fatalf("result %d of %d before the tampered frame: %v", j+1, tt.good, err)
					}
					if job := m.(TileResult).Job; job != uint64(j+1) {
						t.Fatalf("result %d: job %d", j+1, job)
					}
				}
				_, err := ctl.Recv()
				if !errors.Is(err, ErrTampered) {
					t.Fatalf("after %d results: %v, want ErrTampered", tt.good, err)
				}
				if want := fmt.Sprintf("frame %d after the handshake", tt.failAt); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "connection closed") {
					t.Errorf("%q: want it to say %q and that the connection is closed", err, want)
				}
				if _, again := ctl.Recv(); !errors.Is(again, ErrTampered) && !errors.Is(again, ErrClosed) {
					t.Errorf("Recv after the failure: %v", again)
				}
				select { // the relay sees the controller's end close
				case <-r.closed:
				case <-time.After(10 * time.Second):
					t.Fatal("the controller's end is still open")
				}
			})
		}
	}
}

// TestSealedMaxFrame: the frame limit counts the payload, not the tag: a
// payload of exactly MaxFrame bytes crosses a sealed connection.
func TestSealedMaxFrame(t *testing.T) {
	m := Scene{Hash: "h", Main: "a", Files: []Blob{{Name: "a", Data: make([]byte, 20000)}}}
	limit := len(mustFrame(t, m)) - 4
	for _, tc := range []struct {
		max  int
		want error
	}{{limit, nil}, {limit - 1, ErrFrameTooLarge}} {
		ctl, node := tcpPair(t, Config{MaxFrame: tc.max})
		if c, n := handshakeBoth(ctl, node, controllerHello, nodeHello, "k", "k"); c.err != nil || n.err != nil {
			t.Fatal(c.err, n.err)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := node.Recv()
			errc <- err
		}()
		err := ctl.Send(m)
		if !errors.Is(err, tc.want) {
			t.Fatalf("MaxFrame %d: Send %v, want %v", tc.max, err, tc.want)
		}
		if err == nil {
			if err := <-errc; err != nil {
				t.Fatalf("MaxFrame %d: Recv %v", tc.max, err)
			}
		}
		ctl.Close()
		node.Close()
		if err != nil {
			<-errc
		}
	}
}

// sealVectorInputs are the inputs of PROTOCOL.md's sealing test vector.
func sealVectorInputs(t testing.TB) (token string, nonceN, nonceC, helloC, helloN []byte) {
	nonceN, nonceC = make([]byte, NonceSize), make([]byte, NonceSize)
	for i := range NonceSize {
		nonceN[i], nonceC[i] = byte(i), byte(0x20+i)
	}
	helloC = mustFrame(t, Hello{Version: 2, Role: RoleController, ID: "c", Auth: true})[4:]
	helloN = mustFrame(t, Hello{Version: 2, Role: RoleNode, ID: "n", Cores: 2, Auth: true})[4:]
	return "s3cret", nonceN, nonceC, helloC, helloN
}

// TestSealVector recomputes PROTOCOL.md's sealing test vector: the keys and
// IVs of both directions and the first frames sealed with them.
func TestSealVector(t *testing.T) {
	token, nonceN, nonceC, helloC, helloN := sealVectorInputs(t)
	got := map[string]string{
		"token":  token,
		"nonceN": hex.EncodeToString(nonceN),
		"nonceC": hex.EncodeToString(nonceC),
		"helloC": hex.EncodeToString(helloC),
		"helloN": hex.EncodeToString(helloN),
	}
	for _, role := range []Role{RoleController, RoleNode} {
		key, iv, err := sealKeys(token, role, nonceN, nonceC, helloC, helloN)
		if err != nil {
			t.Fatal(err)
		}
		got["key "+string(role)] = hex.EncodeToString(key)
		got["iv "+string(role)] = hex.EncodeToString(iv)
	}
	seal := func(role Role, ms ...Message) []string {
		s, err := newSealer(token, role, nonceN, nonceC, helloC, helloN)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			f := mustFrame(t, m)
			out = append(out, hex.EncodeToString(s.seal(append(f, make([]byte, SealOverhead)...)[:len(f)])))
		}
		return out
	}
	c := seal(RoleController, Ping{Seq: 1}, Ping{Seq: 2})
	got["controller frame 0"], got["controller frame 1"] = c[0], c[1]
	got["node frame 0"] = seal(RoleNode, Pong{Seq: 1})[0]

	doc := map[string]string{}
	for _, line := range fencedAfter(t, readProtocolMD(t), "<!-- seal-vector -->") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		v, _, _ = strings.Cut(v, "  ") // a comment may follow
		doc[k] = strings.Trim(v, `"`)
	}
	for k, v := range got {
		if doc[k] != v {
			t.Errorf("%s = %s, PROTOCOL.md says %q", k, v, doc[k])
		}
	}
	for k := range doc {
		if _, ok := got[k]; !ok {
			t.Errorf("PROTOCOL.md's vector has %q, which the test does not check", k)
		}
	}

	// The frames open with the other side's sealer, in order only.
	for i, f := range c {
		raw, _ := hex.DecodeString(f)
		rx, _ := newSealer(token, RoleController, nonceN, nonceC, helloC, helloN)
		rx.n = uint64(i)
		p, err := rx.open(raw[:4], raw[4:])
		if err != nil || !bytes.Equal(p, mustFrame(t, Ping{Seq: uint64(i + 1)})[4:]) {
			t.Errorf("frame %d: opens to %x, %v", i, p, err)
		}
		rx.n = uint64(1 - i)
		if _, err := rx.open(raw[:4], raw[4:]); err == nil {
			t.Errorf("frame %d opens as frame %d", i, 1-i)
		}
	}
}

// TestSealKeysDependOnEveryInput: changing any input of the key schedule
// changes the keys, and the two directions never share a key.
func TestSealKeysDependOnEveryInput(t *testing.T) {
	token, nonceN, nonceC, helloC, helloN := sealVectorInputs(t)
	base, _, _ := sealKeys(token, RoleController, nonceN, nonceC, helloC, helloN)
	flip := func(b []byte) []byte { b = bytes.Clone(b); b[len(b)-1] ^= 1; return b }
	variants := map[string][]byte{}
	variants["token"], _, _ = sealKeys(token+"!", RoleController, nonceN, nonceC, helloC, helloN)
	variants["role"], _, _ = sealKeys(token, RoleNode, nonceN, nonceC, helloC, helloN)
	variants["nonceN"], _, _ = sealKeys(token, RoleController, flip(nonceN), nonceC, helloC, helloN)
	variants["nonceC"], _, _ = sealKeys(token, RoleController, nonceN, flip(nonceC), helloC, helloN)
	variants["nonces swapped"], _, _ = sealKeys(token, RoleController, nonceC, nonceN, helloC, helloN)
	variants["helloC"], _, _ = sealKeys(token, RoleController, nonceN, nonceC, flip(helloC), helloN)
	variants["helloN"], _, _ = sealKeys(token, RoleController, nonceN, nonceC, helloC, flip(helloN))
	for name, key := range variants {
		if bytes.Equal(key, base) {
			t.Errorf("changing the %s does not change the key", name)
		}
	}
}

// sealedReaderConn returns a Conn that opens the sealed frames r yields, as
// after a handshake, and the sealer that seals frames for it.
func sealedReaderConn(t testing.TB, r io.Reader) (*Conn, *sealer) {
	token, nonceN, nonceC, helloC, helloN := sealVectorInputs(t)
	c, _ := readerConn(r, Config{MaxFrame: 1 << 20})
	c.rx, _ = newSealer(token, RoleNode, nonceN, nonceC, helloC, helloN)
	tx, _ := newSealer(token, RoleNode, nonceN, nonceC, helloC, helloN)
	return c, tx
}

// FuzzRecvSealed feeds arbitrary bytes to a sealed Conn: Recv never panics,
// and a frame that was not sealed with the key never opens.
func FuzzRecvSealed(f *testing.F) {
	_, tx := sealedReaderConn(f, nil)
	var all []byte
	for _, m := range smallMessages() {
		fr := mustFrame(f, m)
		all = append(all, tx.seal(append(fr, make([]byte, SealOverhead)...)[:len(fr)])...)
	}
	f.Add(all)
	f.Add(all[:len(all)-3])
	f.Add([]byte{0, 0, 0, 0x10, 1, 2, 3})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	valid := all
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _ := sealedReaderConn(t, bytes.NewReader(data))
		for range len(data) + 1 {
			_, err := c.Recv()
			if err == nil || errors.Is(err, ErrBadFrame) {
				// Only the sealed frames of the seed open.
				if n := c.BytesReceived(); n > int64(len(valid)) || !bytes.Equal(data[:n], valid[:n]) {
					t.Fatalf("a frame opened that was not sealed with the key: %x", data[:n])
				}
				continue
			}
			if c.BytesReceived() > int64(len(data)) {
				t.Fatalf("BytesReceived %d of %d bytes", c.BytesReceived(), len(data))
			}
			return
		}
		t.Fatalf("Recv did not end within %d calls", len(data)+1)
	})
}
