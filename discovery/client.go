package discovery

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Client errors, for errors.Is.
var (
	ErrNotFound     = errors.New("node not registered")    // 404
	ErrRegistryFull = errors.New("registry full")          // 503: MaxNodes reached
	ErrBadRequest   = errors.New("registry refused input") // 400, 405, 413
	// ErrSuperseded: the registry holds a newer record of this id (409),
	// written by a node process started later (or by this process after
	// this request: a late duplicate).
	ErrSuperseded = errors.New("superseded by a newer record")
)

// maxAnswerBytes bounds what the client reads of an answer (a list of
// 10,000 records is about 2 MB).
const maxAnswerBytes = 32 << 20

// defaultHTTP is the client used when RegistryClient.HTTP is nil: it has a
// timeout, and keeps connections alive between heartbeats.
var defaultHTTP = &http.Client{Timeout: 10 * time.Second}

// RegistryClient talks to one registry. The zero value of every field but
// Addr is valid. Safe for concurrent use.
type RegistryClient struct {
	// Addr is the registry: "host:port" or a base URL "http://host:port".
	Addr string
	// Token signs every request; answers must then be signed by the
	// registry with the same token, or they are refused with
	// ErrUnsignedResponse.
	Token string
	// HTTP is the client to use; nil means a shared one with a 10 s timeout.
	HTTP *http.Client
	// Logger receives Heartbeat's state changes. The zero value discards.
	Logger zerolog.Logger
	// Now is the clock for signatures; nil means time.Now.
	Now func() time.Time
}

// Lease is the registry's answer to a registration.
type Lease struct {
	Record Record        // as stored (host filled in, LastSeen set)
	TTL    time.Duration // heartbeat before it runs out: every TTL/3
}

// baseURL returns the registry's URL without a trailing slash.
func (c *RegistryClient) baseURL() string {
	a := strings.TrimSuffix(c.Addr, "/")
	if strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") {
		return a
	}
	return "http://" + a
}

// Register registers rec (or refreshes it: this is also one heartbeat).
// An empty host in rec.Addr is filled in by the registry with the address
// the request came from.
func (c *RegistryClient) Register(ctx context.Context, rec Record) (Lease, error) {
	if err := CheckID(rec.ID); err != nil {
		return Lease{}, fmt.Errorf("discovery: register: %w", err)
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return Lease{}, fmt.Errorf("discovery: register %s: %w", rec.ID, err)
	}
	var ans putAnswer
	if err := c.do(ctx, http.MethodPut, nodePrefix+rec.ID, body, http.StatusOK, &ans); err != nil {
		return Lease{}, fmt.Errorf("discovery: register %s: %w", rec.ID, err)
	}
	return Lease{Record: ans.Record, TTL: time.Duration(ans.TTLSeconds * float64(time.Second))}, nil
}

// Deregister removes id. An unknown id gives an error wrapping ErrNotFound.
func (c *RegistryClient) Deregister(ctx context.Context, id string) error {
	return c.deregister(ctx, id, nil)
}

// deregister removes id; who, when not nil, says which write of which
// node process deletes it (the registry refuses a deletion older than the
// record it holds: ErrSuperseded).
func (c *RegistryClient) deregister(ctx context.Context, id string, who *deleteBody) error {
	if err := CheckID(id); err != nil {
		return fmt.Errorf("discovery: deregister: %w", err)
	}
	var body []byte
	if who != nil {
		var err error
		if body, err = json.Marshal(who); err != nil {
			return fmt.Errorf("discovery: deregister %s: %w", id, err)
		}
	}
	if err := c.do(ctx, http.MethodDelete, nodePrefix+id, body, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("discovery: deregister %s: %w", id, err)
	}
	return nil
}

// List returns the registry's live nodes (the whole list; a Lister asks
// only for changes).
func (c *RegistryClient) List(ctx context.Context) ([]Record, error) {
	var ans listAnswer
	if err := c.do(ctx, http.MethodGet, nodesPath, nil, http.StatusOK, &ans); err != nil {
		return nil, fmt.Errorf("discovery: list: %w", err)
	}
	return ans.Nodes, nil
}

// Lister keeps a copy of one registry's list of live nodes and refreshes it
// with conditional, incremental requests: If-None-Match with the version it
// holds (the registry answers 304 Not Modified, no body, when nothing
// changed) and ?since= that version (only the records added, changed or
// removed since). A Lister is what a Watcher polls a registry with. Safe for
// concurrent use; calls are serialized.
type Lister struct {
	Client *RegistryClient

	mu      sync.Mutex
	version string            // of the copy; "" before the first answer
	nodes   map[string]Record // the copy
	list    []Record          // the copy sorted, as List returned it last
}

