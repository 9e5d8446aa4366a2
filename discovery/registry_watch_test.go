package discovery

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tessera/protocol"
)

// listOf decodes a 200 answer of GET /v1/nodes.
func listOf(t *testing.T, rec *httptest.ResponseRecorder) listAnswer {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	var ans listAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
		t.Fatalf("list: %v in %s", err, rec.Body)
	}
	if got, want := rec.Header().Get("ETag"), `W/"`+ans.Version+`"`; got != want {
		t.Errorf("ETag %q, want %q", got, want)
	}
	return ans
}

func ids(recs []Record) string {
	var s []string
	for _, r := range recs {
		s = append(s, r.ID)
	}
	return strings.Join(s, ",")
}

// TestRegistryListVersions: the list's version moves when a record is
// added, changed, deleted or expires, and not when a heartbeat only
// refreshes one; If-None-Match with the version now answers 304 with no
// body; ?since= answers only the changes.
func TestRegistryListVersions(t *testing.T) {
	clock := newFakeClock()
	const ttl = 15 * time.Second
	r := newTestRegistry(t, RegistryConfig{TTL: ttl, Now: clock.Now})
	put := func(id, body string) {
		t.Helper()
		if rec := do(t, r, "PUT", "/v1/nodes/"+id, body, nil); rec.Code != 200 {
			t.Fatalf("PUT %s: %d %s", id, rec.Code, rec.Body)
		}
	}
	get := func(path, inm string) *httptest.ResponseRecorder {
		t.Helper()
		var h http.Header
		if inm != "" {
			h = http.Header{"If-None-Match": {inm}}
		}
		return do(t, r, "GET", path, "", h)
	}
	put("a", `{"addr":"10.0.0.1:7701","cores":1}`)
	put("b", `{"addr":"10.0.0.2:7701","cores":1}`)
	v0 := listOf(t, get("/v1/nodes", ""))
	if !v0.Full || ids(v0.Nodes) != "a,b" || v0.Version == "" {
		t.Fatalf("first list %+v, want full a,b with a version", v0)
	}
	etag0 := `W/"` + v0.Version + `"`

	// Nothing changed but a heartbeat: 304, no body, the same ETag; every
	// form of the tag matches.
	clock.Add(5 * time.Second)
	put("a", `{"addr":"10.0.0.1:7701","cores":1}`)
	for _, inm := range []string{etag0, `"` + v0.Version + `"`, `"x", ` + etag0, "*"} {
		rec := get("/v1/nodes?since="+v0.Version, inm)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != etag0 {
			t.Errorf("If-None-Match %s after a heartbeat: %d %q ETag %q, want 304, no body, %s", inm, rec.Code, rec.Body, rec.Header().Get("ETag"), etag0)
		}
	}
	if rec := get("/v1/nodes", `W/"other-1"`); rec.Code != 200 {
		t.Errorf("another ETag: %d, want 200", rec.Code)
	}

	// A change of state moves the version; since v0 lists only b.
	put("b", `{"addr":"10.0.0.2:7701","cores":1,"state":"paused-busy"}`)
	if rec := get("/v1/nodes", etag0); rec.Code != 200 {
		t.Fatalf("after a change, the old ETag: %d, want 200", rec.Code)
	}
	ch := listOf(t, get("/v1/nodes?since="+v0.Version, ""))
	if ch.Full || ch.Since != v0.Version || ids(ch.Nodes) != "b" || ch.Nodes[0].State != "paused-busy" || len(ch.Gone) != 0 {
		t.Fatalf("changes since v0: %+v, want b (paused-busy) only", ch)
	}
	v1 := ch.Version

	// A new node, a deletion, an expiry: each is in the changes.
	put("c", `{"addr":"10.0.0.3:7701","cores":1}`)
	if rec := do(t, r, "DELETE", "/v1/nodes/b", "", nil); rec.Code != 204 {
		t.Fatalf("DELETE b: %d", rec.Code)
	}
	ch = listOf(t, get("/v1/nodes?since="+v1, ""))
	if ch.Full || ids(ch.Nodes) != "c" || strings.Join(ch.Gone, ",") != "b" {
		t.Fatalf("changes since v1: %+v, want c new, b gone", ch)
	}
	v2 := ch.Version
	clock.Add(10 * time.Second)
	put("c", `{"addr":"10.0.0.3:7701","cores":1}`) // a heartbeat
	clock.Add(ttl - 10*time.Second)                // a's TTL exactly: live still
	if rec := get("/v1/nodes", `W/"`+v2+`"`); rec.Code != http.StatusNotModified {
		t.Fatalf("at a's TTL: %d, want 304", rec.Code)
	}
	clock.Add(time.Millisecond)
	if rec := get("/v1/nodes", `W/"`+v2+`"`); rec.Code != 200 {
		t.Fatalf("just past a's TTL: %d, want 200 (a expired)", rec.Code)
	}
	ch = listOf(t, get("/v1/nodes?since="+v2, ""))
	if ch.Full || len(ch.Nodes) != 0 || strings.Join(ch.Gone, ",") != "a" {
		t.Fatalf("changes since v2: %+v, want a gone", ch)
	}
	// b came back after it was deleted: listed, not gone.
	put("b", `{"addr":"10.0.0.2:7701","cores":1}`)
	ch = listOf(t, get("/v1/nodes?since="+v1, ""))
	if ch.Full || ids(ch.Nodes) != "b,c" || strings.Join(ch.Gone, ",") != "a" {
		t.Fatalf("changes since v1 after b came back: %+v, want b,c listed, a gone", ch)
	}

	// Versions the registry cannot answer changes from get the whole list;
	// junk is refused.
	for _, since := range []string{"0123abcd-1", r.instance + "-999999"} {
		if ans := listOf(t, get("/v1/nodes?since="+since, "")); !ans.Full || ids(ans.Nodes) != "b,c" {
			t.Errorf("since %s: %+v, want the whole list", since, ans)
		}
	}
	for _, since := range []string{"", "junk", "a-b", "-1", strings.Repeat("x", 40) + "-1"} {
		rec := get("/v1/nodes?since="+since, "")
		if rec.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, rec), "since") {
			t.Errorf("since %q: %d %s, want 400 naming since", since, rec.Code, rec.Body)
		}
	}
}

