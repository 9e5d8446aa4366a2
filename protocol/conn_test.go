package protocol

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// fakeConn is a net.Conn that reads from r, writes to w, and records Close.
type fakeConn struct {
	r      io.Reader
	w      io.Writer
	closed atomic.Bool
}

func (f *fakeConn) Read(p []byte) (int, error) {
	if f.closed.Load() {
		return 0, net.ErrClosed
	}
	return f.r.Read(p)
}

func (f *fakeConn) Write(p []byte) (int, error) {
	if f.w == nil {
		return len(p), nil
	}
	return f.w.Write(p)
}

func (f *fakeConn) Close() error                     { f.closed.Store(true); return nil }
func (f *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (f *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (f *fakeConn) SetDeadline(time.Time) error      { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeConn) SetWriteDeadline(time.Time) error { return nil }

// readerConn returns a Conn that receives the bytes r yields.
func readerConn(r io.Reader, cfg Config) (*Conn, *fakeConn) {
	fc := &fakeConn{r: r}
	return NewConn(fc, cfg), fc
}

// tcpPair returns two Conns joined by a real loopback TCP connection.
func tcpPair(t testing.TB, cfg Config) (client, server *Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- nc
	}()
	client, err = Dial(context.Background(), ln.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	nc, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	server = NewConn(nc, cfg)
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

// pipePair returns two Conns joined by net.Pipe.
func pipePair(t testing.TB, cfg Config) (a, b *Conn) {
	t.Helper()
	x, y := net.Pipe()
	a, b = NewConn(x, cfg), NewConn(y, cfg)
	t.Cleanup(func() {
		a.Close()
		b.Close()
	})
	return a, b
}

// smallMessages is sampleMessages with a small tile and scene, for tests
// that cut the stream at every byte.
func smallMessages() []Message {
	ms := sampleMessages()
	for i, m := range ms {
		switch m := m.(type) {
		case TileResult:
			m.Pixels = testPixels(4)
			ms[i] = m
		case Scene:
			m.Files = m.Files[:1]
			ms[i] = m
		}
	}
	return ms
}

func stream(t testing.TB, ms []Message) (all []byte, ends []int) {
	t.Helper()
	for _, m := range ms {
		all = append(all, mustFrame(t, m)...)
		ends = append(ends, len(all))
	}
	return all, ends
}

func TestConnRoundTripTCP(t *testing.T) {
	client, server := tcpPair(t, Config{})
	ms := sampleMessages()
	errc := make(chan error, 1)
	go func() {
		for _, m := range ms {
			if err := client.Send(m); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	var want int64
	for _, m := range ms {
		want += int64(len(mustFrame(t, m)))
		got, err := server.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("got %#v, want %#v", got, m)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("Send: %v", err)
	}
	if client.BytesSent() != want || server.BytesReceived() != want {
		t.Errorf("BytesSent %d, BytesReceived %d, want both %d", client.BytesSent(), server.BytesReceived(), want)
	}
	if client.BytesReceived() != 0 || server.BytesSent() != 0 {
		t.Errorf("counters of the silent direction: %d %d", client.BytesReceived(), server.BytesSent())
	}
}

// recvAll reads messages until an error.
func recvAll(c *Conn) ([]Message, error) {
	var got []Message
	for {
		m, err := c.Recv()
		if err != nil {
			return got, err
		}
		got = append(got, m)
	}
}

// TestRecvSplitAnywhere: the same stream, delivered in pieces cut at every
// byte offset, or one byte at a time, decodes the same.
func TestRecvSplitAnywhere(t *testing.T) {
	ms := smallMessages()
	all, _ := stream(t, ms)
	check := func(t *testing.T, r io.Reader) {
		t.Helper()
		c, _ := readerConn(r, Config{})
		got, err := recvAll(c)
		if !errors.Is(err, io.EOF) {
			t.Fatalf("after %d messages: %v, want io.EOF", len(got), err)
		}
		if !reflect.DeepEqual(got, ms) {
			t.Fatalf("decoded %d messages differently", len(got))
		}
		if c.BytesReceived() != int64(len(all)) {
			t.Fatalf("BytesReceived %d, want %d", c.BytesReceived(), len(all))
		}
	}
	t.Run("one byte at a time", func(t *testing.T) {
		check(t, iotest.OneByteReader(bytes.NewReader(all)))
	})
	t.Run("half reads", func(t *testing.T) {
		check(t, iotest.HalfReader(bytes.NewReader(all)))
	})
	t.Run("data with the last read's EOF", func(t *testing.T) {
		check(t, iotest.DataErrReader(bytes.NewReader(all)))
	})
	t.Run("split at every offset", func(t *testing.T) {
		for k := range len(all) + 1 {
			check(t, io.MultiReader(bytes.NewReader(all[:k]), bytes.NewReader(all[k:])))
		}
	})
}

// TestRecvTruncated: a stream cut anywhere yields the whole frames before
// the cut, then a clean error: io.EOF at a frame boundary,
// io.ErrUnexpectedEOF inside a frame.
func TestRecvTruncated(t *testing.T) {
	ms := smallMessages()
	all, ends := stream(t, ms)
	for k := range len(all) {
		c, _ := readerConn(bytes.NewReader(all[:k]), Config{})
		got, err := recvAll(c)
		whole := 0
		for whole < len(ends) && ends[whole] <= k {
			whole++
		}
		if len(got) != whole || (whole > 0 && !reflect.DeepEqual(got, ms[:whole])) {
			t.Fatalf("cut at %d: %d messages, want %d", k, len(got), whole)
		}
		atBoundary := k == 0 || (whole > 0 && ends[whole-1] == k)
		switch {
		case errors.Is(err, ErrBadFrame):
			t.Fatalf("cut at %d: %v, a truncation is not a bad frame", k, err)
		case atBoundary && !errors.Is(err, io.EOF):
			t.Fatalf("cut at %d (a boundary): %v, want io.EOF", k, err)
		case !atBoundary && !errors.Is(err, io.ErrUnexpectedEOF):
			t.Fatalf("cut at %d: %v, want io.ErrUnexpectedEOF", k, err)
		}
		if _, again := c.Recv(); again != err {
			t.Fatalf("cut at %d: the error is not sticky: %v then %v", k, err, again)
		}
	}
}

// TestRecvBadFrameKeepsStep: an undecodable frame is reported, and the next
// frame still decodes.
func TestRecvBadFrameKeepsStep(t *testing.T) {
	bad := []byte{0, 0, 0, 3, 0x92, 0x2a, 0x80} // kind 42
	empty := []byte{0, 0, 0, 0}
	all := append(append(bytes.Clone(bad), empty...), mustFrame(t, Ping{Seq: 9})...)
	c, _ := readerConn(bytes.NewReader(all), Config{})
	for _, want := range []string{"unknown kind 42", "no bytes left"} {
		if _, err := c.Recv(); !errors.Is(err, ErrBadFrame) {
			t.Fatalf("Recv: %v, want ErrBadFrame (%s)", err, want)
		}
	}
	m, err := c.Recv()
	if err != nil || m != (Ping{Seq: 9}) {
		t.Fatalf("after bad frames: %#v, %v", m, err)
	}
}

// hugePrefix returns a reader of a 0xFFFFFFFF length prefix and then bytes
// without end.
func hugePrefix() io.Reader {
	return io.MultiReader(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff}), zeros{})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestRecvRefusesHugeLengthWithoutAllocating: a 0xFFFFFFFF length prefix is
// refused, the connection closed, and nothing but the error allocated.
func TestRecvRefusesHugeLengthWithoutAllocating(t *testing.T) {
	const runs = 100
	conns := make([]*Conn, runs+1) // AllocsPerRun calls f once more to warm up
	fakes := make([]*fakeConn, runs+1)
	for i := range conns {
		conns[i], fakes[i] = readerConn(hugePrefix(), Config{})
	}
	var errs []error = make([]error, runs+1)
	i := 0
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	allocs := testing.AllocsPerRun(runs, func() {
		_, errs[i] = conns[i].Recv()
		i++
	})
	runtime.ReadMemStats(&after)
	for i, err := range errs {
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("Recv %d: %v, want ErrFrameTooLarge", i, err)
		}
		if !fakes[i].closed.Load() {
			t.Fatalf("Recv %d: the connection was not closed", i)
		}
	}
	// The one allocation is the error value.
	if allocs > 1 {
		t.Errorf("%.0f allocations per refused frame, want at most 1 (the error)", allocs)
	}
	if perRun := (after.TotalAlloc - before.TotalAlloc) / (runs + 1); perRun > 1<<10 {
		t.Errorf("%d bytes allocated per refused frame, want under 1 KiB", perRun)
	}
	t.Logf("%v", errs[0])
}

func TestMaxFrame(t *testing.T) {
	tests := []struct {
		name     string
		maxFrame int
		length   uint32
		want     error
	}{
		{name: "at the limit", maxFrame: 100, length: 100, want: ErrBadFrame},
		{name: "over the limit", maxFrame: 100, length: 101, want: ErrFrameTooLarge},
		{name: "default limit", length: DefaultMaxFrame + 1, want: ErrFrameTooLarge},
		{name: "negative means default", maxFrame: -1, length: DefaultMaxFrame + 1, want: ErrFrameTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := binary.BigEndian.AppendUint32(nil, tt.length)
			frame = append(frame, make([]byte, min(tt.length, 1000))...)
			r := io.MultiReader(bytes.NewReader(frame), zeros{})
			c, _ := readerConn(r, Config{MaxFrame: tt.maxFrame})
			if _, err := c.Recv(); !errors.Is(err, tt.want) {
				t.Fatalf("Recv: %v, want %v", err, tt.want)
			}
		})
	}
}

// TestRecvBigAnnouncedFrameCostsWhatArrives: a frame announced at 60 MiB of
// which 1000 bytes arrive does not cost 60 MiB.
func TestRecvBigAnnouncedFrameCostsWhatArrives(t *testing.T) {
	frame := binary.BigEndian.AppendUint32(nil, 60<<20)
	frame = append(frame, make([]byte, 1000)...)
	c, _ := readerConn(bytes.NewReader(frame), Config{})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := c.Recv()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Recv: %v, want io.ErrUnexpectedEOF", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("%d bytes allocated for 1000 bytes received", n)
	}
}

// TestRecvDoesNotAlias: messages stay valid after later Recvs reuse the
// read buffer, for small frames and for frames too big to keep a buffer for.
func TestRecvDoesNotAlias(t *testing.T) {
	big := make([]byte, keepBuffer+1)
	for i := range big {
		big[i] = byte(i)
	}
	first := []Message{
		TileResult{Job: 1, Pixels: testPixels(16)},
		Scene{Hash: "a", Main: "s.json", Files: []Blob{{Name: "s.json", Data: []byte("{}")}}},
		Scene{Hash: "b", Main: "big.json", Files: []Blob{{Name: "big.json", Data: big}}},
		Challenge{Nonce: bytes.Repeat([]byte{1}, NonceSize)},
	}
	overwrite := TileResult{Job: 2, Pixels: bytes.Repeat([]byte{0xee}, 16*BytesPerPixel)}
	for _, m := range first {
		t.Run(m.Kind().String(), func(t *testing.T) {
			all := append(mustFrame(t, m), mustFrame(t, overwrite)...)
			all = append(all, mustFrame(t, overwrite)...)
			c, _ := readerConn(bytes.NewReader(all), Config{})
			got, err := recvAll(c)
			if !errors.Is(err, io.EOF) || len(got) != 3 {
				t.Fatalf("%d messages, %v", len(got), err)
			}
			if !reflect.DeepEqual(got[0], m) {
				t.Fatalf("the first message changed after later Recvs")
			}
		})
	}
}

func TestSceneHashInterned(t *testing.T) {
	job := TileJob{Job: 1, Scene: "9f86d081884c7d65"}
	all := append(mustFrame(t, job), mustFrame(t, job)...)
	all = append(all, mustFrame(t, TileJob{Scene: "other"})...)
	c, _ := readerConn(bytes.NewReader(all), Config{})
	got, err := recvAll(c)
	if !errors.Is(err, io.EOF) || len(got) != 3 {
		t.Fatalf("%d messages, %v", len(got), err)
	}
	if got[0].(TileJob).Scene != job.Scene || got[2].(TileJob).Scene != "other" {
		t.Fatalf("scene hashes %q %q", got[0].(TileJob).Scene, got[2].(TileJob).Scene)
	}
	// Decoding a job of the same scene allocates only the message.
	payload := mustFrame(t, job)[4:]
	interned := string([]byte(job.Scene))
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := decodePayload(payload, false, &interned); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("%.0f allocations per TileJob of a known scene, want 1", allocs)
	}
}

func TestReadTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	a, _ := pipePair(t, Config{ReadTimeout: timeout})
	start := time.Now()
	_, err := a.Recv()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Recv: %v, want os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d < timeout {
		t.Fatalf("Recv returned after %v, before the timeout of %v", d, timeout)
	}
}

func TestWriteTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	a, _ := pipePair(t, Config{WriteTimeout: timeout}) // nobody reads b
	start := time.Now()
	err := a.Send(Ping{Seq: 1})
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Send: %v, want os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d < timeout {
		t.Fatalf("Send returned after %v, before the timeout of %v", d, timeout)
	}
	if again := a.Send(Ping{Seq: 2}); !errors.Is(again, os.ErrDeadlineExceeded) {
		t.Fatalf("the next Send: %v, want the same error (the stream is broken)", again)
	}
}

// TestSendTooLarge: a frame over our own limit is refused before it is
// written, and the connection stays usable.
func TestSendTooLarge(t *testing.T) {
	a, b := tcpPair(t, Config{MaxFrame: 1000})
	if err := a.Send(TileResult{Pixels: make([]byte, 1000)}); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("Send: %v, want ErrFrameTooLarge", err)
	}
	if a.BytesSent() != 0 {
		t.Fatalf("BytesSent %d after a refused frame", a.BytesSent())
	}
	if err := a.Send(Ping{Seq: 1}); err != nil {
		t.Fatal(err)
	}
	if m, err := b.Recv(); err != nil || m != (Ping{Seq: 1}) {
		t.Fatalf("Recv: %#v, %v", m, err)
	}
}

