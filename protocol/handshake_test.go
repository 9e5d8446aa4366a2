package protocol

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	controllerHello = Hello{Role: RoleController, ID: "ctl-1", Name: "laptop", Software: "0.1.0"}
	nodeHello       = Hello{Role: RoleNode, ID: "node-1", Name: "pc-12", Cores: 4, Software: "0.1.0"}
)

type handshakeResult struct {
	peer Hello
	err  error
}

// handshakeBoth runs both ends of a handshake at once and waits for both.
func handshakeBoth(ctl, node *Conn, ctlSelf, nodeSelf Hello, ctlToken, nodeToken string) (c, n handshakeResult) {
	var wg sync.WaitGroup
	wg.Go(func() { c.peer, c.err = ctl.Handshake(context.Background(), ctlSelf, ctlToken) })
	wg.Go(func() { n.peer, n.err = node.Handshake(context.Background(), nodeSelf, nodeToken) })
	wg.Wait()
	return c, n
}

func TestHandshake(t *testing.T) {
	tests := []struct {
		name                 string
		ctlToken, nodeToken  string
		ctlVersion, nodeVers int
		want                 error  // on both sides; nil for success
		msg                  string // in both errors
	}{
		{name: "no token"},
		{name: "token right", ctlToken: "s3cret", nodeToken: "s3cret"},
		{name: "token wrong", ctlToken: "guess", nodeToken: "s3cret", want: ErrUnauthorized,
			msg: "the controller's answer to the challenge is wrong"},
		{name: "only the node has a token", nodeToken: "s3cret", want: ErrUnauthorized,
			msg: "the node requires a token and the controller has none"},
		{name: "only the controller has a token", ctlToken: "s3cret", want: ErrUnauthorized,
			msg: "the controller requires a token and the node has none"},
		{name: "controller newer", ctlVersion: Version + 1, want: ErrVersionMismatch,
			msg: "node speaks protocol version 2, controller speaks version 3"},
		{name: "node newer", nodeVers: Version + 1, want: ErrVersionMismatch,
			msg: "node speaks protocol version 3, controller speaks version 2"},
		{name: "node newer with tokens", nodeVers: Version + 1, ctlToken: "s3cret", nodeToken: "s3cret",
			want: ErrVersionMismatch, msg: "node speaks protocol version 3, controller speaks version 2"},
		// Version 1 had no sealed frames: its peers are told so by name.
		{name: "controller of version 1", ctlVersion: 1, ctlToken: "s3cret", nodeToken: "s3cret",
			want: ErrVersionMismatch, msg: "node speaks protocol version 2, controller speaks version 1"},
		{name: "node of version 1", nodeVers: 1, ctlToken: "s3cret", nodeToken: "s3cret",
			want: ErrVersionMismatch, msg: "node speaks protocol version 1, controller speaks version 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctl, node := pipePair(t, Config{})
			cs, ns := controllerHello, nodeHello
			cs.Version, ns.Version = tt.ctlVersion, tt.nodeVers
			c, n := handshakeBoth(ctl, node, cs, ns, tt.ctlToken, tt.nodeToken)
			if tt.want == nil {
				if c.err != nil || n.err != nil {
					t.Fatalf("controller: %v; node: %v", c.err, n.err)
				}
				wantN, wantC := nodeHello, controllerHello
				wantN.Version, wantC.Version = Version, Version
				wantN.Auth, wantC.Auth = tt.nodeToken != "", tt.ctlToken != ""
				if c.peer != wantN || n.peer != wantC {
					t.Fatalf("peers:\n%#v\n%#v", c.peer, n.peer)
				}
				checkUsable(t, ctl, node)
				return
			}
			for side, err := range map[string]error{"controller": c.err, "node": n.err} {
				if !errors.Is(err, tt.want) {
					t.Errorf("%s: %v, want %v", side, err, tt.want)
				}
				if err != nil && !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("%s: %q, want it to say %q", side, err, tt.msg)
				}
			}
			if _, err := ctl.Recv(); !errors.Is(err, ErrClosed) {
				t.Errorf("controller Recv after a failed handshake: %v, want ErrClosed", err)
			}
		})
	}
}

// checkUsable sends a frame each way after a handshake, with no deadline
// left over from it.
func checkUsable(t *testing.T, ctl, node *Conn) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		m, err := node.Recv()
		if err == nil && m != (Ping{Seq: 1}) {
			err = errors.New("wrong message")
		}
		if err == nil {
			err = node.Send(Pong{Seq: 1})
		}
		errc <- err
	}()
	if err := ctl.Send(Ping{Seq: 1}); err != nil {
		t.Fatal(err)
	}
	if m, err := ctl.Recv(); err != nil || m != (Pong{Seq: 1}) {
		t.Fatalf("Recv after the handshake: %#v, %v", m, err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("node after the handshake: %v", err)
	}
}