// TestRegistryTombstonesBounded: past its tombstone limit the registry
// answers a ?since= from before the pruned ones with the whole list.
func TestRegistryTombstonesBounded(t *testing.T) {
	r := newTestRegistry(t, RegistryConfig{MaxNodes: 1})
	put := func(id string) {
		t.Helper()
		if rec := do(t, r, "PUT", "/v1/nodes/"+id, `{"addr":"10.0.0.1:7701","cores":1}`, nil); rec.Code != 200 {
			t.Fatalf("PUT %s: %d %s", id, rec.Code, rec.Body)
		}
	}
	put("x")
	v := r.Version()
	for range 2*1024 + 1 {
		do(t, r, "DELETE", "/v1/nodes/x", "", nil)
		put("x")
	}
	if ans := listOf(t, do(t, r, "GET", "/v1/nodes?since="+v, "", nil)); !ans.Full || ids(ans.Nodes) != "x" {
		t.Errorf("since a pruned version: %+v, want the whole list", ans)
	}
	if n := len(r.gone); n > 2*1024 {
		t.Errorf("%d tombstones kept, want at most %d", n, 2*1024)
	}
}

// TestRegistryRefusesStaleWrites: a write from a node process started
// before the one whose live record is held, or an earlier write of the same
// process, is refused with 409 and changes nothing; so is such a DELETE.
func TestRegistryRefusesStaleWrites(t *testing.T) {
	clock := newFakeClock()
	const ttl = 15 * time.Second
	r := newTestRegistry(t, RegistryConfig{TTL: ttl, Now: clock.Now})
	const (
		old = "2026-03-01T11:00:00Z"
		cur = "2026-03-01T11:59:00.5Z"
	)
	body := func(addr, started string, seq int) string {
		return `{"addr":"` + addr + `","cores":1,"started":"` + started + `","seq":` + strconv.Itoa(seq) + `}`
	}
	put := func(b string) *httptest.ResponseRecorder { return do(t, r, "PUT", "/v1/nodes/n1", b, nil) }
	if rec := put(body("10.0.0.9:7701", cur, 3)); rec.Code != 200 {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	held := func() string {
		n := r.Nodes()
		if len(n) != 1 {
			return "none"
		}
		return n[0].Addr
	}
	for _, tc := range []struct{ name, body, want string }{
		{"the predecessor's late heartbeat", body("10.0.0.1:7701", old, 40), "started earlier"},
		{"an earlier write of the same process", body("10.0.0.2:7701", cur, 2), "write 2 arrived after its write 3"},
	} {
		rec := put(tc.body)
		if rec.Code != http.StatusConflict || !strings.Contains(errorOf(t, rec), tc.want) {
			t.Errorf("%s: %d %s, want 409 saying %q", tc.name, rec.Code, rec.Body, tc.want)
		}
		if got := held(); got != "10.0.0.9:7701" {
			t.Errorf("%s: the record now has addr %s, want it unchanged", tc.name, got)
		}
	}
	// The same write again (a transport retry), a later one, a write of an
	// older node version (no start time): accepted.
	for i, b := range []string{body("10.0.0.9:7701", cur, 3), body("10.0.0.9:7701", cur, 4), `{"addr":"10.0.0.3:7701","cores":1}`} {
		if rec := put(b); rec.Code != 200 {
			t.Errorf("write %d: %d %s, want 200", i, rec.Code, rec.Body)
		}
	}
	put(body("10.0.0.9:7701", cur, 5))
	// A stale DELETE is refused; a malformed DELETE body is an error.
	if rec := do(t, r, "DELETE", "/v1/nodes/n1", `{"started":"`+old+`","seq":41}`, nil); rec.Code != http.StatusConflict {
		t.Errorf("stale DELETE: %d %s, want 409", rec.Code, rec.Body)
	}
	if rec := do(t, r, "DELETE", "/v1/nodes/n1", `{"started":`, nil); rec.Code != http.StatusBadRequest {
		t.Errorf("malformed DELETE body: %d %s, want 400", rec.Code, rec.Body)
	}
	if held() != "10.0.0.9:7701" {
		t.Fatalf("a refused DELETE removed the record")
	}
	// Once the held record has expired, any write goes in.
	clock.Add(ttl + time.Millisecond)
	if rec := put(body("10.0.0.1:7701", old, 41)); rec.Code != 200 || held() != "10.0.0.1:7701" {
		t.Errorf("after the TTL, an older process: %d %s, want 200", rec.Code, rec.Body)
	}
	if rec := do(t, r, "DELETE", "/v1/nodes/n1", `{"started":"`+old+`","seq":42}`, nil); rec.Code != 204 {
		t.Errorf("DELETE of its own record: %d %s, want 204", rec.Code, rec.Body)
	}
}

// countingTransport counts answers by status.
type countingTransport struct {
	mu     sync.Mutex
	status map[int]int
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		c.mu.Lock()
		if c.status == nil {
			c.status = make(map[int]int)
		}
		c.status[resp.StatusCode]++
		c.mu.Unlock()
	}
	return resp, err
}

