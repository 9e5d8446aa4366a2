package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"tessera/discovery"
)

// startRegistryCommand runs `tessera registry args...` in-process until the
// returned stop is called; it returns the address the command printed.
func startRegistryCommand(t *testing.T, args ...string) (addr string, stderr *output, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr = &output{}
	done := make(chan error, 1)
	go func() {
		err := runRegistry(ctx, args, pw, stderr)
		pw.Close()
		done <- err
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, pr)
	}()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("tessera registry did not stop within 10 s of its context ending")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	select {
	case line, ok := <-lines:
		const prefix = "tessera registry listening on "
		if !ok || !strings.HasPrefix(line, prefix) {
			t.Fatalf("first line %q, want %q...; stderr:\n%s", line, prefix, stderr)
		}
		addr, _, _ = strings.Cut(strings.TrimPrefix(line, prefix), " ")
	case <-time.After(10 * time.Second):
		t.Fatalf("no address printed within 10 s; stderr:\n%s", stderr)
	}
	return addr, stderr, stop
}

func TestRegistryCommandServesAndStops(t *testing.T) {
	addr, stderr, stop := startRegistryCommand(t, "-listen", "127.0.0.1:0", "-no-mdns", "-ttl", "5s", "-max-nodes", "2")
	ctx := context.Background()
	c := &discovery.RegistryClient{Addr: addr}
	lease, err := c.Register(ctx, discovery.Record{ID: "n1", Name: "pc-01", Addr: ":7701", Cores: 4, Version: "test"})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if lease.TTL != 5*time.Second || lease.Record.Addr != "127.0.0.1:7701" {
		t.Errorf("lease %+v, want ttl 5s and addr 127.0.0.1:7701", lease)
	}
	for _, id := range []string{"n2", "n3"} {
		_, err = c.Register(ctx, discovery.Record{ID: id, Addr: ":7701", Cores: 1})
	}
	if !errors.Is(err, discovery.ErrRegistryFull) {
		t.Errorf("third node: %v, want ErrRegistryFull (-max-nodes 2)", err)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(page, []byte("pc-01")) {
		t.Errorf("the page does not list pc-01:\n%s", page)
	}
	if err := stop(); err != nil {
		t.Fatalf("registry exited with %v; stderr:\n%s", err, stderr)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Error("the registry still accepts connections after stopping")
	}
	if log := stderr.String(); !strings.Contains(log, "node registered") || !strings.Contains(log, "shutting down") {
		t.Errorf("stderr lacks the registration or the shutdown:\n%s", log)
	}
}

func TestRegistryCommandTokenFromEnvironment(t *testing.T) {
	t.Setenv("TESSERA_TOKEN", "room-7")
	addr, _, _ := startRegistryCommand(t, "-listen", "127.0.0.1:0", "-no-mdns")
	rec := discovery.Record{ID: "n1", Addr: ":7701", Cores: 1}
	if _, err := (&discovery.RegistryClient{Addr: addr}).Register(context.Background(), rec); !errors.Is(err, discovery.ErrUnauthorized) {
		t.Errorf("unsigned Register: %v, want ErrUnauthorized", err)
	}
	if _, err := (&discovery.RegistryClient{Addr: addr, Token: "room-7"}).Register(context.Background(), rec); err != nil {
		t.Errorf("signed Register: %v", err)
	}
}

func TestRegistryCommandBadUsage(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "ttl too short", args: []string{"-ttl", "0s"}, code: 2, want: "-ttl 0s: want at least 1s"},
		{name: "ttl not a duration", args: []string{"-ttl", "soon"}, code: 2, want: "invalid value \"soon\""},
		{name: "max-nodes zero", args: []string{"-max-nodes", "0"}, code: 2, want: "-max-nodes 0"},
		{name: "listen not host:port", args: []string{"-listen", "7700"}, code: 2, want: "want host:port"},
		{name: "stray argument", args: []string{"-no-mdns", "extra"}, code: 2, want: "unexpected argument \"extra\""},
		{name: "unknown flag", args: []string{"-bogus"}, code: 2, want: "-bogus"},
		{name: "port in use", args: []string{"-listen", busy.Addr().String(), "-no-mdns"}, code: 1, want: "listen on " + busy.Addr().String()},
		{name: "help", args: []string{"-h"}, code: 0, want: "-max-nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"registry"}, tt.args...), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.want)
			}
		})
	}
}