func TestCloseIdempotentAndConcurrent(t *testing.T) {
	a, _ := tcpPair(t, Config{})
	recvErr := make(chan error, 1)
	go func() {
		_, err := a.Recv() // blocks: nothing is sent
		recvErr <- err
	}()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = a.Close() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Close %d: %v", i, err)
		}
	}
	if err := <-recvErr; !errors.Is(err, ErrClosed) {
		t.Errorf("blocked Recv: %v, want ErrClosed", err)
	}
	if err := a.Send(Ping{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
	if _, err := a.Recv(); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close: %v, want ErrClosed", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("Close again: %v", err)
	}
}

// TestConcurrentSend: frames from many goroutines arrive whole, each
// goroutine's in order.
func TestConcurrentSend(t *testing.T) {
	const senders, each = 8, 300
	a, b := tcpPair(t, Config{})
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				if err := a.Send(TileJob{Job: uint64(s), Epoch: uint32(i), Scene: "x"}); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
			}
		})
	}
	next := make([]uint32, senders)
	for range senders * each {
		m, err := b.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		j := m.(TileJob)
		if j.Epoch != next[j.Job] {
			t.Fatalf("sender %d: frame %d arrived, want %d", j.Job, j.Epoch, next[j.Job])
		}
		next[j.Job]++
	}
	wg.Wait()
	if a.BytesSent() != b.BytesReceived() {
		t.Fatalf("BytesSent %d, BytesReceived %d", a.BytesSent(), b.BytesReceived())
	}
}

