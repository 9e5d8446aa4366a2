package bench

// Node processes started on loopback, and always stopped.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// nodeProc is a `tessera node` process started by the suite.
type nodeProc struct {
	id     string
	addr   string // host:port it listens on, once started
	cmd    *exec.Cmd
	cancel context.CancelFunc // stops it: SIGINT, then a kill after nodeStopGrace
	out    *tailBuffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// listening is the line a node prints once it serves.
var listening = regexp.MustCompile(`listening on (127\.0\.0\.1:[0-9]+)`)

// spawnOpts are the flags of a spawned node beyond the fixed ones.
type spawnOpts struct {
	id       string
	workers  int
	registry string // -registry, or "" for none
	token    string // $TESSERA_TOKEN, or "" for none
	// priority is -priority; "" is normal, so that the other work on the
	// machine cannot starve the nodes whose speed a section measures.
	priority string
	// session starts the node in a session of its own (Unix), as a
	// service or another terminal would: the polite section measures the
	// node against programs of other sessions.
	session bool
}

// spawn starts `tessera node` on 127.0.0.1 with -no-mdns and waits until it
// listens. The process stops when ctx ends or stop is called; stop waits
// for it.
func (s *settings) spawn(ctx context.Context, o spawnOpts) (*nodeProc, error) {
	args := []string{"node", "-no-mdns", "-listen", "127.0.0.1:0", "-workers", strconv.Itoa(o.workers),
		"-id", o.id, "-name", o.id, "-grace", "2s", "-log", "json"}
	if o.registry != "" {
		args = append(args, "-registry", o.registry)
	}
	if o.priority == "" {
		o.priority = "normal"
	}
	args = append(args, "-priority", o.priority)
	return s.start(ctx, o.id, args, o.token, o.session)
}

// start runs the tessera binary with args (a node, or a registry), its
// $TESSERA_TOKEN set to token, and waits until it prints the address it
// listens on. The process stops when ctx ends or stop is called; stop waits
// for it.
func (s *settings) start(ctx context.Context, id string, args []string, token string, session bool) (*nodeProc, error) {
	return s.startTail(ctx, id, args, token, session, 8<<10)
}

// startTail is start keeping the last tail bytes of the process's output.
func (s *settings) startTail(ctx context.Context, id string, args []string, token string, session bool, tail int) (*nodeProc, error) {
	pctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(pctx, s.Executable, args...)
	if session {
		ownSession(cmd)
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = s.stopGrace
	cmd.Env = append(os.Environ(), "TESSERA_TOKEN="+token)
	p := &nodeProc{id: id, cmd: cmd, cancel: cancel, out: newTailBuffer(tail), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("bench: start %s %s: %w", s.Executable, args[0], err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitListening(ctx, s.startTimeout); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// waitListening waits for the node's "listening on" line.
func (p *nodeProc) waitListening(ctx context.Context, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		changed := p.out.changed()
		if m := listening.FindStringSubmatch(p.out.String()); m != nil {
			p.addr = m[1]
			return nil
		}
		select {
		case <-changed:
		case <-p.exited:
			return fmt.Errorf("bench: node %s exited (%v) before it listened: %s", p.id, p.err, p.out.String())
		case <-deadline.C:
			return fmt.Errorf("bench: node %s did not listen within %v: %s", p.id, timeout, p.out.String())
		case <-ctx.Done():
			return fmt.Errorf("bench: waiting for node %s: %w", p.id, context.Cause(ctx))
		}
	}
}

// stop interrupts the node (SIGINT), kills it if it has not exited after
// the grace (nodeStopGrace), and waits for it. It returns an error when the node did not
// exit cleanly. It may be called more than once.
func (p *nodeProc) stop() error {
	p.cancel()
	<-p.exited
	// After the cancel, Wait reports the context's error even when the
	// process exited cleanly: its exit status decides.
	if st := p.cmd.ProcessState; st != nil && st.Success() {
		return nil
	}
	return fmt.Errorf("bench: node %s did not stop cleanly (%v): %s", p.id, p.err, p.out.String())
}

// nodeSet is the node processes of a suite; stopAll stops every one.
type nodeSet struct {
	mu    sync.Mutex
	procs []*nodeProc
}

func (ns *nodeSet) add(p *nodeProc) {
	ns.mu.Lock()
	ns.procs = append(ns.procs, p)
	ns.mu.Unlock()
}

// stopAll stops every node at once and waits for them all; it returns the
// first error.
func (ns *nodeSet) stopAll() error {
	ns.mu.Lock()
	procs := ns.procs
	ns.procs = nil
	ns.mu.Unlock()
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() { errs[i] = p.stop() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// tailBuffer keeps the last bytes written to it and says when it grows.
type tailBuffer struct {
	mu     sync.Mutex
	max    int
	buf    bytes.Buffer
	notify chan struct{}
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
		rest := bytes.Clone(b.buf.Bytes())
		b.buf.Reset()
		b.buf.Write(rest)
	}
	if b.notify != nil {
		close(b.notify)
		b.notify = nil
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// changed returns a channel closed at the next Write.
func (b *tailBuffer) changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.notify == nil {
		b.notify = make(chan struct{})
	}
	return b.notify
}
