package protocol

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"time"
)

// errorSendTimeout bounds the sending of an Error frame on a failed
// handshake: a peer that does not read must not hold the failure up.
const errorSendTimeout = time.Second

// macLabel starts every answer MAC: it ties the MAC to this protocol and
// this use of the token.
const macLabel = "tessera-auth-v1\n"

// Handshake exchanges Hellos and, where either side holds a token, proves it:
// each side that holds a token challenges the other, so a node proves the
// token to a controller too. Both ends call it, before any Send or Recv; the
// order of the messages follows self.Role, which must be RoleController (the
// dialing side) or RoleNode. It returns the peer's Hello.
//
// Handshake fills self.Version when zero, and sets self.Auth from token. It
// honours ctx and Config.HandshakeTimeout: when either ends, the connection
// is closed. Frames larger than HandshakeMaxFrame are refused until it
// succeeds. On any failure it tells the peer why with an Error frame where it
// can, closes the connection and returns an error matching ErrUnauthorized,
// ErrVersionMismatch or ErrHandshake (a *RemoteError when the peer refused);
// a timeout matches context.DeadlineExceeded.
func (c *Conn) Handshake(ctx context.Context, self Hello, token string) (Hello, error) {
	if self.Version == 0 {
		self.Version = Version
	}
	self.Auth = token != ""
	if self.Role != RoleController && self.Role != RoleNode {
		c.Close()
		return Hello{}, fmt.Errorf("%w: own role %q, want %q or %q", ErrHandshake, self.Role, RoleController, RoleNode)
	}
	timeout := fmt.Errorf("protocol: handshake timed out after %v: %w", c.cfg.HandshakeTimeout, context.DeadlineExceeded)
	ctx, cancel := context.WithTimeoutCause(ctx, c.cfg.HandshakeTimeout, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.Close()
		close(fired)
	})

	h := handshake{c: c, self: self, token: token, deadline: deadline}
	c.maxFrame = min(c.cfg.MaxFrame, HandshakeMaxFrame)
	err := c.nc.SetDeadline(deadline)
	var peer Hello
	if err == nil {
		if self.Role == RoleController {
			peer, err = h.controller()
		} else {
			peer, err = h.node()
		}
	}
	if !stop() {
		<-fired // the context ended: wait for the closing to finish
	}
	if err == nil && ctx.Err() == nil {
		err = c.nc.SetDeadline(time.Time{}) // from now on, Send and Recv set their own
	}
	if err != nil || ctx.Err() != nil {
		c.Close()
		if cause := context.Cause(ctx); cause != nil {
			return Hello{}, fmt.Errorf("protocol: handshake with %v: %w", c.RemoteAddr(), cause)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return Hello{}, fmt.Errorf("protocol: handshake with %v: %w: %w", c.RemoteAddr(), timeout, err)
		}
		return Hello{}, err
	}
	if self.Auth {
		if err := h.seal(peer.Role); err != nil {
			c.Close()
			return Hello{}, err
		}
	}
	c.maxFrame = c.cfg.MaxFrame
	return peer, nil
}

// seal derives both directions' keys from the token and the handshake, so
// that every frame from now on is sealed (PROTOCOL.md, "Sealed frames").
func (h *handshake) seal(peer Role) error {
	tx, err := newSealer(h.token, h.self.Role, h.nonceN, h.nonceC, h.helloC, h.helloN)
	if err != nil {
		return err
	}
	rx, err := newSealer(h.token, peer, h.nonceN, h.nonceC, h.helloC, h.helloN)
	if err != nil {
		return err
	}
	c := h.c
	c.wmu.Lock()
	c.tx = tx
	c.wmu.Unlock()
	c.rx = rx
	c.sealed.Store(true)
	return nil
}

// handshake is the state of one Handshake.
type handshake struct {
	c        *Conn
	self     Hello
	token    string
	deadline time.Time
	helloC   []byte // payload of the controller's Hello frame
	helloN   []byte // payload of the node's Hello frame
	nonceC   []byte // the controller's Challenge nonce, with tokens
	nonceN   []byte // the node's Challenge nonce, with tokens
}

