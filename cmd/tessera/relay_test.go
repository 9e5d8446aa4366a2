package main

// A man in the middle between the controller and a node (issue 18): a relay
// on loopback forwards every byte and, on the first connection through it,
// alters, replays or drops one of the node's frames after the handshake.
// With a token the controller catches it at that very frame, drops the
// connection, renders the tiles again and the image is exact; without one,
// the audit catches a flipped pixel.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"tessera/protocol"
	"tessera/scheduler/schedtest"
)

// relay forwards connections from its listener to a node and lets a test
// rewrite the node's frames on the first connection.
type relay struct {
	rogue    *schedtest.Rogue
	first    atomic.Bool
	tamper   func(i int, frame []byte) ([][]byte, bool) // frame i from the node: what to send instead, and whether it did
	at       int                                        // the index of the frame tampered with, once tampered is closed
	tampered chan struct{}
}

// startRelay relays 127.0.0.1:PORT to node; tamper, if not nil, is applied
// to the frames the node sends on the first connection until it reports
// that it acted. Connections are relayed only once gate is closed (nil: at
// once); until then they wait.
func startRelay(t *testing.T, node string, gate <-chan struct{}, tamper func(i int, frame []byte) ([][]byte, bool)) *relay {
	t.Helper()
	r := &relay{tamper: tamper, tampered: make(chan struct{})}
	r.first.Store(true)
	stop := make(chan struct{})
	r.rogue = schedtest.StartRogue(t, protocol.Hello{}, func(c net.Conn, _ *protocol.Conn) {
		if gate != nil {
			select {
			case <-gate:
			case <-stop:
				return
			}
		}
		n, err := net.Dial("tcp", node)
		if err != nil {
			return
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			_, _ = io.Copy(n, c)
			n.Close()
		})
		r.forward(c, n, r.first.Swap(false))
		c.Close()
		n.Close()
		wg.Wait()
	})
	t.Cleanup(func() { close(stop) }) // runs before the rogue's cleanup
	return r
}

func (r *relay) addr() string { return r.rogue.Addr }

// mustHaveTampered fails the test unless the relay has acted.
func (r *relay) mustHaveTampered(t *testing.T) {
	t.Helper()
	select {
	case <-r.tampered:
	default:
		t.Fatal("the relay never tampered with a frame")
	}
}

// forward copies the node's frames to the controller, frame by frame.
func (r *relay) forward(ctl, node net.Conn, first bool) {
	armed := first
	for i := 0; ; i++ {
		var hdr [4]byte
		if _, err := io.ReadFull(node, hdr[:]); err != nil {
			return
		}
		frame := make([]byte, 4+binary.BigEndian.Uint32(hdr[:]))
		copy(frame, hdr[:])
		if _, err := io.ReadFull(node, frame[4:]); err != nil {
			return
		}
		out := [][]byte{frame}
		if armed && r.tamper != nil {
			var did bool
			if out, did = r.tamper(i, frame); did {
				armed = false
				r.at = i
				close(r.tampered)
			}
		}
		for _, f := range out {
			if _, err := ctl.Write(f); err != nil {
				return
			}
		}
	}
}

// sealedHandshakeFrames is what a node sends during a handshake with a
// token: its Hello, its Challenge and its Answer.
const sealedHandshakeFrames = 3

// isResult tells a TileResult of an 8x8 tile (768 bytes of pixels) from
// the node's other frames (Pongs, Errors), whose sizes are far smaller.
func isResult(frame []byte) bool { return len(frame) > 8*8*protocol.BytesPerPixel }

