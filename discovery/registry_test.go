package discovery

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tessera/protocol"
)

// fakeClock is an injectable clock that only moves when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTestRegistry(t *testing.T, cfg RegistryConfig) *Registry {
	t.Helper()
	r, err := NewRegistry(cfg)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	return r
}

// do sends one request straight to the handler.
func do(t *testing.T, h http.Handler, method, path, body string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// errorOf checks that rec is a JSON error answer and returns its message.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want JSON; body %q", ct, rec.Body.String())
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Fatalf("body %q is not {\"error\": \"...\"} (%v)", rec.Body.String(), err)
	}
	return e.Error
}

const goodBody = `{"id":"n1","name":"pc-01","addr":"10.0.0.5:7701","cores":8,"version":"0.1.0"}`

func TestRegistryRefusesBadInput(t *testing.T) {
	big := `{"id":"n1","name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	tests := []struct {
		name, method, path, body string
		header                   http.Header
		status                   int
		want                     string // in the error message
	}{
		{name: "malformed JSON", method: "PUT", path: "/v1/nodes/n1", body: `{"id":`, status: 400, want: "malformed JSON"},
		{name: "empty body", method: "PUT", path: "/v1/nodes/n1", body: ``, status: 400, want: "empty body"},
		{name: "array", method: "PUT", path: "/v1/nodes/n1", body: `[1,2]`, status: 400, want: "malformed JSON"},
		{name: "trailing data", method: "PUT", path: "/v1/nodes/n1", body: goodBody + `x`, status: 400, want: "malformed JSON"},
		{name: "cores a string", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5:7701","cores":"8"}`, status: 400, want: "cores"},
		{name: "cores fractional", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5:7701","cores":1.5}`, status: 400, want: "cores"},
		{name: "cores zero", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5:7701","cores":0}`, status: 400, want: "cores is 0"},
		{name: "cores missing", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5:7701"}`, status: 400, want: "cores is 0"},
		{name: "cores negative", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5:7701","cores":-4}`, status: 400, want: "cores is -4"},
		{name: "cores too many", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5:7701","cores":1000000}`, status: 400, want: "cores is 1000000"},
		{name: "addr missing", method: "PUT", path: "/v1/nodes/n1", body: `{"cores":2}`, status: 400, want: "not host:port"},
		{name: "addr without port", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5","cores":2}`, status: 400, want: "not host:port"},
		{name: "port zero", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5:0","cores":2}`, status: 400, want: "port \"0\""},
		{name: "port too big", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5:70000","cores":2}`, status: 400, want: "port \"70000\""},
		{name: "port not a number", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5:http","cores":2}`, status: 400, want: "port \"http\""},
		{name: "host with spaces", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"bad host:7701","cores":2}`, status: 400, want: "bad host"},
		{name: "id differs", method: "PUT", path: "/v1/nodes/n1", body: `{"id":"n2","addr":"10.0.0.5:7701","cores":2}`, status: 400, want: "differs"},
		{name: "id with a dot", method: "PUT", path: "/v1/nodes/a.b", body: `{"addr":"10.0.0.5:7701","cores":2}`, status: 400, want: "invalid node id"},
		{name: "id too long", method: "PUT", path: "/v1/nodes/" + strings.Repeat("a", 64), body: `{"addr":"10.0.0.5:7701","cores":2}`, status: 400, want: "64 bytes"},
		{name: "id empty", method: "PUT", path: "/v1/nodes/", body: `{"addr":"10.0.0.5:7701","cores":2}`, status: 400, want: "empty"},
		{name: "id with a slash", method: "PUT", path: "/v1/nodes/a/b", body: `{"addr":"10.0.0.5:7701","cores":2}`, status: 400, want: "invalid node id"},
		{name: "name too long", method: "PUT", path: "/v1/nodes/n1", body: `{"name":"` + strings.Repeat("n", 65) + `","addr":"10.0.0.5:7701","cores":2}`, status: 400, want: "name is 65 bytes"},
		{name: "name with a newline", method: "PUT", path: "/v1/nodes/n1", body: `{"name":"a\nb","addr":"10.0.0.5:7701","cores":2}`, status: 400, want: "control character"},
		{name: "name not UTF-8", method: "PUT", path: "/v1/nodes/n1", body: "{\"name\":\"a\xffb\",\"addr\":\"10.0.0.5:7701\",\"cores\":2}", status: 400, want: "UTF-8"},
		{name: "version too long", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5:7701","cores":2,"version":"` + strings.Repeat("v", 65) + `"}`, status: 400, want: "version is 65 bytes"},
		{name: "state with a space", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5:7701","cores":2,"state":"paused busy"}`, status: 400, want: `state "paused busy" has ' '`},
		{name: "state upper case", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5:7701","cores":2,"state":"Ready"}`, status: 400, want: "invalid node state"},
		{name: "state too long", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5:7701","cores":2,"state":"` + strings.Repeat("p", 33) + `"}`, status: 400, want: "state is 33 bytes"},
		{name: "state a number", method: "PUT", path: "/v1/nodes/n1", body: `{"addr":"10.0.0.5:7701","cores":2,"state":7}`, status: 400, want: "state"},
		{name: "body over 64 KiB", method: "PUT", path: "/v1/nodes/n1", body: big, status: 413, want: "65536"},
		{name: "POST on a node", method: "POST", path: "/v1/nodes/n1", body: goodBody, status: 405, want: "POST not allowed"},
		{name: "PATCH on a node", method: "PATCH", path: "/v1/nodes/n1", body: goodBody, status: 405, want: "PATCH not allowed"},
		{name: "POST on the list", method: "POST", path: "/v1/nodes", body: goodBody, status: 405, want: "allowed: GET, HEAD"},
		{name: "DELETE on the list", method: "DELETE", path: "/v1/nodes", status: 405, want: "DELETE not allowed"},
		{name: "PUT on healthz", method: "PUT", path: "/healthz", status: 405, want: "PUT not allowed"},
		{name: "unknown path", method: "GET", path: "/v2/nodes", status: 404, want: "no such path"},
		{name: "DELETE unknown node", method: "DELETE", path: "/v1/nodes/ghost", status: 404, want: `"ghost" is not registered`},
		{name: "GET unknown node", method: "GET", path: "/v1/nodes/ghost", status: 404, want: `"ghost" is not registered`},
		{name: "unknown asset", method: "GET", path: "/assets/nope.js", status: 404, want: "no such asset"},
	}
	r := newTestRegistry(t, RegistryConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, r, tt.method, tt.path, tt.body, tt.header)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if msg := errorOf(t, rec); !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not say %q", msg, tt.want)
			}
			if tt.status == 405 && rec.Header().Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
		})
	}
	if got := r.Nodes(); len(got) != 0 {
		t.Errorf("bad requests stored records: %+v", got)
	}
	if rec := do(t, r, "GET", "/v1/nodes", "", nil); !strings.Contains(rec.Body.String(), `"nodes":[]`) {
		t.Errorf("GET /v1/nodes after bad requests = %s, want an empty list", rec.Body)
	}
}

func TestRegistryChunkedBodyOverLimit(t *testing.T) {
	// Without a Content-Length the limit is enforced while reading.
	r := newTestRegistry(t, RegistryConfig{})
	req := httptest.NewRequest("PUT", "/v1/nodes/n1", io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("x", MaxBodyBytes+1))))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413; body %s", rec.Code, rec.Body)
	}
	errorOf(t, rec)
}