// controller runs the dialing side: Hello out, Hello in, then, with tokens,
// Challenge in, Answer and Challenge out, Answer in.
func (h *handshake) controller() (Hello, error) {
	raw, err := h.send(h.self)
	if err != nil {
		return Hello{}, err
	}
	h.helloC = raw
	peer, raw, err := h.recvHello()
	if err != nil {
		return Hello{}, err
	}
	h.helloN = raw
	if err := h.check(peer, RoleNode); err != nil || !h.self.Auth {
		return peer, err
	}
	theirs, err := h.recvChallenge()
	if err != nil {
		return Hello{}, err
	}
	ours, err := newNonce()
	if err != nil {
		return Hello{}, err
	}
	h.nonceN, h.nonceC = theirs, ours
	answer := Answer{MAC: answerMAC(h.token, RoleController, theirs, h.helloC, h.helloN)}
	if _, err := h.send(answer, Challenge{Nonce: ours}); err != nil {
		return Hello{}, err
	}
	if err := h.recvAnswer(RoleNode, ours); err != nil {
		return Hello{}, err
	}
	return peer, nil
}

// node runs the listening side: Hello in, Hello (and with tokens a Challenge)
// out, then Answer in, Challenge in, Answer out.
func (h *handshake) node() (Hello, error) {
	peer, raw, err := h.recvHello()
	if err != nil {
		return Hello{}, err
	}
	h.helloC = raw
	if err := h.check(peer, RoleController); err != nil {
		return Hello{}, err
	}
	// The Hello goes out first: the controller's answer MACs its bytes.
	out := []Message{h.self}
	var ours []byte
	if h.self.Auth {
		if ours, err = newNonce(); err != nil {
			return Hello{}, err
		}
		out = append(out, Challenge{Nonce: ours})
	}
	if h.helloN, err = h.send(out...); err != nil || !h.self.Auth {
		return peer, err
	}
	if err := h.recvAnswer(RoleController, ours); err != nil {
		return Hello{}, err
	}
	theirs, err := h.recvChallenge()
	if err != nil {
		return Hello{}, err
	}
	h.nonceN, h.nonceC = ours, theirs
	if _, err := h.send(Answer{MAC: answerMAC(h.token, RoleNode, theirs, h.helloC, h.helloN)}); err != nil {
		return Hello{}, err
	}
	return peer, nil
}

// check refuses a peer Hello with the wrong version, role or token setting.
func (h *handshake) check(peer Hello, want Role) error {
	switch {
	case peer.Version != h.self.Version:
		return h.fail(CodeVersionMismatch, ErrVersionMismatch, "%s speaks protocol version %d, %s speaks version %d",
			h.self.Role, h.self.Version, want, peer.Version)
	case peer.Role != want:
		return h.fail(CodeBadHello, ErrHandshake, "a %s expects a %s, the peer says it is a %q", h.self.Role, want, peer.Role)
	case h.self.Auth && !peer.Auth:
		return h.fail(CodeUnauthorized, ErrUnauthorized, "the %s requires a token and the %s has none", h.self.Role, want)
	case !h.self.Auth && peer.Auth:
		return h.fail(CodeUnauthorized, ErrUnauthorized, "the %s requires a token and the %s has none", want, h.self.Role)
	}
	return nil
}

// fail tells the peer why the handshake fails and returns the same reason as
// an error matching sentinel.
func (h *handshake) fail(code Code, sentinel error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	h.tell(code, msg)
	return fmt.Errorf("%w: %s", sentinel, msg)
}

// tell sends the peer an Error frame, if it can within errorSendTimeout: the
// handshake fails anyway.
func (h *handshake) tell(code Code, msg string) {
	c := h.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	deadline := time.Now().Add(errorSendTimeout)
	if h.deadline.Before(deadline) {
		deadline = h.deadline
	}
	if c.startWrite(deadline) == nil && c.write(Error{Code: code, Message: msg}) == nil {
		_ = c.flush()
	}
}

