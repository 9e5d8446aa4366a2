package discovery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Signatures of the registry API (see the package documentation).
const (
	// AuthScheme is the scheme of a signed request's Authorization header:
	// "Tessera ts=UNIX_SECONDS,sig=HEX".
	AuthScheme = "Tessera"
	// ResponseSignatureHeader carries the registry's signature of its
	// answer to a signed request.
	ResponseSignatureHeader = "Tessera-Signature"
	// MaxClockSkew is how far a request's timestamp may be from the
	// registry's clock.
	MaxClockSkew = 60 * time.Second
)

// Authentication errors.
var (
	// ErrUnauthorized: a request lacks a valid signature (HTTP 401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUnsignedResponse: a client with a token got an answer without a
	// valid signature: the registry has no token or another one.
	ErrUnsignedResponse = errors.New("registry answer not signed with our token")
)

type mac = [sha256.Size]byte

// macKey computes the HMAC-SHA256s of one token. It reuses keyed HMAC
// states and a scratch buffer: the registry checks and signs every request.
type macKey struct{ pool sync.Pool }

type macState struct {
	h   hash.Hash
	buf []byte
	sum mac
}

func newMACKey(token string) *macKey {
	k := &macKey{}
	k.pool.New = func() any { return &macState{h: hmac.New(sha256.New, []byte(token))} }
	return k
}

// sum returns the HMAC of the message that build appends to a buffer.
func (k *macKey) sum(build func([]byte) []byte) mac {
	st := k.pool.Get().(*macState)
	st.buf = build(st.buf[:0])
	st.h.Reset()
	st.h.Write(st.buf)
	out := mac(st.h.Sum(st.sum[:0]))
	k.pool.Put(st)
	return out
}

// appendBodyHash appends hex(SHA-256(body)).
func appendBodyHash(b, body []byte) []byte {
	sum := sha256.Sum256(body)
	return hex.AppendEncode(b, sum[:])
}

// request returns the MAC of a request:
// METHOD "\n" PATH "\n" UNIX_SECONDS "\n" hex(SHA-256(body)).
func (k *macKey) request(method, path string, ts int64, body []byte) mac {
	return k.sum(func(b []byte) []byte {
		b = append(b, method...)
		b = append(b, '\n')
		b = append(b, path...)
		b = append(b, '\n')
		b = strconv.AppendInt(b, ts, 10)
		b = append(b, '\n')
		return appendBodyHash(b, body)
	})
}

// response returns the MAC of an answer:
// "response\n" STATUS "\n" hex(request signature) "\n" hex(SHA-256(body)).
func (k *macKey) response(status int, requestSig, body []byte) mac {
	return k.sum(func(b []byte) []byte {
		b = append(b, "response\n"...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, '\n')
		b = hex.AppendEncode(b, requestSig)
		b = append(b, '\n')
		return appendBodyHash(b, body)
	})
}

// SignRequest returns the Authorization header value for a request:
// "Tessera ts=UNIX_SECONDS,sig=HEX" with HEX the HMAC-SHA256 keyed with token
// over METHOD "\n" PATH "\n" UNIX_SECONDS "\n" hex(SHA-256(body)).
func SignRequest(token, method, path string, now time.Time, body []byte) string {
	ts := now.Unix()
	m := newMACKey(token).request(method, path, ts, body)
	return AuthScheme + " ts=" + strconv.FormatInt(ts, 10) + ",sig=" + hex.EncodeToString(m[:])
}

// parseAuthorization splits "Tessera ts=N,sig=HEX".
func parseAuthorization(h string) (ts int64, sig mac, err error) {
	const want = "want \"" + AuthScheme + " ts=UNIX_SECONDS,sig=HEX\""
	scheme, params, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, AuthScheme) {
		return 0, sig, fmt.Errorf("%w: Authorization scheme is not %s (%s)", ErrUnauthorized, AuthScheme, want)
	}
	var tsText, sigText string
	for part := range strings.SplitSeq(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "ts":
			tsText = v
		case "sig":
			sigText = v
		default:
			return 0, sig, fmt.Errorf("%w: Authorization has an unknown parameter %q (%s)", ErrUnauthorized, k, want)
		}
	}
	ts, err = strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return 0, sig, fmt.Errorf("%w: Authorization timestamp %q is not a number of seconds (%s)", ErrUnauthorized, tsText, want)
	}
	if n, err := hex.Decode(sig[:], []byte(sigText)); err != nil || n != len(sig) || len(sigText) != 2*len(sig) {
		return 0, sig, fmt.Errorf("%w: Authorization signature is not %d hex digits (%s)", ErrUnauthorized, 2*sha256.Size, want)
	}
	return ts, sig, nil
}

func (k *macKey) verifyRequest(authorization, method, path string, now time.Time, body []byte) (mac, error) {
	if authorization == "" {
		return mac{}, fmt.Errorf("%w: missing Authorization header: this registry requires signed writes (-token)", ErrUnauthorized)
	}
	ts, sig, err := parseAuthorization(authorization)
	if err != nil {
		return mac{}, err
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > MaxClockSkew || skew < -MaxClockSkew {
		return mac{}, fmt.Errorf("%w: timestamp %d is %v away from the registry's clock (limit %v)", ErrUnauthorized, ts, skew.Truncate(time.Second).Abs(), MaxClockSkew)
	}
	if want := k.request(method, path, ts, body); !hmac.Equal(sig[:], want[:]) {
		return mac{}, fmt.Errorf("%w: signature does not match (wrong token?)", ErrUnauthorized)
	}
	return sig, nil
}

// SignResponse returns the Tessera-Signature header value of an answer:
// hex(HMAC-SHA256(token, "response\n" STATUS "\n" hex(request sig) "\n"
// hex(SHA-256(body)))). Binding the request's signature makes an answer
// valid for that one request only.
func SignResponse(token string, status int, requestSig, body []byte) string {
	m := newMACKey(token).response(status, requestSig, body)
	return hex.EncodeToString(m[:])
}

// VerifyResponse checks an answer's Tessera-Signature header value. The
// error wraps ErrUnsignedResponse.
func VerifyResponse(token string, header string, status int, requestSig, body []byte) error {
	if header == "" {
		return fmt.Errorf("%w: the answer has no %s header (the registry runs without a token)", ErrUnsignedResponse, ResponseSignatureHeader)
	}
	got, err := hex.DecodeString(header)
	want := newMACKey(token).response(status, requestSig, body)
	if err != nil || !hmac.Equal(got, want[:]) {
		return fmt.Errorf("%w: the %s header does not match (the registry has another token)", ErrUnsignedResponse, ResponseSignatureHeader)
	}
	return nil
}

// sigFromAuthorization extracts the signature of an Authorization value
// this package made; nil if it has none.
func sigFromAuthorization(h string) []byte {
	_, sig, err := parseAuthorization(h)
	if err != nil {
		return nil
	}
	return sig[:]
}
