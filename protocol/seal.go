package protocol

// Sealed frames: with a token, every frame after the handshake is encrypted
// and authenticated with AES-256-GCM under keys derived from the token and
// the handshake (PROTOCOL.md, "Sealed frames").

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// NoTokenWarning is what a controller and a node without a token log once
// at start: their frames cross the network as they are.
const NoTokenWarning = "no token: frames are not protected, anyone on the network path can read or alter scenes and pixels (set a token to seal them)"

// SealOverhead is what sealing adds to every frame after a handshake with a
// token: the 16 bytes of the AES-GCM tag.
const SealOverhead = 16

const (
	// sealLabel starts the HKDF info of both directions' keys.
	sealLabel   = "tessera-seal-v2\n"
	sealKeySize = 32 // AES-256
	sealIVSize  = 12 // the GCM nonce
)

// sealer seals (or opens) the frames of one direction of a connection: the
// n-th frame, counted from 0, gets the nonce iv XOR n (n big-endian in the
// last 8 bytes), so a frame replayed, dropped or moved does not open.
type sealer struct {
	aead  cipher.AEAD
	iv    [sealIVSize]byte
	n     uint64           // frames sealed or opened so far
	nonce [sealIVSize]byte // the next frame's, kept here so it does not escape per frame
}

// next sets s.nonce to the nonce of the next frame and returns it.
func (s *sealer) next() []byte {
	s.nonce = s.iv
	c := binary.BigEndian.Uint64(s.nonce[4:])
	binary.BigEndian.PutUint64(s.nonce[4:], c^s.n)
	return s.nonce[:]
}

// sealKeys derives the key and IV of the frames the side playing role
// sends (PROTOCOL.md, "Sealed frames"):
//
//	PRK = HKDF-Extract(SHA-256, salt: nonceN || nonceC, secret: token)
//	OKM = HKDF-Expand(SHA-256, PRK, info: "tessera-seal-v2\n" || role || "\n" ||
//	                  SHA-256(helloC) || SHA-256(helloN), 44 bytes)
//	key = OKM[0:32], iv = OKM[32:44]
//
// nonceN and nonceC are the node's and the controller's Challenge nonces,
// helloC and helloN the payloads of the two Hellos as they crossed the wire.
func sealKeys(token string, role Role, nonceN, nonceC, helloC, helloN []byte) (key, iv []byte, err error) {
	salt := make([]byte, 0, len(nonceN)+len(nonceC))
	salt = append(append(salt, nonceN...), nonceC...)
	prk, err := hkdf.Extract(sha256.New, []byte(token), salt)
	if err != nil {
		return nil, nil, err
	}
	hc := sha256.Sum256(helloC)
	hn := sha256.Sum256(helloN)
	info := sealLabel + string(role) + "\n" + string(hc[:]) + string(hn[:])
	okm, err := hkdf.Expand(sha256.New, prk, info, sealKeySize+sealIVSize)
	if err != nil {
		return nil, nil, err
	}
	return okm[:sealKeySize], okm[sealKeySize:], nil
}

// newSealer returns the sealer of the frames role sends.
func newSealer(token string, role Role, nonceN, nonceC, helloC, helloN []byte) (*sealer, error) {
	key, iv, err := sealKeys(token, role, nonceN, nonceC, helloC, helloN)
	if err != nil {
		return nil, fmt.Errorf("protocol: handshake: derive keys: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("protocol: handshake: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("protocol: handshake: %w", err)
	}
	s := &sealer{aead: aead}
	copy(s.iv[:], iv)
	return s, nil
}

// seal turns the plain frame b (length prefix and payload) into a sealed
// one in place: the prefix now counts the tag too and is the associated
// data, the payload is encrypted and the tag follows it. b's capacity must
// hold SealOverhead more bytes.
func (s *sealer) seal(b []byte) []byte {
	n := len(b) - 4
	binary.BigEndian.PutUint32(b, uint32(n+SealOverhead))
	nonce := s.next()
	s.n++
	sealed := s.aead.Seal(b[4:4], nonce, b[4:], b[:4])
	return b[:4+len(sealed)]
}

// open checks and decrypts the sealed payload p (the bytes after prefix) in
// place and returns the plain payload. A frame that fails to open leaves
// the sealer spent: the stream can no longer be trusted.
func (s *sealer) open(prefix, p []byte) ([]byte, error) {
	if len(p) < SealOverhead {
		return nil, fmt.Errorf("%d bytes, shorter than the %d-byte tag", len(p), SealOverhead)
	}
	plain, err := s.aead.Open(p[:0], s.next(), p, prefix)
	if err != nil {
		return nil, err
	}
	s.n++
	return plain, nil
}