// send writes msgs and flushes once, within the handshake's deadline. It
// returns the payload of the first frame.
func (h *handshake) send(msgs ...Message) ([]byte, error) {
	c := h.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.startWrite(h.deadline); err != nil {
		return nil, err
	}
	var first []byte
	for i, m := range msgs {
		if err := c.write(m); err != nil {
			return nil, err
		}
		if i == 0 {
			first, _ = AppendFrame(nil, m) // encodes as write did
			first = first[4:]
		}
	}
	return first, c.flush()
}

// recv reads the next message and returns it with a copy of its payload.
// An Error frame from the peer becomes a *RemoteError; a frame that does not
// decode is answered with a bad-hello Error.
func (h *handshake) recv(want Kind) (Message, []byte, error) {
	c := h.c
	p, _, err := c.readFrame()
	if err != nil {
		return nil, nil, err
	}
	raw := bytes.Clone(p)
	m, err := decodePayload(raw, true, nil)
	switch {
	case err != nil:
		h.tell(CodeBadFrame, fmt.Sprintf("want %v: %v", want, err))
		return nil, nil, fmt.Errorf("%w: want %v: %w", ErrHandshake, want, err)
	case m.Kind() == want:
		return m, raw, nil
	case m.Kind() == KindError:
		return nil, nil, m.(Error).Err()
	}
	return nil, nil, h.fail(CodeBadHello, ErrHandshake, "want %v, got %v", want, m.Kind())
}

func (h *handshake) recvHello() (Hello, []byte, error) {
	m, raw, err := h.recv(KindHello)
	if err != nil {
		return Hello{}, nil, err
	}
	return m.(Hello), raw, nil
}

func (h *handshake) recvChallenge() ([]byte, error) {
	m, _, err := h.recv(KindChallenge)
	if err != nil {
		return nil, err
	}
	nonce := m.(Challenge).Nonce
	if len(nonce) != NonceSize {
		return nil, h.fail(CodeBadHello, ErrHandshake, "a challenge nonce of %d bytes, want %d", len(nonce), NonceSize)
	}
	return nonce, nil
}

// recvAnswer reads the peer's answer to our nonce and checks it.
func (h *handshake) recvAnswer(peer Role, nonce []byte) error {
	m, _, err := h.recv(KindAnswer)
	if err != nil {
		return err
	}
	want := answerMAC(h.token, peer, nonce, h.helloC, h.helloN)
	if !hmac.Equal(m.(Answer).MAC, want) {
		return h.fail(CodeUnauthorized, ErrUnauthorized, "the %s's answer to the challenge is wrong: the tokens differ", peer)
	}
	return nil
}

func newNonce() ([]byte, error) {
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("protocol: handshake: nonce: %w", err)
	}
	return nonce, nil
}

// answerMAC is the answer of the side playing role to nonce (PROTOCOL.md,
// "Authentication"):
//
//	HMAC-SHA256(key: token, message: "tessera-auth-v1\n" || role || "\n" ||
//	            nonce || SHA-256(helloC) || SHA-256(helloN))
//
// where helloC and helloN are the payloads of the controller's and the node's
// Hello frames as they crossed the wire. The role stops an answer from being
// reflected back to its sender; the Hellos bind it to this connection's
// versions, ids and token settings; the fresh nonce stops replays.
func answerMAC(token string, role Role, nonce, helloC, helloN []byte) []byte {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte(macLabel))
	mac.Write([]byte(role))
	mac.Write([]byte{'\n'})
	mac.Write(nonce)
	hc := sha256.Sum256(helloC)
	hn := sha256.Sum256(helloN)
	mac.Write(hc[:])
	mac.Write(hn[:])
	return mac.Sum(nil)
}
