package discovery

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// API v1 paths.
const (
	nodesPath  = "/v1/nodes"
	nodePrefix = "/v1/nodes/"
	healthPath = "/healthz"
)

// Shared header values (never modified).
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
	noSniff         = []string{"nosniff"}
)

// putAnswer is the body of a successful PUT: the stored record and the TTL,
// so that a node heartbeats every TTL/3.
type putAnswer struct {
	Record
	TTLSeconds float64 `json:"ttlSeconds"`
}

// listAnswer is the body of GET /v1/nodes: the whole list (Full), or with
// ?since= what changed since that version (Nodes added or changed, Gone
// removed), and the version now.
type listAnswer struct {
	Nodes      []Record `json:"nodes"`
	Gone       []string `json:"gone,omitempty"`
	Full       bool     `json:"full"`
	Since      string   `json:"since,omitempty"` // the version the changes are from, when not Full
	Version    string   `json:"version"`
	TTLSeconds float64  `json:"ttlSeconds"`
}

// deleteBody is the optional body of a DELETE: who deletes, so that a
// deletion older than the record held is refused like a stale PUT.
type deleteBody struct {
	Started time.Time `json:"started,omitzero"`
	Seq     uint64    `json:"seq,omitempty"`
}

type errorAnswer struct {
	Error string `json:"error"`
}

// call is one request being answered: it carries the request's verified
// signature so that the answer can be signed.
type call struct {
	r      *Registry
	w      http.ResponseWriter
	req    *http.Request
	sig    mac  // the request's valid signature,
	signed bool // if it had one
}

// ServeHTTP answers the API v1, /healthz, the page and its assets.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	c := &call{r: r, w: w, req: req}
	h := w.Header()
	h["X-Content-Type-Options"] = noSniff
	path := req.URL.Path
	switch {
	case path == nodesPath:
		if c.allow("GET, HEAD") {
			c.list()
		}
	case strings.HasPrefix(path, nodePrefix):
		c.node(strings.TrimPrefix(path, nodePrefix))
	case path == healthPath:
		if c.allow("GET, HEAD") {
			c.writeJSON(http.StatusOK, map[string]string{"status": "ok"})
		}
	case path == "/":
		if c.allow("GET, HEAD") {
			r.servePage(w, req)
		}
	case strings.HasPrefix(path, assetsPrefix):
		if c.allow("GET, HEAD") {
			serveAsset(w, req)
		}
	default:
		c.fail(http.StatusNotFound, fmt.Sprintf("no such path %q (the API is under %s)", path, nodesPath))
	}
}

// allow answers 405 unless the method is in methods (GET implies HEAD).
func (c *call) allow(methods string) bool {
	m := c.req.Method
	if m == http.MethodHead {
		m = http.MethodGet
	}
	for ok := range strings.SplitSeq(methods, ", ") {
		if m == ok {
			return true
		}
	}
	c.w.Header().Set("Allow", methods)
	c.fail(http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", c.req.Method, c.req.URL.Path, methods))
	return false
}

// node answers /v1/nodes/{id}.
func (c *call) node(id string) {
	if !c.allow("GET, PUT, DELETE") {
		return
	}
	var body []byte
	if c.req.Method != http.MethodGet {
		var ok bool
		if body, ok = c.readBody(); !ok {
			return
		}
	}
	if !c.authenticate(body) {
		return
	}
	if err := CheckID(id); err != nil {
		c.fail(http.StatusBadRequest, "path: "+err.Error())
		return
	}
	switch c.req.Method {
	case http.MethodPut:
		c.put(id, body)
	case http.MethodDelete:
		var who deleteBody
		if len(body) > 0 {
			if err := json.Unmarshal(body, &who); err != nil {
				c.fail(http.StatusBadRequest, `malformed JSON in the DELETE body (want nothing, or {"started","seq"}): `+err.Error())
				return
			}
		}
		rec, ok, err := c.r.remove(id, who.Started, who.Seq)
		if err != nil {
			c.r.cfg.Logger.Info().Str("id", id).Err(err).Msg("stale deletion refused")
			c.fail(http.StatusConflict, err.Error())
			return
		}
		if !ok {
			c.fail(http.StatusNotFound, fmt.Sprintf("node %q is not registered", id))
			return
		}
		c.r.cfg.Logger.Info().Str("id", id).Str("name", rec.Name).Str("addr", rec.Addr).Msg("node deregistered")
		c.write(http.StatusNoContent, nil)
	default:
		rec, ok := c.r.get(id)
		if !ok {
			c.fail(http.StatusNotFound, fmt.Sprintf("node %q is not registered", id))
			return
		}
		c.writeJSON(http.StatusOK, rec)
	}
}

var tooLarge = fmt.Sprintf("request body over the limit of %d bytes", MaxBodyBytes)

// readBody reads at most MaxBodyBytes (413 beyond).
func (c *call) readBody() ([]byte, bool) {
	if c.req.ContentLength > MaxBodyBytes {
		c.fail(http.StatusRequestEntityTooLarge, tooLarge)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.req.Body, MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			c.fail(http.StatusRequestEntityTooLarge, tooLarge)
			return nil, false
		}
		c.fail(http.StatusBadRequest, "reading the request body: "+err.Error())
		return nil, false
	}
	return body, true
}

// authenticate verifies a signed request: required for writes when the
// registry has a token; a read may be signed to get a signed answer. It
// answers 401 itself and reports false on failure.
func (c *call) authenticate(body []byte) bool {
	if c.r.cfg.Token == "" {
		return true
	}
	auth := c.req.Header.Get("Authorization")
	if auth == "" && c.req.Method == http.MethodGet {
		return true // reads stay open
	}
	sig, err := c.r.key.verifyRequest(auth, c.req.Method, c.req.URL.EscapedPath(), c.r.cfg.Now(), body)
	if err != nil {
		c.w.Header().Set("WWW-Authenticate", AuthScheme)
		c.fail(http.StatusUnauthorized, err.Error())
		return false
	}
	c.sig, c.signed = sig, true
	return true
}