// TestHandshakeRoleMismatch runs over TCP: two controllers both speak first,
// which a synchronous net.Pipe would block.
func TestHandshakeRoleMismatch(t *testing.T) {
	a, b := tcpPair(t, Config{})
	ra, rb := handshakeBoth(a, b, controllerHello, controllerHello, "", "")
	for _, err := range []error{ra.err, rb.err} {
		if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), `a controller expects a node, the peer says it is a "controller"`) {
			t.Errorf("%v, want ErrHandshake naming the roles", err)
		}
	}
}

func TestHandshakeOwnRole(t *testing.T) {
	a, _ := pipePair(t, Config{})
	_, err := a.Handshake(context.Background(), Hello{Role: "admin"}, "")
	if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), `own role "admin"`) {
		t.Fatalf("%v, want ErrHandshake", err)
	}
}

// rogue is a hand-driven peer for the handshake tests.
type rogue struct {
	t *testing.T
	c *Conn
}

func (r rogue) send(m Message) {
	r.t.Helper()
	if err := r.c.Send(m); err != nil {
		r.t.Errorf("rogue Send %v: %v", m.Kind(), err)
	}
}

// sendAll writes msgs in one write, as an honest peer does.
func (r rogue) sendAll(msgs ...Message) {
	r.t.Helper()
	var b []byte
	for _, m := range msgs {
		b = append(b, mustFrame(r.t, m)...)
	}
	r.sendRaw(b)
}

// sendRaw writes bytes as they are.
func (r rogue) sendRaw(b []byte) {
	r.t.Helper()
	r.c.wmu.Lock()
	defer r.c.wmu.Unlock()
	if _, err := r.c.bw.Write(b); err != nil {
		r.t.Errorf("rogue write: %v", err)
	}
	if err := r.c.bw.Flush(); err != nil {
		r.t.Errorf("rogue write: %v", err)
	}
}

func (r rogue) recv(want Kind) Message {
	r.t.Helper()
	m, err := r.c.Recv()
	if err != nil {
		r.t.Errorf("rogue Recv: %v, want %v", err, want)
		return nil
	}
	if m.Kind() != want {
		r.t.Errorf("rogue Recv: %#v, want %v", m, want)
	}
	return m
}

// runRogue runs honest.Handshake against script on the other end.
func runRogue(t *testing.T, self Hello, token string, script func(r rogue)) error {
	t.Helper()
	honest, other := pipePair(t, Config{HandshakeTimeout: 5 * time.Second})
	done := make(chan struct{})
	go func() {
		defer close(done)
		script(rogue{t: t, c: other})
	}()
	_, err := honest.Handshake(context.Background(), self, token)
	<-done
	return err
}

// TestRogueNodeGetsNoScene: a node without the token cannot pass a
// controller's handshake, whatever it answers.
func TestRogueNodeGetsNoScene(t *testing.T) {
	liar := nodeHello
	liar.Version, liar.Auth = Version, true
	tests := []struct {
		name   string
		answer func(controllerAnswer Answer, challenge Challenge) Answer
	}{
		{name: "garbage", answer: func(Answer, Challenge) Answer { return Answer{MAC: make([]byte, NonceSize)} }},
		{name: "no MAC", answer: func(Answer, Challenge) Answer { return Answer{} }},
		{name: "replays the controller's answer", answer: func(a Answer, _ Challenge) Answer { return a }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runRogue(t, controllerHello, "s3cret", func(r rogue) {
				r.recv(KindHello)
				r.sendAll(liar, Challenge{Nonce: bytes.Repeat([]byte{7}, NonceSize)})
				a, _ := r.recv(KindAnswer).(Answer)
				ch, _ := r.recv(KindChallenge).(Challenge)
				r.send(tt.answer(a, ch))
				if e, ok := r.recv(KindError).(Error); ok && e.Code != CodeUnauthorized {
					t.Errorf("the controller told the rogue %q, want %q", e.Code, CodeUnauthorized)
				}
			})
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("controller: %v, want ErrUnauthorized", err)
			}
		})
	}
}

// TestRogueControllerLearnsNothing: a controller without the token gets an
// unauthorized Error, never the node's answer.
func TestRogueControllerLearnsNothing(t *testing.T) {
	liar := controllerHello
	liar.Version, liar.Auth = Version, true
	err := runRogue(t, nodeHello, "s3cret", func(r rogue) {
		r.send(liar)
		r.recv(KindHello)
		r.recv(KindChallenge)
		r.sendAll(Answer{MAC: make([]byte, NonceSize)}, Challenge{Nonce: bytes.Repeat([]byte{7}, NonceSize)})
		if e, ok := r.recv(KindError).(Error); ok && e.Code != CodeUnauthorized {
			t.Errorf("the node told the rogue %q, want %q", e.Code, CodeUnauthorized)
		}
	})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("node: %v, want ErrUnauthorized", err)
	}
}

