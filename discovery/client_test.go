package discovery

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tessera/protocol"
)

// serveRegistry runs a registry on 127.0.0.1:0 behind wrap (nil: none) and
// returns it with its address. Cleanup shuts it down.
func serveRegistry(t *testing.T, cfg RegistryConfig, wrap func(http.Handler) http.Handler) (*Registry, string) {
	t.Helper()
	r := newTestRegistry(t, cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		r.srv.Handler = wrap(r)
	}
	done := make(chan error, 1)
	go func() { done <- r.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return r, l.Addr().String()
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// countLines counts log lines containing s.
func countLines(log, s string) int {
	n := 0
	for line := range strings.Lines(log) {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// waitFor polls cond every 5 ms until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestClientRoundTrip(t *testing.T) {
	for _, token := range []string{"", "room-token"} {
		t.Run("token="+token, func(t *testing.T) {
			r, addr := serveRegistry(t, RegistryConfig{Token: token, TTL: 20 * time.Second}, nil)
			ctx := context.Background()
			c := &RegistryClient{Addr: addr, Token: token}
			lease, err := c.Register(ctx, Record{ID: "n1", Name: "pc", Addr: ":7701", Cores: 4, Version: "v"})
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			if lease.TTL != 20*time.Second || lease.Record.Addr != "127.0.0.1:7701" || lease.Record.LastSeen.IsZero() {
				t.Errorf("lease = %+v, want TTL 20s, addr 127.0.0.1:7701, lastSeen set", lease)
			}
			c2 := &RegistryClient{Addr: "http://" + addr + "/", Token: token} // a base URL works too
			list, err := c2.List(ctx)
			if err != nil || len(list) != 1 || list[0].ID != "n1" || list[0].Cores != 4 {
				t.Fatalf("List = %+v, %v", list, err)
			}
			if err := c.Deregister(ctx, "n1"); err != nil {
				t.Fatalf("Deregister: %v", err)
			}
			if err := c.Deregister(ctx, "n1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("second Deregister: %v, want ErrNotFound", err)
			}
			if n := len(r.Nodes()); n != 0 {
				t.Errorf("%d records left", n)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	_, addr := serveRegistry(t, RegistryConfig{MaxNodes: 1}, nil)
	_, tokenAddr := serveRegistry(t, RegistryConfig{Token: "right"}, nil)
	ctx := context.Background()
	good := Record{ID: "n1", Addr: "10.0.0.1:7701", Cores: 1}
	if _, err := (&RegistryClient{Addr: addr}).Register(ctx, good); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		c     RegistryClient
		rec   Record
		want  error
		words string
	}{
		{name: "invalid record", c: RegistryClient{Addr: addr}, rec: Record{ID: "n2", Addr: "10.0.0.1:7701"}, want: ErrBadRequest, words: "cores is 0"},
		{name: "invalid id", c: RegistryClient{Addr: addr}, rec: Record{ID: "a b", Addr: "10.0.0.1:7701", Cores: 1}, want: ErrInvalidID, words: "' '"},
		{name: "registry full", c: RegistryClient{Addr: addr}, rec: Record{ID: "n2", Addr: "10.0.0.1:7701", Cores: 1}, want: ErrRegistryFull, words: "limit of 1"},
		{name: "no token for a registry with one", c: RegistryClient{Addr: tokenAddr}, rec: good, want: ErrUnauthorized, words: "missing Authorization"},
		{name: "wrong token", c: RegistryClient{Addr: tokenAddr, Token: "wrong"}, rec: good, want: ErrUnauthorized, words: "does not match"},
		{name: "token for a registry without one", c: RegistryClient{Addr: addr, Token: "right"}, rec: good, want: ErrUnsignedResponse, words: "no Tessera-Signature"},
		{name: "clock far off", c: RegistryClient{Addr: tokenAddr, Token: "right", Now: func() time.Time { return time.Now().Add(-5 * time.Minute) }}, rec: good, want: ErrUnauthorized, words: "away from the registry's clock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.Register(ctx, tt.rec)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.words) {
				t.Errorf("Register: %v; want %v saying %q", err, tt.want, tt.words)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := l.Addr().String()
		l.Close()
		_, err = (&RegistryClient{Addr: dead}).Register(ctx, good)
		if err == nil || !strings.Contains(err.Error(), dead) {
			t.Errorf("Register with a closed port: %v, want an error naming %s", err, dead)
		}
	})
}

// TestClientRejectsForgedAnswers: a client with a token accepts only answers
// signed for its own request.
func TestClientRejectsForgedAnswers(t *testing.T) {
	const token = "room"
	ok := `{"id":"n1","name":"n1","addr":"10.0.0.1:7701","cores":1,"version":"","lastSeen":"2026-03-01T12:00:00Z","ttlSeconds":15}` + "\n"
	var replayed string // a valid signature of an earlier answer
	tests := []struct {
		name string
		sig  func(r *http.Request, body string) string
	}{
		{name: "unsigned", sig: func(*http.Request, string) string { return "" }},
		{name: "garbage", sig: func(*http.Request, string) string { return "zz" }},
		{name: "other token", sig: func(r *http.Request, body string) string {
			return SignResponse("other", 200, sigFromAuthorization(r.Header.Get("Authorization")), []byte(body))
		}},
		{name: "replayed from another request", sig: func(r *http.Request, body string) string { return replayed }},
		{name: "signed for another status", sig: func(r *http.Request, body string) string {
			return SignResponse(token, 204, sigFromAuthorization(r.Header.Get("Authorization")), []byte(body))
		}},
	}
	old := SignRequest(token, "PUT", "/v1/nodes/n1", time.Now().Add(-time.Second), []byte("{}"))
	replayed = SignResponse(token, 200, sigFromAuthorization(old), []byte(ok))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if s := tt.sig(r, ok); s != "" {
					w.Header().Set(ResponseSignatureHeader, s)
				}
				_, _ = w.Write([]byte(ok))
			}))
			defer srv.Close()
			_, err := (&RegistryClient{Addr: srv.URL, Token: token}).Register(context.Background(), Record{ID: "n1", Addr: ":7701", Cores: 1})
			if !errors.Is(err, ErrUnsignedResponse) {
				t.Errorf("Register: %v, want ErrUnsignedResponse", err)
			}
		})
	}
}