func (c *countingTransport) count(status int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status[status]
}

// TestListerFollowsChanges: a Lister's copy equals the registry's list
// after every change, and costs a 304 when nothing changed; with a token
// too (the 304 is signed).
func TestListerFollowsChanges(t *testing.T) {
	for _, token := range []string{"", "room-token"} {
		t.Run("token="+token, func(t *testing.T) {
			r, addr := serveRegistry(t, RegistryConfig{Token: token}, nil)
			ctx := context.Background()
			var tr countingTransport
			l := &Lister{Client: &RegistryClient{Addr: addr, Token: token, HTTP: &http.Client{Transport: &tr}}}
			w := &RegistryClient{Addr: addr, Token: token}
			check := func(what string) {
				t.Helper()
				got, err := l.List(ctx)
				if err != nil {
					t.Fatalf("%s: List: %v", what, err)
				}
				if g, want := ids(got), ids(r.Nodes()); g != want {
					t.Fatalf("%s: Lister has %q, registry %q", what, g, want)
				}
			}
			reg := func(id string, st string) {
				t.Helper()
				if _, err := w.Register(ctx, Record{ID: id, Addr: "10.0.0.1:7701", Cores: 1, State: protocol.NodeState(st)}); err != nil {
					t.Fatal(err)
				}
			}
			check("empty")
			reg("a", "")
			reg("b", "")
			check("two nodes")
			check("no change")
			reg("a", "") // a heartbeat
			check("a heartbeat")
			if n := tr.count(http.StatusNotModified); n != 2 {
				t.Errorf("%d answers 304, want 2 (no change, a heartbeat)", n)
			}
			reg("b", "paused-busy")
			if err := w.Deregister(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			reg("c", "")
			check("changes")
			got, _ := l.List(ctx)
			if len(got) != 2 || got[0].State != "paused-busy" {
				t.Errorf("b's state in the copy: %+v", got)
			}
		})
	}
}

// TestHeartbeatOfARestartedNodeWins: the heartbeat of a node's earlier run
// (the same id, started earlier), arriving while the new run is
// registered, is refused: the record keeps the new run's address, and the
// old run's deregistration does not remove it.
func TestHeartbeatOfARestartedNodeWins(t *testing.T) {
	r, addr := serveRegistry(t, RegistryConfig{TTL: 30 * time.Second}, nil)
	var logs syncBuffer
	early := time.Now().Add(-time.Minute)
	oldRun := &RegistryClient{Addr: addr, Logger: zerolog.New(&logs), Now: func() time.Time { return early }}
	newRun := &RegistryClient{Addr: addr}
	stopNew := runHeartbeat(t, newRun, Record{ID: "n1", Addr: "10.0.0.2:7701", Cores: 2})
	waitFor(t, 5*time.Second, "the new run registered", func() bool { n := r.Nodes(); return len(n) == 1 && n[0].Addr == "10.0.0.2:7701" })
	stopOld := runHeartbeat(t, oldRun, Record{ID: "n1", Addr: "10.0.0.1:7701", Cores: 2})
	waitFor(t, 5*time.Second, "the old run refused", func() bool { return countLines(logs.String(), "newer record of this id") > 0 })
	if err := stopOld(); err != nil {
		t.Errorf("the old run's Heartbeat: %v", err)
	}
	if n := r.Nodes(); len(n) != 1 || n[0].Addr != "10.0.0.2:7701" {
		t.Fatalf("after the old run: %+v, want the new run's record", n)
	}
	if err := stopNew(); err != nil {
		t.Errorf("the new run's Heartbeat: %v", err)
	}
	if n := len(r.Nodes()); n != 0 {
		t.Errorf("the new run's deregistration left %d records", n)
	}
}

// FuzzRegistryRequests sends a registry requests made of the input (a
// method, a path with its query, an If-None-Match and a body per line of
// the form METHOD PATH INM BODY) and checks, after each: the status is one
// the API answers, every error is the JSON {"error"}, and the changes since
// the first version, applied to the first list, give the list now.
func FuzzRegistryRequests(f *testing.F) {
	f.Add("PUT /v1/nodes/a - {\"addr\":\"10.0.0.1:7701\",\"cores\":1}\nGET /v1/nodes?since=x-1 - \nDELETE /v1/nodes/a - ")
	f.Add("PUT /v1/nodes/a - {\"addr\":\"10.0.0.1:7701\",\"cores\":1,\"started\":\"2026-03-01T11:00:00Z\",\"seq\":2}\nPUT /v1/nodes/a - {\"addr\":\"10.0.0.1:7701\",\"cores\":1,\"started\":\"2026-03-01T11:00:00Z\",\"seq\":1}")
	f.Add("GET /v1/nodes W/\"*\" \nGET /v1/nodes?since=&since=1 - \nDELETE /v1/nodes/b - {\"started\":1}")
	f.Add("PUT /v1/nodes/b - {\"addr\":\":1\",\"cores\":2,\"state\":\"paused-busy\"}\nGET /v1/nodes?since=00000000-0 \"x\",W/\"y\" ")
	f.Fuzz(func(t *testing.T, script string) {
		clock := newFakeClock()
		r := newTestRegistry(t, RegistryConfig{TTL: 15 * time.Second, Now: clock.Now, MaxNodes: 4})
		first := listOf(t, do(t, r, "GET", "/v1/nodes", "", nil))
		for i, line := range strings.Split(script, "\n") {
			if i >= 16 {
				break
			}
			parts := strings.SplitN(line, " ", 4)
			if len(parts) < 2 || !strings.HasPrefix(parts[1], "/") || strings.ContainsAny(parts[1], " \r\t#") {
				continue
			}
			method := parts[0]
			if method != "GET" && method != "PUT" && method != "DELETE" && method != "HEAD" && method != "POST" {
				continue
			}
			var h http.Header
			if len(parts) > 2 && parts[2] != "-" && !strings.ContainsAny(parts[2], "\r\x00") {
				h = http.Header{"If-None-Match": {parts[2]}}
			}
			body := ""
			if len(parts) > 3 {
				body = parts[3]
			}
			clock.Add(time.Second)
			if _, err := url.ParseRequestURI(parts[1]); err != nil {
				continue // not a request line an HTTP server would hand on
			}
			rec := do(t, r, method, parts[1], body, h)
			switch rec.Code {
			case 200, 204, 304:
			case 400, 401, 404, 405, 409, 413, 503:
				errorOf(t, rec)
			default:
				t.Fatalf("%s %s: status %d %s", method, parts[1], rec.Code, rec.Body)
			}
		}
		now := listOf(t, do(t, r, "GET", "/v1/nodes", "", nil))
		ch := listOf(t, do(t, r, "GET", "/v1/nodes?since="+first.Version, "", nil))
		got := map[string]Record{}
		if !ch.Full {
			for _, n := range first.Nodes {
				got[n.ID] = n
			}
		}
		for _, id := range ch.Gone {
			delete(got, id)
		}
		for _, n := range ch.Nodes {
			got[n.ID] = n
		}
		if len(got) != len(now.Nodes) {
			t.Fatalf("changes applied give %d records, the list has %d", len(got), len(now.Nodes))
		}
		for _, n := range now.Nodes {
			if g, ok := got[n.ID]; !ok || !sameListing(g, n) {
				t.Fatalf("changes applied give %+v for %s, the list %+v", g, n.ID, n)
			}
		}
	})
}

// TestListerOfAnOldRegistry: a registry of an earlier release answers every
// poll with the whole list and no version; a Lister takes it as such.
func TestListerOfAnOldRegistry(t *testing.T) {
	lists := []string{
		`{"nodes":[{"id":"a","addr":"10.0.0.1:7701","cores":1}],"ttlSeconds":15}`,
		`{"nodes":[{"id":"a","addr":"10.0.0.1:7701","cores":1},{"id":"b","addr":"10.0.0.2:7701","cores":1}],"ttlSeconds":15}`,
		`{"nodes":[{"id":"b","addr":"10.0.0.2:7701","cores":1}],"ttlSeconds":15}`,
	}
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Query().Has("since") || req.Header.Get("If-None-Match") != "" {
			t.Errorf("poll %d: %s with If-None-Match %q: the registry gave no version to ask from", calls, req.URL, req.Header.Get("If-None-Match"))
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(lists[calls]))
		calls++
	}))
	defer srv.Close()
	l := &Lister{Client: &RegistryClient{Addr: srv.URL}}
	for i, want := range []string{"a", "a,b", "b"} {
		got, err := l.List(context.Background())
		if err != nil || ids(got) != want {
			t.Errorf("poll %d: %q, %v; want %s", i, ids(got), err, want)
		}
	}
}