func TestHandshakeBadPeers(t *testing.T) {
	tests := []struct {
		name   string
		self   Hello
		token  string
		script func(r rogue)
		want   error
		msg    string
	}{
		{name: "a job instead of a Hello", self: nodeHello, want: ErrHandshake, msg: "want Hello, got TileJob",
			script: func(r rogue) {
				r.send(TileJob{Job: 1})
				r.recv(KindError)
			}},
		{name: "an undecodable frame", self: nodeHello, want: ErrBadFrame, msg: "want Hello: protocol: bad frame: payload at byte 1: unknown kind 42",
			script: func(r rogue) {
				r.sendRaw([]byte{0, 0, 0, 3, 0x92, 0x2a, 0x80})
				r.recv(KindError)
			}},
		{name: "a short nonce", self: controllerHello, token: "s3cret", want: ErrHandshake, msg: "nonce of 3 bytes",
			script: func(r rogue) {
				r.recv(KindHello)
				h := nodeHello
				h.Version, h.Auth = Version, true
				r.sendAll(h, Challenge{Nonce: []byte{1, 2, 3}})
				r.recv(KindError)
			}},
		{name: "a frame over the handshake limit", self: nodeHello, want: ErrFrameTooLarge, msg: "limit is 65536",
			script: func(r rogue) {
				// The node closes the pipe while this is being written.
				_ = r.c.Send(Hello{Role: RoleController, Name: strings.Repeat("x", HandshakeMaxFrame)})
			}},
		{name: "an Error instead of a Hello", self: controllerHello, want: ErrUnauthorized, msg: "go away",
			script: func(r rogue) {
				r.recv(KindHello)
				r.send(Error{Code: CodeUnauthorized, Message: "go away"})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runRogue(t, tt.self, tt.token, tt.script)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("%v, want %v saying %q", err, tt.want, tt.msg)
			}
		})
	}
}

func TestHandshakeTimeout(t *testing.T) {
	a, _ := pipePair(t, Config{HandshakeTimeout: 50 * time.Millisecond}) // the peer never speaks
	start := time.Now()
	_, err := a.Handshake(context.Background(), nodeHello, "")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 50ms") {
		t.Fatalf("%v, want a timeout", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("returned after %v", d)
	}
	if _, err := a.Recv(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Recv after the timeout: %v, want ErrClosed", err)
	}
}

func TestHandshakeContextCanceled(t *testing.T) {
	a, b := pipePair(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := a.Handshake(ctx, controllerHello, "")
		errc <- err
	}()
	if _, err := b.Recv(); err != nil { // the Hello: the handshake is under way
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("%v, want context.Canceled", err)
	}
	if _, err := b.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("peer Recv: %v, want io.EOF (the conn was closed)", err)
	}
}

// TestTokenNeverOnTheWire records both directions of a token handshake.
func TestTokenNeverOnTheWire(t *testing.T) {
	const token = "correct horse battery staple"
	x, y := net.Pipe()
	var wire syncBuffer
	ctl := NewConn(tapConn{Conn: x, w: &wire}, Config{})
	node := NewConn(tapConn{Conn: y, w: &wire}, Config{})
	defer ctl.Close()
	defer node.Close()
	c, n := handshakeBoth(ctl, node, controllerHello, nodeHello, token, token)
	if c.err != nil || n.err != nil {
		t.Fatal(c.err, n.err)
	}
	b := wire.Bytes()
	if len(b) < 200 || bytes.Contains(b, []byte(token)) || bytes.Contains(b, []byte(token[:8])) {
		t.Fatalf("%d bytes on the wire, token found: %v", len(b), bytes.Contains(b, []byte(token[:8])))
	}
}

type tapConn struct {
	net.Conn
	w io.Writer
}

func (c tapConn) Write(p []byte) (int, error) {
	c.w.Write(p)
	return c.Conn.Write(p)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// TestAnswerMAC checks the test vector of PROTOCOL.md and that every input
// of the MAC matters.
func TestAnswerMAC(t *testing.T) {
	nonce := make([]byte, NonceSize)
	for i := range nonce {
		nonce[i] = byte(i)
	}
	helloC := mustFrame(t, Hello{Version: 2, Role: RoleController, ID: "c", Auth: true})[4:]
	helloN := mustFrame(t, Hello{Version: 2, Role: RoleNode, ID: "n", Cores: 2, Auth: true})[4:]
	got := hex.EncodeToString(answerMAC("s3cret", RoleController, nonce, helloC, helloN))
	if want := protocolMDVector(t); got != want {
		t.Fatalf("MAC %s, PROTOCOL.md says %s", got, want)
	}
	base := answerMAC("s3cret", RoleController, nonce, helloC, helloN)
	variants := map[string][]byte{
		"token":  answerMAC("s3cret!", RoleController, nonce, helloC, helloN),
		"role":   answerMAC("s3cret", RoleNode, nonce, helloC, helloN),
		"nonce":  answerMAC("s3cret", RoleController, append(bytes.Clone(nonce[1:]), 0), helloC, helloN),
		"helloC": answerMAC("s3cret", RoleController, nonce, helloN, helloN),
		"helloN": answerMAC("s3cret", RoleController, nonce, helloC, helloC),
	}
	for name, mac := range variants {
		if bytes.Equal(mac, base) {
			t.Errorf("changing the %s does not change the MAC", name)
		}
	}
}