// gateConn is a net.Conn whose Writes block until released, and counts them.
type gateConn struct {
	fakeConn
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	writes  [][]byte
}

func (g *gateConn) Write(p []byte) (int, error) {
	g.entered <- struct{}{}
	<-g.release
	g.mu.Lock()
	g.writes = append(g.writes, bytes.Clone(p))
	g.mu.Unlock()
	return len(p), nil
}

// TestSendCoalesces: frames of Sends that queue up while a write is in
// progress leave in one write, by the last of them.
func TestSendCoalesces(t *testing.T) {
	g := &gateConn{entered: make(chan struct{}), release: make(chan struct{})}
	c := NewConn(g, Config{})
	defer c.Close()
	var wg sync.WaitGroup
	wg.Go(func() { c.Send(Ping{Seq: 1}) })
	<-g.entered // the first Send is writing, holding the lock
	for seq := uint64(2); seq <= 4; seq++ {
		wg.Go(func() { c.Send(Ping{Seq: seq}) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.waiting.Load() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d Sends waiting, want 3", c.waiting.Load())
		}
		runtime.Gosched()
	}
	g.release <- struct{}{} // the first write completes
	<-g.entered             // the next write: the three queued frames
	g.release <- struct{}{}
	wg.Wait()
	if len(g.writes) != 2 {
		t.Fatalf("%d writes, want 2", len(g.writes))
	}
	got, err := recvAll(NewConn(&fakeConn{r: bytes.NewReader(g.writes[1])}, Config{}))
	if !errors.Is(err, io.EOF) || len(got) != 3 {
		t.Fatalf("the second write holds %d frames (%v), want 3", len(got), err)
	}
}

// TestRefusedSendStillFlushes: a Send whose message cannot be encoded still
// flushes the frames that earlier Sends left for it. Which of two waiting
// Sends goes last is up to the scheduler, so the test runs many rounds.
func TestRefusedSendStillFlushes(t *testing.T) {
	for round := range 20 {
		g := &gateConn{entered: make(chan struct{}), release: make(chan struct{})}
		c := NewConn(g, Config{})
		var wg sync.WaitGroup
		wg.Go(func() { c.Send(Ping{Seq: 0}) })
		<-g.entered // holds the lock while it writes
		wg.Go(func() { c.Send(Ping{Seq: 1}) })
		wg.Go(func() { c.Send(Hello{Name: "\xff"}) }) // refused
		deadline := time.Now().Add(10 * time.Second)
		for c.waiting.Load() != 2 {
			if time.Now().After(deadline) {
				t.Fatalf("%d Sends waiting, want 2", c.waiting.Load())
			}
			runtime.Gosched()
		}
		g.release <- struct{}{}
		select {
		case <-g.entered: // Ping 1 is flushed
			g.release <- struct{}{}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the frame of Ping 1 was never flushed", round)
		}
		wg.Wait()
		c.Close()
	}
}

func TestDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Run("refused", func(t *testing.T) {
		if _, err := Dial(context.Background(), addr, Config{}); err == nil {
			t.Fatal("Dial to a closed port succeeded")
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Dial(ctx, addr, Config{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Dial: %v, want context.Canceled", err)
		}
	})
}

// FuzzRecv feeds arbitrary bytes to a Conn: Recv never panics, ends with an
// error, and reports every byte it consumed.
func FuzzRecv(f *testing.F) {
	all, _ := stream(f, smallMessages())
	f.Add(all)
	f.Add(all[:len(all)-3])
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0xc1})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _ := readerConn(bytes.NewReader(data), Config{MaxFrame: 1 << 20})
		for range len(data) + 1 {
			if _, err := c.Recv(); err != nil && !errors.Is(err, ErrBadFrame) {
				if c.BytesReceived() > int64(len(data)) {
					t.Fatalf("BytesReceived %d of %d bytes", c.BytesReceived(), len(data))
				}
				return
			}
		}
		t.Fatalf("Recv did not end within %d calls", len(data)+1)
	})
}

