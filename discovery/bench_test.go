package discovery

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRegistryHeartbeat measures heartbeats per second: 10,000 nodes
// are registered, then keep-alive HTTP clients on loopback PUT their
// records again, round robin over the nodes. The target is at least 20,000
// heartbeats/s with -cpu 1 (server and load generator on one core):
//
//	go test -run '^$' -bench RegistryHeartbeat -cpu 1 -count 5 ./discovery
//
// loadgen=raw writes prepared HTTP/1.1 requests and parses the answers by
// hand, so that most of the core goes to the registry; loadgen=nethttp uses
// net/http's client (about as costly as the server). token=yes signs every
// request (signed in advance: a signature is valid for 60 s) and has the
// registry verify it and sign its answer.
func BenchmarkRegistryHeartbeat(b *testing.B) {
	const nodes = 10000
	for _, token := range []string{"", "room-token"} {
		for _, gen := range []string{"raw", "nethttp"} {
			name := fmt.Sprintf("token=%v/loadgen=%s", token != "", gen)
			b.Run(name, func(b *testing.B) {
				addr, reqs := benchRegistry(b, nodes, token)
				b.ReportAllocs()
				b.ResetTimer()
				if gen == "raw" {
					rawLoad(b, addr, reqs, 32)
				} else {
					netHTTPLoad(b, addr, reqs, 32)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "heartbeats/s")
			})
		}
	}
}

// benchRequest is one node's heartbeat, prepared.
type benchRequest struct {
	path, auth string
	body       []byte
	raw        []byte // the whole HTTP/1.1 request
}

// benchRegistry serves a registry with n registered nodes on loopback and
// returns its address and one prepared heartbeat per node.
func benchRegistry(b *testing.B, n int, token string) (string, []benchRequest) {
	b.Helper()
	r, err := NewRegistry(RegistryConfig{TTL: time.Hour, Token: token, MaxNodes: n})
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = r.Serve(l) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	addr := l.Addr().String()
	now := time.Now()
	reqs := make([]benchRequest, n)
	for i := range reqs {
		id := fmt.Sprintf("node-%05d", i)
		body := fmt.Appendf(nil, `{"id":%q,"name":"pc-%05d","addr":"10.%d.%d.%d:7701","cores":8,"version":"0.1.0"}`, id, i, i>>16&255, i>>8&255, i&255)
		rq := benchRequest{path: nodePrefix + id, body: body}
		if token != "" {
			rq.auth = SignRequest(token, http.MethodPut, rq.path, now, body)
		}
		var raw bytes.Buffer
		fmt.Fprintf(&raw, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", rq.path, addr, len(body))
		if rq.auth != "" {
			fmt.Fprintf(&raw, "Authorization: %s\r\n", rq.auth)
		}
		raw.WriteString("\r\n")
		raw.Write(body)
		rq.raw = raw.Bytes()
		reqs[i] = rq
		if _, fresh, _, err := r.put(Record{ID: id, Name: "pc", Addr: "10.0.0.1:7701", Cores: 8}); err != nil || !fresh {
			b.Fatalf("registering %s: %v", id, err)
		}
	}
	return addr, reqs
}

// rawLoad sends b.N heartbeats over conns keep-alive connections.
func rawLoad(b *testing.B, addr string, reqs []benchRequest, conns int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			br := bufio.NewReaderSize(c, 4096)
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if _, err := c.Write(reqs[i%int64(len(reqs))].raw); err != nil {
					errs <- err
					return
				}
				if err := readRawResponse(br); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// readRawResponse reads one answer, checks it is 200 and skips its body.
func readRawResponse(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("answer %q", line)
	}
	length := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return err
			}
		}
	}
	if length < 0 {
		return fmt.Errorf("answer without Content-Length")
	}
	_, err = br.Discard(length)
	return err
}

// netHTTPLoad sends b.N heartbeats with net/http clients, conns at a time.
func netHTTPLoad(b *testing.B, addr string, reqs []benchRequest, conns int) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				rq := &reqs[i%int64(len(reqs))]
				req, err := http.NewRequest(http.MethodPut, "http://"+addr+rq.path, bytes.NewReader(rq.body))
				if err != nil {
					errs <- err
					return
				}
				if rq.auth != "" {
					req.Header.Set("Authorization", rq.auth)
				}
				resp, err := hc.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("status %s", resp.Status)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