// put registers or refreshes id with the JSON record in body.
func (c *call) put(id string, body []byte) {
	var rec Record
	if len(body) == 0 {
		c.fail(http.StatusBadRequest, `empty body: want a JSON record {"id","name","addr","cores","version"}`)
		return
	}
	if !utf8.Valid(body) {
		c.fail(http.StatusBadRequest, "malformed JSON record: the body is not valid UTF-8")
		return
	}
	if err := json.Unmarshal(body, &rec); err != nil {
		c.fail(http.StatusBadRequest, "malformed JSON record: "+err.Error())
		return
	}
	switch {
	case rec.ID == "":
		rec.ID = id
	case rec.ID != id:
		c.fail(http.StatusBadRequest, fmt.Sprintf("body id %q differs from the id %q in the path", rec.ID, id))
		return
	}
	if rec.Name == "" {
		rec.Name = id
	}
	rec.Addr = fillHost(rec.Addr, c.req.RemoteAddr)
	if err := rec.Check(); err != nil {
		c.fail(http.StatusBadRequest, err.Error())
		return
	}
	stored, fresh, prev, err := c.r.put(rec)
	if errors.Is(err, ErrStaleWrite) {
		c.r.cfg.Logger.Info().Str("id", id).Str("addr", rec.Addr).Err(err).Msg("stale write refused")
		c.fail(http.StatusConflict, err.Error())
		return
	}
	if err != nil {
		c.w.Header().Set("Retry-After", strconv.Itoa(int(c.r.cfg.TTL.Seconds())+1))
		c.fail(http.StatusServiceUnavailable, fmt.Sprintf("registry full: it holds the limit of %d nodes (max-nodes); known nodes can still refresh", c.r.cfg.MaxNodes))
		return
	}
	switch {
	case fresh:
		c.r.cfg.Logger.Info().Str("id", id).Str("name", stored.Name).Str("addr", stored.Addr).Int("cores", stored.Cores).
			Str("state", string(stored.State)).Msg("node registered")
	case prev != stored.State:
		c.r.cfg.Logger.Info().Str("id", id).Str("name", stored.Name).Str("from", string(prev)).Str("state", string(stored.State)).Msg("node state changed")
	}
	c.writeJSON(http.StatusOK, putAnswer{Record: stored, TTLSeconds: c.r.cfg.TTL.Seconds()})
}

// fillHost replaces an empty or unspecified host in addr ("", 0.0.0.0, ::)
// by the host of the request's source address. An addr that is not
// host:port is returned unchanged (Check refuses it).
func fillHost(addr, remote string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host != "" {
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.IsUnspecified() {
			return addr
		}
	}
	src, err := netip.ParseAddrPort(remote)
	if err != nil {
		return addr
	}
	return net.JoinHostPort(src.Addr().Unmap().String(), port)
}

// list answers GET /v1/nodes: 304 when If-None-Match holds the version
// now, else the list (or with ?since=, what changed), with the version in a
// weak ETag: it covers every field but lastSeen and seq, which heartbeats
// refresh.
func (c *call) list() {
	if !c.authenticate(nil) {
		return
	}
	q := c.req.URL.Query()
	since := q.Get("since")
	if _, has := q["since"]; has {
		if _, _, err := c.r.parseVersion(since); err != nil {
			c.fail(http.StatusBadRequest, err.Error())
			return
		}
	}
	if inm := c.req.Header.Get("If-None-Match"); inm != "" {
		if v := c.r.Version(); etagMatch(inm, v) {
			c.w.Header()["Etag"] = []string{etag(v)}
			c.write(http.StatusNotModified, nil)
			return
		}
	}
	l := c.r.list(since)
	c.w.Header()["Etag"] = []string{etag(l.version)}
	ans := listAnswer{Nodes: l.nodes, Gone: l.gone, Full: l.full, Version: l.version, TTLSeconds: c.r.cfg.TTL.Seconds()}
	if !l.full {
		ans.Since = since
	}
	c.writeJSON(http.StatusOK, ans)
}

// etag is the weak entity tag of list version v.
func etag(v string) string { return `W/"` + v + `"` }

// etagMatch reports whether an If-None-Match header names version v (weak
// comparison, RFC 9110 13.1.2: W/ is ignored; "*" matches).
func etagMatch(header, v string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == `"`+v+`"` {
			return true
		}
	}
	return false
}

// fail answers status with {"error": msg}.
func (c *call) fail(status int, msg string) {
	c.r.cfg.Logger.Debug().Int("status", status).Str("method", c.req.Method).Str("path", c.req.URL.Path).
		Str("remote", c.req.RemoteAddr).Str("error", msg).Msg("request refused")
	c.writeJSON(status, errorAnswer{Error: msg})
}

func (c *call) writeJSON(status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // cannot happen: the answer types marshal
		status, body = http.StatusInternalServerError, []byte(`{"error":"internal error encoding the answer"}`)
	}
	c.write(status, append(body, '\n'))
}

// write sends status and body, signed when the request was.
func (c *call) write(status int, body []byte) {
	h := c.w.Header()
	if body != nil {
		h["Content-Type"] = jsonContentType
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	h["Cache-Control"] = noStore
	if c.signed {
		m := c.r.key.response(status, c.sig[:], body)
		h[ResponseSignatureHeader] = []string{hex.EncodeToString(m[:])}
	}
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body) // a write error means the client went away
}