func TestRegistryRegisterListDelete(t *testing.T) {
	clock := newFakeClock()
	r := newTestRegistry(t, RegistryConfig{TTL: 15 * time.Second, Now: clock.Now})

	rec := do(t, r, "PUT", "/v1/nodes/n1", goodBody, nil)
	if rec.Code != 200 {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	var put struct {
		Record
		TTLSeconds float64 `json:"ttlSeconds"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &put); err != nil {
		t.Fatal(err)
	}
	want := Record{ID: "n1", Name: "pc-01", Addr: "10.0.0.5:7701", Cores: 8, Version: "0.1.0", LastSeen: clock.Now()}
	if put.Record != want || put.TTLSeconds != 15 {
		t.Errorf("PUT answered %+v ttl %v, want %+v ttl 15", put.Record, put.TTLSeconds, want)
	}
	if !strings.Contains(rec.Body.String(), `"lastSeen":"2026-03-01T12:00:00Z"`) {
		t.Errorf("lastSeen is not RFC 3339: %s", rec.Body)
	}

	// A second node without name and id in the body: both default.
	if rec := do(t, r, "PUT", "/v1/nodes/n0", `{"addr":"10.0.0.6:7701","cores":2}`, nil); rec.Code != 200 {
		t.Fatalf("PUT n0: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, r, "GET", "/v1/nodes", "", nil)
	var list struct{ Nodes []Record }
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Nodes) != 2 || list.Nodes[0].ID != "n0" || list.Nodes[0].Name != "n0" || list.Nodes[1] != want {
		t.Errorf("list = %+v, want n0 (named n0) then %+v", list.Nodes, want)
	}
	if rec := do(t, r, "GET", "/v1/nodes/n1", "", nil); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"pc-01"`) {
		t.Errorf("GET /v1/nodes/n1: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, r, "HEAD", "/v1/nodes", "", nil); rec.Code != 200 {
		t.Errorf("HEAD /v1/nodes: %d", rec.Code)
	}
	if rec := do(t, r, "DELETE", "/v1/nodes/n1", "", nil); rec.Code != 204 {
		t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, r, "DELETE", "/v1/nodes/n1", "", nil); rec.Code != 404 {
		t.Errorf("second DELETE: %d, want 404", rec.Code)
	}
	if got := r.Nodes(); len(got) != 1 || got[0].ID != "n0" {
		t.Errorf("after DELETE: %+v", got)
	}
	if rec := do(t, r, "GET", "/healthz", "", nil); rec.Code != 200 {
		t.Errorf("healthz: %d", rec.Code)
	}
}

func TestFillHost(t *testing.T) {
	tests := []struct {
		name, addr, remote, want string
	}{
		{name: "empty host", addr: ":7701", remote: "192.0.2.7:5555", want: "192.0.2.7:7701"},
		{name: "IPv4 unspecified", addr: "0.0.0.0:7701", remote: "192.0.2.7:5555", want: "192.0.2.7:7701"},
		{name: "IPv6 unspecified", addr: "[::]:7701", remote: "192.0.2.7:5555", want: "192.0.2.7:7701"},
		{name: "IPv6 source", addr: ":7701", remote: "[2001:db8::1]:5555", want: "[2001:db8::1]:7701"},
		{name: "mapped source", addr: ":7701", remote: "[::ffff:192.0.2.7]:5555", want: "192.0.2.7:7701"},
		{name: "explicit IP kept", addr: "10.1.2.3:7701", remote: "192.0.2.7:5555", want: "10.1.2.3:7701"},
		{name: "host name kept", addr: "pc-01.lan:7701", remote: "192.0.2.7:5555", want: "pc-01.lan:7701"},
		{name: "garbage unchanged", addr: "nonsense", remote: "192.0.2.7:5555", want: "nonsense"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fillHost(tt.addr, tt.remote); got != tt.want {
				t.Errorf("fillHost(%q, %q) = %q, want %q", tt.addr, tt.remote, got, tt.want)
			}
		})
	}
	// Through the handler: httptest requests come from 192.0.2.1.
	r := newTestRegistry(t, RegistryConfig{})
	rec := do(t, r, "PUT", "/v1/nodes/n1", `{"addr":"0.0.0.0:7701","cores":1}`, nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"addr":"192.0.2.1:7701"`) {
		t.Errorf("PUT with 0.0.0.0: %d %s, want addr 192.0.2.1:7701", rec.Code, rec.Body)
	}
}

func TestRegistryTTLExpiry(t *testing.T) {
	clock := newFakeClock()
	const ttl = 15 * time.Second
	r := newTestRegistry(t, RegistryConfig{TTL: ttl, Now: clock.Now})
	put := func(id string) {
		t.Helper()
		if rec := do(t, r, "PUT", "/v1/nodes/"+id, `{"addr":"10.0.0.5:7701","cores":1}`, nil); rec.Code != 200 {
			t.Fatalf("PUT %s: %d %s", id, rec.Code, rec.Body)
		}
	}
	ids := func() string {
		var s []string
		for _, n := range r.Nodes() {
			s = append(s, n.ID)
		}
		return strings.Join(s, ",")
	}
	put("a")
	put("b")
	clock.Add(10 * time.Second)
	put("b") // a heartbeat
	clock.Add(ttl - 10*time.Second)
	if got := ids(); got != "a,b" {
		t.Fatalf("at exactly the TTL: %q, want a,b", got)
	}
	clock.Add(time.Millisecond)
	if got := ids(); got != "b" {
		t.Fatalf("just past a's TTL: %q, want b", got)
	}
	if rec := do(t, r, "GET", "/v1/nodes/a", "", nil); rec.Code != 404 {
		t.Errorf("GET expired a: %d, want 404", rec.Code)
	}
	if rec := do(t, r, "DELETE", "/v1/nodes/a", "", nil); rec.Code != 404 {
		t.Errorf("DELETE expired a: %d, want 404", rec.Code)
	}
	clock.Add(10 * time.Second)
	if got := ids(); got != "" {
		t.Fatalf("past b's TTL: %q, want none", got)
	}
	put("a") // an expired node comes back with a PUT
	if got := ids(); got != "a" {
		t.Fatalf("after re-registering: %q, want a", got)
	}
}

// signed returns the header of a request signed with token at time at.
func signed(token, method, path string, at time.Time, body string) http.Header {
	return http.Header{"Authorization": {SignRequest(token, method, path, at, []byte(body))}}
}

func TestRegistrySignatures(t *testing.T) {
	const token = "room-42-secret"
	clock := newFakeClock()
	now := clock.Now()
	path := "/v1/nodes/n1"
	tests := []struct {
		name, method, path, body string
		header                   http.Header
		status                   int
		want                     string // in the error message (4xx)
	}{
		{name: "right", method: "PUT", path: path, body: goodBody, header: signed(token, "PUT", path, now, goodBody), status: 200},
		{name: "right 59 s old", method: "PUT", path: path, body: goodBody, header: signed(token, "PUT", path, now.Add(-59*time.Second), goodBody), status: 200},
		{name: "right 59 s ahead", method: "PUT", path: path, body: goodBody, header: signed(token, "PUT", path, now.Add(59*time.Second), goodBody), status: 200},
		{name: "missing", method: "PUT", path: path, body: goodBody, status: 401, want: "missing Authorization"},
		{name: "wrong token", method: "PUT", path: path, body: goodBody, header: signed("other", "PUT", path, now, goodBody), status: 401, want: "does not match"},
		{name: "stale", method: "PUT", path: path, body: goodBody, header: signed(token, "PUT", path, now.Add(-61*time.Second), goodBody), status: 401, want: "1m1s away"},
		{name: "from the future", method: "PUT", path: path, body: goodBody, header: signed(token, "PUT", path, now.Add(61*time.Second), goodBody), status: 401, want: "1m1s away"},
		{name: "other body", method: "PUT", path: path, body: goodBody, header: signed(token, "PUT", path, now, goodBody+" "), status: 401, want: "does not match"},
		{name: "other path", method: "PUT", path: path, body: goodBody, header: signed(token, "PUT", "/v1/nodes/n2", now, goodBody), status: 401, want: "does not match"},
		{name: "other method", method: "PUT", path: path, body: goodBody, header: signed(token, "DELETE", path, now, goodBody), status: 401, want: "does not match"},
		{name: "wrong scheme", method: "PUT", path: path, body: goodBody, header: http.Header{"Authorization": {"Bearer room-42-secret"}}, status: 401, want: "scheme"},
		{name: "bad timestamp", method: "PUT", path: path, body: goodBody, header: http.Header{"Authorization": {"Tessera ts=soon,sig=00"}}, status: 401, want: "timestamp"},
		{name: "short signature", method: "PUT", path: path, body: goodBody, header: http.Header{"Authorization": {"Tessera ts=" + strconv.FormatInt(now.Unix(), 10) + ",sig=abcd"}}, status: 401, want: "64 hex digits"},
		{name: "unsigned DELETE", method: "DELETE", path: path, status: 401, want: "missing Authorization"},
		{name: "unsigned read is open", method: "GET", path: "/v1/nodes", status: 200},
		{name: "wrongly signed read", method: "GET", path: "/v1/nodes", header: signed("other", "GET", "/v1/nodes", now, ""), status: 401, want: "does not match"},
		{name: "signed read", method: "GET", path: "/v1/nodes", header: signed(token, "GET", "/v1/nodes", now, ""), status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRegistry(t, RegistryConfig{Token: token, Now: clock.Now})
			rec := do(t, r, tt.method, tt.path, tt.body, tt.header)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			respSig := rec.Header().Get(ResponseSignatureHeader)
			if tt.status == 401 {
				if msg := errorOf(t, rec); !strings.Contains(msg, tt.want) {
					t.Errorf("error %q does not say %q", msg, tt.want)
				}
				if rec.Header().Get("WWW-Authenticate") != AuthScheme {
					t.Errorf("401 without WWW-Authenticate: %s", AuthScheme)
				}
				if respSig != "" {
					t.Errorf("a refused request got a signed answer")
				}
				if len(r.Nodes()) != 0 {
					t.Errorf("a refused request stored a record")
				}
				return
			}
			if tt.header == nil {
				if respSig != "" {
					t.Errorf("an unsigned request got a signed answer")
				}
				return
			}
			reqSig := sigFromAuthorization(tt.header.Get("Authorization"))
			if err := VerifyResponse(token, respSig, rec.Code, reqSig, rec.Body.Bytes()); err != nil {
				t.Errorf("answer signature: %v", err)
			}
			if err := VerifyResponse("other", respSig, rec.Code, reqSig, rec.Body.Bytes()); err == nil {
				t.Errorf("answer signature verifies with another token")
			}
			if err := VerifyResponse(token, respSig, 201, reqSig, rec.Body.Bytes()); err == nil {
				t.Errorf("answer signature verifies with another status")
			}
			if err := VerifyResponse(token, respSig, rec.Code, reqSig, append(rec.Body.Bytes(), ' ')); err == nil {
				t.Errorf("answer signature verifies with another body")
			}
		})
	}

	t.Run("signed DELETE", func(t *testing.T) {
		r := newTestRegistry(t, RegistryConfig{Token: token, Now: clock.Now})
		if rec := do(t, r, "PUT", path, goodBody, signed(token, "PUT", path, now, goodBody)); rec.Code != 200 {
			t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
		}
		h := signed(token, "DELETE", path, now, "")
		rec := do(t, r, "DELETE", path, "", h)
		if rec.Code != 204 {
			t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
		}
		reqSig := sigFromAuthorization(h.Get("Authorization"))
		if err := VerifyResponse(token, rec.Header().Get(ResponseSignatureHeader), 204, reqSig, nil); err != nil {
			t.Errorf("204 signature: %v", err)
		}
	})
	t.Run("no token ignores signatures", func(t *testing.T) {
		r := newTestRegistry(t, RegistryConfig{Now: clock.Now})
		rec := do(t, r, "PUT", path, goodBody, signed(token, "PUT", path, now, goodBody))
		if rec.Code != 200 || rec.Header().Get(ResponseSignatureHeader) != "" {
			t.Errorf("tokenless registry: %d, signature %q; want 200 unsigned", rec.Code, rec.Header().Get(ResponseSignatureHeader))
		}
	})
}

func TestRegistryRecordLimit(t *testing.T) {
	clock := newFakeClock()
	r := newTestRegistry(t, RegistryConfig{MaxNodes: 3, TTL: 10 * time.Second, Now: clock.Now})
	put := func(id string) *httptest.ResponseRecorder {
		return do(t, r, "PUT", "/v1/nodes/"+id, `{"addr":"10.0.0.5:7701","cores":1}`, nil)
	}
	for _, id := range []string{"a", "b", "c"} {
		if rec := put(id); rec.Code != 200 {
			t.Fatalf("PUT %s: %d %s", id, rec.Code, rec.Body)
		}
	}
	for i := range 100 { // a flood of new ids
		rec := put("flood" + strconv.Itoa(i))
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("PUT past the limit: %d, want 503", rec.Code)
		}
		if msg := errorOf(t, rec); !strings.Contains(msg, "limit of 3") || !strings.Contains(msg, "max-nodes") {
			t.Fatalf("error %q does not name the limit", msg)
		}
		if rec.Header().Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
	}
	if rec := put("b"); rec.Code != 200 {
		t.Errorf("refreshing a known id at the limit: %d %s", rec.Code, rec.Body)
	}
	if n := len(r.Nodes()); n != 3 {
		t.Errorf("%d records after the flood, want 3", n)
	}
	clock.Add(6 * time.Second)
	put("b")
	clock.Add(5 * time.Second) // a and c expired, b alive
	if rec := put("d"); rec.Code != 200 {
		t.Errorf("PUT once records expired: %d %s", rec.Code, rec.Body)
	}
	if got := r.Nodes(); len(got) != 2 || got[0].ID != "b" || got[1].ID != "d" {
		t.Errorf("records = %+v, want b and d", got)
	}
}

func TestRegistryPage(t *testing.T) {
	clock := newFakeClock()
	r := newTestRegistry(t, RegistryConfig{Now: clock.Now})
	body := `{"name":"<script>alert(1)</script>","addr":"10.0.0.5:7701","cores":12,"version":"0.1.0-dev"}`
	if rec := do(t, r, "PUT", "/v1/nodes/n1", body, nil); rec.Code != 200 {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	clock.Add(3 * time.Second)
	rec := do(t, r, "GET", "/", "", nil)
	page := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "10.0.0.5:7701", ">12<", "0.1.0-dev", "3s ago", `data-id="n1"`, "/assets/registry.js", `http-equiv="refresh"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") {
		t.Error("page does not escape the node name")
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("page refers to an external resource")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	for _, asset := range []struct{ path, ctype, want string }{
		{path: "/assets/registry.js", ctype: "text/javascript", want: "textContent"},
		{path: "/assets/registry.css", ctype: "text/css", want: "table"},
	} {
		rec := do(t, r, "GET", asset.path, "", nil)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), asset.ctype) || !strings.Contains(rec.Body.String(), asset.want) {
			t.Errorf("GET %s: %d %q", asset.path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
}

// TestRegistryStoresState: a record's state is stored and listed as sent, a
// refresh with another state replaces it, and a node of an earlier version
// (no state) is listed without one; a state this version does not know but
// that is well formed is kept, so that later states need no new registry.
func TestRegistryStoresState(t *testing.T) {
	r := newTestRegistry(t, RegistryConfig{})
	put := func(id, state string) {
		t.Helper()
		body := `{"addr":"10.0.0.5:7701","cores":2`
		if state != "" {
			body += `,"state":"` + state + `"`
		}
		if rec := do(t, r, "PUT", "/v1/nodes/"+id, body+"}", nil); rec.Code != 200 {
			t.Fatalf("PUT %s %s: %d %s", id, state, rec.Code, rec.Body)
		}
	}
	states := func() map[string]protocol.NodeState {
		m := map[string]protocol.NodeState{}
		for _, n := range r.Nodes() {
			m[n.ID] = n.State
		}
		return m
	}
	put("n1", "paused-busy")
	put("n2", "")
	put("n3", "paused-later")
	if got := states(); got["n1"] != protocol.StatePausedBusy || got["n2"] != "" || got["n3"] != "paused-later" {
		t.Fatalf("states %v", got)
	}
	put("n1", "ready")
	if got := states(); got["n1"] != protocol.StateReady {
		t.Fatalf("after a refresh: %v", got)
	}
	rec := do(t, r, "GET", "/v1/nodes/n1", "", nil)
	if !strings.Contains(rec.Body.String(), `"state":"ready"`) {
		t.Errorf("GET /v1/nodes/n1 = %s, want the state", rec.Body)
	}
	if rec := do(t, r, "GET", "/v1/nodes/n2", "", nil); strings.Contains(rec.Body.String(), `"state"`) {
		t.Errorf("a record without a state lists one: %s", rec.Body)
	}
	page := do(t, r, "GET", "/", "", nil).Body.String()
	for _, want := range []string{`<td class="state paused-later">paused-later</td>`, `<td class="state ready">ready</td>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestCheckState(t *testing.T) {
	for _, ok := range []protocol.NodeState{"", "ready", "paused-busy", "paused-schedule", "a", "x9-"} {
		if err := CheckState(ok); err != nil {
			t.Errorf("CheckState(%q) = %v", ok, err)
		}
	}
	for _, bad := range []protocol.NodeState{"Ready", "-x", "9x", "paused_busy", "é", protocol.NodeState(strings.Repeat("a", 33)), "a b"} {
		if err := CheckState(bad); !errors.Is(err, ErrInvalidState) {
			t.Errorf("CheckState(%q) = %v, want ErrInvalidState", bad, err)
		}
	}
}
