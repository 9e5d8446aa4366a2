package protocol

import (
	"errors"
	"net"
	"reflect"
	"testing"
	"time"
)

// slowConn is a slow link: a Write first waits perMiB for each MiB of it.
type slowConn struct {
	net.Conn
	perMiB time.Duration
}

func (s *slowConn) Write(p []byte) (int, error) {
	time.Sleep(time.Duration(len(p)) * s.perMiB >> 20)
	return s.Conn.Write(p)
}

// bigSceneOf returns a Scene of one file of n bytes, not all alike.
func bigSceneOf(n int) Scene {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i * 7)
	}
	return Scene{Hash: "big", Main: "s.json", Files: []Blob{{Name: "s.json", Data: data}}}
}

// TestBigFrameOnASlowLink: a 12 MiB Scene over a link that takes 250 ms a
// MiB (3 s in all) arrives whole with both timeouts at 2 s: they bound the
// wait for each MiB, not for the frame (a 64 MiB scene on a 50 Mbit/s link
// used to fail the 10 s write timeout).
func TestBigFrameOnASlowLink(t *testing.T) {
	const timeout = 2 * time.Second
	x, y := net.Pipe()
	cfg := Config{ReadTimeout: timeout, WriteTimeout: timeout}
	a, b := NewConn(&slowConn{Conn: x, perMiB: 250 * time.Millisecond}, cfg), NewConn(y, cfg)
	defer a.Close()
	defer b.Close()
	m := bigSceneOf(12 << 20)
	start := time.Now()
	sent := make(chan error, 1)
	go func() { sent <- a.Send(m) }()
	got, err := b.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("Send: %v", err)
	}
	if d := time.Since(start); d <= timeout {
		t.Fatalf("the transfer took %v, within one timeout: the link is not slow enough to test anything", d)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatal("the Scene arrived changed")
	}
}

// TestBigScenesTakeTurns: two big Scenes are encoded and written at once,
// by all Conns together; a third Send waits for a turn, and the wait (here
// longer than its write timeout) does not count against its timeout.
func TestBigScenesTakeTurns(t *testing.T) {
	const timeout = time.Second
	m := bigSceneOf(bigScene)
	type pair struct{ a, b *Conn }
	var pairs []pair
	for i := range 3 {
		x, y := net.Pipe()
		var w net.Conn = x
		if i < 2 {
			// 150 ms a MiB: 2.5 s in all.
			w = &slowConn{Conn: x, perMiB: 150 * time.Millisecond}
		}
		p := pair{NewConn(w, Config{WriteTimeout: timeout}), NewConn(y, Config{})}
		t.Cleanup(func() {
			p.a.Close()
			p.b.Close()
		})
		pairs = append(pairs, p)
	}
	sent := make(chan error, 3)
	got := make(chan Message, 3)
	for i, p := range pairs {
		go func() {
			r, err := p.b.Recv()
			if err != nil {
				t.Errorf("peer %d: Recv: %v", i, err)
			}
			got <- r
		}()
	}
	for _, p := range pairs[:2] {
		go func() { sent <- p.a.Send(m) }()
	}
	deadline := time.Now().Add(time.Minute)
	for len(bigSends) < cap(bigSends) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d turns taken after a minute", len(bigSends), cap(bigSends))
		}
		time.Sleep(time.Millisecond)
	}
	go func() { sent <- pairs[2].a.Send(m) }()
	for range 3 {
		if err := <-sent; err != nil {
			t.Fatalf("Send: %v", err)
		}
		if r := <-got; !reflect.DeepEqual(r, m) {
			t.Fatal("a Scene arrived changed")
		}
	}
	if n := len(bigSends); n != 0 {
		t.Fatalf("%d turns still taken", n)
	}
}

// TestBigSceneWaitEndsWithClose: a Send waiting for a turn while both are
// taken (by peers that read nothing) returns ErrClosed once its Conn is
// closed, without waiting for a turn.
func TestBigSceneWaitEndsWithClose(t *testing.T) {
	m := bigSceneOf(bigScene)
	var conns []*Conn
	for range 3 {
		a, _ := pipePair(t, Config{WriteTimeout: time.Hour}) // nobody reads
		conns = append(conns, a)
	}
	held := make(chan error, 2)
	for _, a := range conns[:2] {
		go func() { held <- a.Send(m) }()
	}
	deadline := time.Now().Add(time.Minute)
	for len(bigSends) < cap(bigSends) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d turns taken after a minute", len(bigSends), cap(bigSends))
		}
		time.Sleep(time.Millisecond)
	}
	waiting := make(chan error, 1)
	go func() { waiting <- conns[2].Send(m) }()
	conns[2].Close()
	if err := <-waiting; !errors.Is(err, ErrClosed) {
		t.Fatalf("the waiting Send: %v, want ErrClosed", err)
	}
	for _, a := range conns[:2] {
		a.Close()
	}
	for range 2 {
		if err := <-held; err == nil {
			t.Fatal("a Send to a peer that read nothing succeeded")
		}
	}
	if n := len(bigSends); n != 0 {
		t.Fatalf("%d turns still taken", n)
	}
}