// writeLog is an io.Writer that keeps each Write apart.
type writeLog struct{ writes [][]byte }

func (w *writeLog) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

// TestSendBatch: a batch's frames leave in one write, in order; a message
// that cannot be encoded stops the batch, the error names it, the frames
// before it are still flushed and the connection stays usable.
func TestSendBatch(t *testing.T) {
	log := &writeLog{}
	c := NewConn(&fakeConn{w: log}, Config{})
	defer c.Close()
	var batch []Message
	for seq := range 5 {
		batch = append(batch, Ping{Seq: uint64(seq)})
	}
	if err := c.SendBatch(batch); err != nil {
		t.Fatal(err)
	}
	if len(log.writes) != 1 {
		t.Fatalf("%d writes for a batch of 5, want 1", len(log.writes))
	}
	got, err := recvAll(NewConn(&fakeConn{r: bytes.NewReader(log.writes[0])}, Config{}))
	if !errors.Is(err, io.EOF) || len(got) != 5 {
		t.Fatalf("the write holds %d frames (%v), want 5", len(got), err)
	}
	for i, m := range got {
		if m != (Ping{Seq: uint64(i)}) {
			t.Fatalf("frame %d is %#v, want Ping %d", i, m, i)
		}
	}

	log.writes = nil
	err = c.SendBatch([]Message{Ping{Seq: 10}, Hello{Name: "\xff"}, Ping{Seq: 11}})
	if err == nil || !strings.Contains(err.Error(), "message 2 of 3") {
		t.Fatalf("SendBatch with a bad second message: %v, want an error naming message 2 of 3", err)
	}
	if err := c.Send(Ping{Seq: 12}); err != nil {
		t.Fatalf("Send after a refused batch message: %v", err)
	}
	got, err = recvAll(NewConn(&fakeConn{r: bytes.NewReader(bytes.Join(log.writes, nil))}, Config{}))
	if !errors.Is(err, io.EOF) || len(got) != 2 || got[0] != (Ping{Seq: 10}) || got[1] != (Ping{Seq: 12}) {
		t.Fatalf("sent %v (%v), want Ping 10 then Ping 12", got, err)
	}
}