// List refreshes the copy and returns it, sorted by id. When nothing
// changed it returns the very slice it returned last (the caller must not
// modify it), so that a Watcher skips its work too. On an error the copy is
// kept for the next call, and nothing is returned.
func (l *Lister) List(ctx context.Context) ([]Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	path := nodesPath
	var hdr http.Header
	if l.version != "" {
		path += "?since=" + url.QueryEscape(l.version)
		hdr = http.Header{"If-None-Match": {etag(l.version)}}
	}
	var ans listAnswer
	status, err := l.Client.send(ctx, http.MethodGet, path, nil, hdr, []int{http.StatusOK, http.StatusNotModified}, &ans)
	if err != nil {
		return nil, fmt.Errorf("discovery: list: %w", err)
	}
	switch {
	case status == http.StatusNotModified:
		return l.list, nil
	case ans.Full || l.version == "" || ans.Version == "":
		// The whole list; without a version, from a registry of an earlier
		// release, which answers every poll so.
		l.nodes = make(map[string]Record, len(ans.Nodes))
		for _, r := range ans.Nodes {
			l.nodes[r.ID] = r
		}
	case ans.Since != l.version:
		// Changes from another version than asked for: not ours to apply.
		err := fmt.Errorf("discovery: list: registry %s answered the changes since %q, asked since %q", l.Client.Addr, ans.Since, l.version)
		l.version = "" // the next call asks for the whole list
		return nil, err
	default:
		for _, id := range ans.Gone {
			delete(l.nodes, id)
		}
		for _, r := range ans.Nodes {
			l.nodes[r.ID] = r
		}
	}
	l.version = ans.Version
	l.list = make([]Record, 0, len(l.nodes))
	for _, r := range l.nodes {
		l.list = append(l.list, r)
	}
	slices.SortFunc(l.list, func(a, b Record) int { return cmp.Compare(a.ID, b.ID) })
	return l.list, nil
}

// do sends one request and decodes a JSON answer of status want into out.
func (c *RegistryClient) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	_, err := c.send(ctx, method, path, body, nil, []int{want}, out)
	return err
}

// send sends one request with the extra header hdr; an answer of a status
// in want is verified (signed, with a token) and its JSON body, if any,
// decoded into out; its status is returned. Any other status is an error.
func (c *RegistryClient) send(ctx context.Context, method, path string, body []byte, hdr http.Header, want []int, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL()+path, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("registry %s: %w", c.Addr, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	var sig []byte
	if c.Token != "" {
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		auth := SignRequest(c.Token, method, req.URL.EscapedPath(), now(), body)
		req.Header.Set("Authorization", auth)
		sig = sigFromAuthorization(auth)
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("registry %s: %w", c.Addr, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return 0, fmt.Errorf("registry %s: reading the answer: %w", c.Addr, err)
	}
	if len(data) > maxAnswerBytes {
		return 0, fmt.Errorf("registry %s: answer over %d bytes", c.Addr, maxAnswerBytes)
	}
	if !slices.Contains(want, resp.StatusCode) {
		return 0, c.statusError(resp, data)
	}
	if c.Token != "" {
		if err := VerifyResponse(c.Token, resp.Header.Get(ResponseSignatureHeader), resp.StatusCode, sig, data); err != nil {
			return 0, fmt.Errorf("registry %s: %w", c.Addr, err)
		}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return 0, fmt.Errorf("registry %s: malformed answer: %w", c.Addr, err)
		}
	}
	return resp.StatusCode, nil
}

// statusError turns an error answer into an error that wraps the matching
// sentinel and quotes the registry's message.
func (c *RegistryClient) statusError(resp *http.Response, data []byte) error {
	var ans errorAnswer
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &ans) == nil && ans.Error != "" {
		msg = ans.Error
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	var kind error
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		kind = ErrUnauthorized
	case http.StatusNotFound:
		kind = ErrNotFound
	case http.StatusServiceUnavailable:
		kind = ErrRegistryFull
		if !strings.Contains(msg, "registry full") {
			kind = errors.New("registry unavailable")
		}
	case http.StatusConflict:
		kind = ErrSuperseded
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
		kind = ErrBadRequest
	default:
		kind = errors.New("unexpected answer")
	}
	return fmt.Errorf("registry %s: %w: %s: %s", c.Addr, kind, resp.Status, msg)
}
