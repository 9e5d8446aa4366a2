package discovery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// bodyHash returns hex(SHA-256(body)).
func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// requestMAC returns HMAC-SHA256(token, METHOD\nPATH\nTS\nhex(sha256(body))).
func requestMAC(token, method, path string, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(method))
	m.Write([]byte{'\n'})
	m.Write([]byte(path))
	m.Write([]byte{'\n'})
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'\n'})
	m.Write([]byte(bodyHash(body)))
	return m.Sum(nil)
}

// SignRequest returns the Authorization header value for a request:
// "Tessera ts=UNIX_SECONDS,sig=HEX" with HEX the HMAC-SHA256 keyed with token
// over METHOD "\n" PATH "\n" UNIX_SECONDS "\n" hex(SHA-256(body)).
func SignRequest(token, method, path string, now time.Time, body []byte) string {
	ts := now.Unix()
	return AuthScheme + " ts=" + strconv.FormatInt(ts, 10) + ",sig=" + hex.EncodeToString(requestMAC(token, method, path, ts, body))
}

// parseAuthorization splits "Tessera ts=N,sig=HEX".
func parseAuthorization(h string) (ts int64, sig []byte, err error) {
	const want = "want \"" + AuthScheme + " ts=UNIX_SECONDS,sig=HEX\""
	scheme, params, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, AuthScheme) {
		return 0, nil, fmt.Errorf("%w: Authorization scheme is not %s (%s)", ErrUnauthorized, AuthScheme, want)
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
			return 0, nil, fmt.Errorf("%w: Authorization has an unknown parameter %q (%s)", ErrUnauthorized, k, want)
		}
	}
	ts, err = strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: Authorization timestamp %q is not a number of seconds (%s)", ErrUnauthorized, tsText, want)
	}
	sig, err = hex.DecodeString(sigText)
	if err != nil || len(sig) != sha256.Size {
		return 0, nil, fmt.Errorf("%w: Authorization signature is not %d hex digits (%s)", ErrUnauthorized, 2*sha256.Size, want)
	}
	return ts, sig, nil
}

// VerifyRequest checks the Authorization header value of a request against
// token and the registry's clock now. It returns the signature (to bind the
// response to) or an error wrapping ErrUnauthorized that says what was wrong.
func VerifyRequest(token, authorization, method, path string, now time.Time, body []byte) ([]byte, error) {
	if authorization == "" {
		return nil, fmt.Errorf("%w: missing Authorization header: this registry requires signed writes (-token)", ErrUnauthorized)
	}
	ts, sig, err := parseAuthorization(authorization)
	if err != nil {
		return nil, err
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > MaxClockSkew || skew < -MaxClockSkew {
		return nil, fmt.Errorf("%w: timestamp %d is %v away from the registry's clock (limit %v)", ErrUnauthorized, ts, skew.Truncate(time.Second).Abs(), MaxClockSkew)
	}
	if !hmac.Equal(sig, requestMAC(token, method, path, ts, body)) {
		return nil, fmt.Errorf("%w: signature does not match (wrong token?)", ErrUnauthorized)
	}
	return sig, nil
}

// SignResponse returns the Tessera-Signature header value of an answer:
// hex(HMAC-SHA256(token, "response\n" STATUS "\n" hex(request sig) "\n"
// hex(SHA-256(body)))). Binding the request's signature makes an answer
// valid for that one request only.
func SignResponse(token string, status int, requestSig, body []byte) string {
	return hex.EncodeToString(responseMAC(token, status, requestSig, body))
}

func responseMAC(token string, status int, requestSig, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("response\n"))
	m.Write(strconv.AppendInt(nil, int64(status), 10))
	m.Write([]byte{'\n'})
	m.Write([]byte(hex.EncodeToString(requestSig)))
	m.Write([]byte{'\n'})
	m.Write([]byte(bodyHash(body)))
	return m.Sum(nil)
}

// VerifyResponse checks an answer's Tessera-Signature header value. The
// error wraps ErrUnsignedResponse.
func VerifyResponse(token string, header string, status int, requestSig, body []byte) error {
	if header == "" {
		return fmt.Errorf("%w: the answer has no %s header (the registry runs without a token)", ErrUnsignedResponse, ResponseSignatureHeader)
	}
	got, err := hex.DecodeString(header)
	if err != nil || !hmac.Equal(got, responseMAC(token, status, requestSig, body)) {
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
	return sig
}