// methodCounter wraps a handler, counts requests by method, and fails the
// first failPuts PUTs with 503.
type methodCounter struct {
	mu       sync.Mutex
	counts   map[string]int
	putTimes []time.Time
	failPuts int
}

func (m *methodCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		if m.counts == nil {
			m.counts = make(map[string]int)
		}
		m.counts[r.Method]++
		fail := false
		if r.Method == http.MethodPut {
			m.putTimes = append(m.putTimes, time.Now())
			fail = len(m.putTimes) <= m.failPuts
		}
		m.mu.Unlock()
		if fail {
			http.Error(w, `{"error":"down for maintenance"}`, http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (m *methodCounter) count(method string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[method]
}

func (m *methodCounter) puts() []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]time.Time(nil), m.putTimes...)
}

// runHeartbeat starts c.Heartbeat(rec) and returns a stop function that
// cancels it and returns its error.
func runHeartbeat(t *testing.T, c *RegistryClient, rec Record) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Heartbeat(ctx, rec) }()
	t.Cleanup(cancel)
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Heartbeat did not return within 5 s of cancel")
			return nil
		}
	}
}

func TestHeartbeatRefreshesAndDeregisters(t *testing.T) {
	var m methodCounter
	const ttl = time.Second // heartbeats every ~333 ms
	r, addr := serveRegistry(t, RegistryConfig{TTL: ttl}, m.wrap)
	stop := runHeartbeat(t, &RegistryClient{Addr: addr}, Record{ID: "n1", Addr: ":7701", Cores: 2})
	var seen []time.Time
	waitFor(t, 5*time.Second, "three distinct heartbeats", func() bool {
		if nodes := r.Nodes(); len(nodes) == 1 && (len(seen) == 0 || nodes[0].LastSeen.After(seen[len(seen)-1])) {
			seen = append(seen, nodes[0].LastSeen)
		}
		return len(seen) >= 3
	})
	// Every heartbeat came before the TTL ran out: the record never lapsed.
	for i := 1; i < len(seen); i++ {
		if gap := seen[i].Sub(seen[i-1]); gap > ttl {
			t.Errorf("heartbeat gap %v exceeds the TTL", gap)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	if m.count("DELETE") != 1 {
		t.Errorf("%d DELETEs, want 1", m.count("DELETE"))
	}
	if n := len(r.Nodes()); n != 0 {
		t.Errorf("%d records after the heartbeat stopped", n)
	}
}

func TestHeartbeatRetriesWithBackoff(t *testing.T) {
	m := methodCounter{failPuts: 3}
	r, addr := serveRegistry(t, RegistryConfig{TTL: 30 * time.Second}, m.wrap)
	var logs syncBuffer
	stop := runHeartbeat(t, &RegistryClient{Addr: addr, Logger: zerolog.New(&logs)}, Record{ID: "n1", Addr: ":7701", Cores: 2})
	waitFor(t, 10*time.Second, "a registration after three failures", func() bool {
		return countLines(logs.String(), `"message":"registered with the registry"`) == 1
	})
	if n := len(r.Nodes()); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
	puts := m.puts()
	if len(puts) != 4 {
		t.Fatalf("%d PUTs, want 4 (3 refused, 1 accepted)", len(puts))
	}
	// Backoff with jitter: the k-th retry waits at least half of 250ms*2^k.
	for k := 1; k < len(puts); k++ {
		floor := minBackoff << (k - 1) / 2
		if gap := puts[k].Sub(puts[k-1]); gap < floor {
			t.Errorf("retry %d came after %v, want at least %v", k, gap, floor)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	log := logs.String()
	if n := countLines(log, `"message":"cannot register with the registry`); n != 1 {
		t.Errorf("%d failure lines, want 1 for 3 failures:\n%s", n, log)
	}
	if n := countLines(log, `"message":"registered with the registry"`); n != 1 {
		t.Errorf("%d success lines, want 1:\n%s", n, log)
	}
	if n := countLines(log, `"message":"deregistered"`); n != 1 {
		t.Errorf("%d deregistration lines, want 1:\n%s", n, log)
	}
}

func TestHeartbeatRefusesRegistryWithoutToken(t *testing.T) {
	var m methodCounter
	r, addr := serveRegistry(t, RegistryConfig{}, m.wrap)
	var logs syncBuffer
	stop := runHeartbeat(t, &RegistryClient{Addr: addr, Token: "room", Logger: zerolog.New(&logs)}, Record{ID: "n1", Addr: ":7701", Cores: 2})
	waitFor(t, 10*time.Second, "three attempts", func() bool { return m.count("PUT") >= 3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	log := logs.String()
	if n := countLines(log, `"message":"refusing the registry`); n != 1 {
		t.Errorf("%d refusal lines, want exactly 1:\n%s", n, log)
	}
	if strings.Contains(log, "registered with the registry") {
		t.Errorf("the node counted an unauthenticated registry as registered:\n%s", log)
	}
	if m.count("DELETE") != 0 {
		t.Errorf("deregistered from a registry it never trusted")
	}
	_ = r
}

func TestHeartbeatGivesUpOnInvalidRecord(t *testing.T) {
	_, addr := serveRegistry(t, RegistryConfig{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := (&RegistryClient{Addr: addr}).Heartbeat(ctx, Record{ID: "n1", Addr: ":7701", Cores: 0})
	if !errors.Is(err, ErrBadRequest) || ctx.Err() != nil {
		t.Errorf("Heartbeat with cores 0: %v (ctx %v), want ErrBadRequest at once", err, ctx.Err())
	}
}

// TestRegistryServerTimeouts: a client that stalls in its headers, or idles
// on a keep-alive connection, is disconnected. (The test shortens the
// timeouts; the production values are checked to be set.)
func TestRegistryServerTimeouts(t *testing.T) {
	r := newTestRegistry(t, RegistryConfig{})
	if r.srv.ReadHeaderTimeout == 0 || r.srv.ReadTimeout == 0 || r.srv.WriteTimeout == 0 || r.srv.IdleTimeout == 0 || r.srv.MaxHeaderBytes == 0 {
		t.Fatalf("server timeouts not all set: %+v", r.srv)
	}
	tests := []struct {
		name string
		send string // then the client stalls
	}{
		{name: "stalled headers", send: "PUT /v1/nodes/n1 HTTP/1.1\r\nHost: x\r\n"},
		{name: "idle keep-alive", send: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRegistry(t, RegistryConfig{})
			r.srv.ReadHeaderTimeout, r.srv.IdleTimeout = 100*time.Millisecond, 100*time.Millisecond
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- r.Serve(l) }()
			defer func() {
				if err := r.Shutdown(context.Background()); err != nil {
					t.Error(err)
				}
				<-served
			}()
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte(tt.send)); err != nil {
				t.Fatal(err)
			}
			// The server must close the connection: reading ends with EOF
			// (after any answer) well before this deadline.
			if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(io.Discard, c)
			if err != nil {
				t.Errorf("connection not closed by the server: %v", err)
			}
		})
	}
}

// TestHeartbeatLiveRegistersChangesAtOnce: a change of the live record is
// registered within moments, not at the next refresh (the TTL here makes
// that half a minute away).
func TestHeartbeatLiveRegistersChangesAtOnce(t *testing.T) {
	r, addr := serveRegistry(t, RegistryConfig{TTL: 90 * time.Second}, nil)
	live := NewLiveRecord(Record{ID: "n1", Addr: ":7701", Cores: 2, State: protocol.StateReady})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&RegistryClient{Addr: addr}).HeartbeatLive(ctx, live) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("HeartbeatLive: %v", err)
		}
	}()
	state := func() protocol.NodeState {
		if nodes := r.Nodes(); len(nodes) == 1 {
			return nodes[0].State
		}
		return "none"
	}
	waitFor(t, 5*time.Second, "the first registration", func() bool { return state() == protocol.StateReady })
	for _, st := range []protocol.NodeState{protocol.StatePausedBusy, protocol.StatePausedSchedule, protocol.StateReady} {
		if !live.SetState(st) {
			t.Fatalf("SetState(%s) reported no change", st)
		}
		waitFor(t, 5*time.Second, "the registry to hold "+string(st), func() bool { return state() == st })
	}
	if live.SetState(protocol.StateReady) {
		t.Error("SetState of the same state reported a change")
	}
}