// TestRelayTamperingCaught: with a token, a relay that flips a byte of a
// TileResult, replays one or drops one is caught by the controller at that
// frame (its log names the frame); it drops the connection, the node's
// tiles are rendered again (the node is dialled again) and the image equals
// the local render.
func TestRelayTamperingCaught(t *testing.T) {
	verifyNoLeaks(t)
	const token = "a-long-random-room-token-0123456789"
	args := renderArgs(cornell)
	want := localPNG(t, args)
	for _, tc := range []struct {
		name   string
		tamper func(frame []byte) [][]byte
		caught int // the frame the controller names, after the tampered one
	}{
		{name: "one byte of a TileResult flipped", tamper: func(f []byte) [][]byte {
			f[len(f)/2] ^= 0x01
			return [][]byte{f}
		}},
		{name: "a TileResult replayed", caught: 1, tamper: func(f []byte) [][]byte { return [][]byte{f, bytes.Clone(f)} }},
		{name: "a TileResult dropped", tamper: func([]byte) [][]byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := startNode(t, "behind-relay", "-token", token)
			const skip = 2 // results that pass untouched first
			results := 0
			r := startRelay(t, n.addr, nil, func(i int, f []byte) ([][]byte, bool) {
				if i < sealedHandshakeFrames || !isResult(f) {
					return [][]byte{f}, false
				}
				if results++; results <= skip {
					return [][]byte{f}, false
				}
				return tc.tamper(f), true
			})
			d := startRender(t, append(args, "-local", "0", "-nodes", r.addr(), "-token", token)...)
			img, st := d.finish(t)
			sameImage(t, "after the tampering", img, want)
			r.mustHaveTampered(t)
			frame := fmt.Sprintf("frame %d after the handshake", r.at-sealedHandshakeFrames+tc.caught)
			log := d.out.String()
			if !strings.Contains(log, "sealed frame does not open") || !strings.Contains(log, frame) {
				t.Errorf("the controller's log does not name %q as a frame that does not open:\n%s", frame, log)
			}
			if len(st.Nodes) != 1 || st.Nodes[0].Failures != 1 || st.Nodes[0].Excluded != "" || st.Retries == 0 {
				t.Errorf("stats %+v: want the one node with one failure, not excluded, and tiles retried", st)
			}
		})
	}
}

// TestRelayFlippedPixelAudited: without a token frames are not sealed, and a
// relay that changes one pixel value of the node's first TileResult goes
// through; the controller's audit catches it: the node behind the relay is
// excluded for wrong pixels, and the image equals the local render. The
// honest node is reached through a relay too, which opens only once the
// pixel was changed, so the first node surely gets a tile.
func TestRelayFlippedPixelAudited(t *testing.T) {
	verifyNoLeaks(t)
	args := renderArgs(cornell)
	want := localPNG(t, args)
	n := startNode(t, "behind-relay")
	honest := startNode(t, "honest")
	r := startRelay(t, n.addr, nil, func(i int, f []byte) ([][]byte, bool) {
		m, err := protocol.DecodeFrame(f)
		res, ok := m.(protocol.TileResult)
		if err != nil || !ok {
			return [][]byte{f}, false
		}
		v := math.Float32frombits(binary.LittleEndian.Uint32(res.Pixels[12:]))
		binary.LittleEndian.PutUint32(res.Pixels[12:], math.Float32bits(v+0.25)) // pixel 1, red
		out, err := protocol.AppendFrame(nil, res)
		if err != nil {
			t.Error(err)
			return [][]byte{f}, false
		}
		return [][]byte{out}, true
	})
	later := startRelay(t, honest.addr, r.tampered, nil)
	d := startRender(t, append(args, "-local", "0", "-nodes", r.addr()+","+later.addr())...)
	img, st := d.finish(t)
	sameImage(t, "after the flipped pixel", img, want)
	r.mustHaveTampered(t)
	if st.Mismatches == 0 {
		t.Errorf("stats %+v: want a mismatch", st)
	}
	for _, ns := range st.Nodes {
		switch bad := ns.Addr == r.addr(); {
		case bad && !strings.Contains(ns.Excluded, "wrong pixels"):
			t.Errorf("the node behind the relay: excluded %q, want it excluded for wrong pixels", ns.Excluded)
		case !bad && ns.Excluded != "":
			t.Errorf("the honest node was excluded: %q", ns.Excluded)
		}
	}
}
