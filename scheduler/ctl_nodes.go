package scheduler

// The controller's view of nodes: discovery, connection, failure and exclusion.

import (
	"errors"
	"fmt"
	"time"

	"tessera/protocol"
)

// nodeRec is one node across its connections in this render: identity,
// failures, trust and totals.
type nodeRec struct {
	key        string // the id (proven, or as discovery gave it), or "addr " + Addr before a handshake proves one
	id         string
	name       string
	addr       string
	source     Source
	local      bool
	sess       *session // current connection (dialing or live), if any
	removed    bool     // RemoveNode: do not dial again
	excluded   string   // why it is excluded; "" while it is not
	failures   int
	audited    bool // its first tile was sent for an audit
	distrusted bool // it returned wrong pixels
	alias      bool // a second route to a node known under another key: dropped

	backoff  time.Duration
	nextDial time.Time

	tiles int
	rays  uint64
	nanos int64
}

func (r *run) addCandidate(cand Candidate) {
	key := cand.ID
	if key == "" {
		key = "addr " + cand.Addr
	}
	if rec := r.byKey[key]; rec != nil {
		if rec.removed && rec.excluded == "" {
			rec.removed = false
			rec.addr = cand.Addr
			if rec.sess == nil {
				r.dial(rec)
			}
		}
		return
	}
	if cand.Addr == "" {
		r.log.Warn().Str("node", cand.ID).Msg("node offered without an address; ignored")
		return
	}
	rec := &nodeRec{key: key, id: cand.ID, name: cand.Name, addr: cand.Addr, source: cand.Source}
	r.byKey[key] = rec
	r.recs = append(r.recs, rec)
	r.dial(rec)
}

func (r *run) removeNode(id string) {
	rec := r.byKey[id]
	if rec == nil {
		for _, x := range r.recs {
			if x.id == id && !x.alias {
				rec = x
			}
		}
	}
	if rec == nil || rec.local {
		return
	}
	rec.removed = true
	if rec.sess != nil {
		r.log.Info().Str("node", rec.label()).Msg("node removed")
		r.closeSession(rec.sess, false)
	}
}

func (rec *nodeRec) label() string {
	switch {
	case rec.id != "" && rec.name != "" && rec.name != rec.id:
		return rec.id + " (" + rec.name + ")"
	case rec.id != "":
		return rec.id
	}
	return rec.addr
}

// up finishes a dial: the handshake proved the node's id, which decides
// whether it is new, a second route to a known node, or excluded.
func (r *run) up(ev event) {
	s := ev.s
	r.dialing--
	rec := s.rec
	if s.state != sessDialing { // removed while dialing
		if ev.conn != nil {
			ev.conn.Close()
		}
		return
	}
	if ev.err == nil && (ev.hello.Role != protocol.RoleNode || ev.hello.ID == "") {
		ev.err = fmt.Errorf("%w: peer is not a node (role %q, id %q)", protocol.ErrHandshake, ev.hello.Role, ev.hello.ID)
		ev.conn.Close()
	}
	if ev.err != nil && refusal(ev.err) {
		// Garbage, another protocol, a wrong token: trying again will not help.
		s.state = sessClosed
		rec.sess = nil
		r.exclude(rec, fmt.Sprintf("handshake failed: %v", ev.err))
		return
	}
	if ev.err != nil {
		s.state = sessClosed
		rec.sess = nil
		rec.backoff = min(max(2*rec.backoff, r.tune.redialMin), r.tune.redialMax)
		rec.nextDial = r.clock.Now().Add(rec.backoff)
		r.log.Info().Err(ev.err).Str("node", rec.label()).Str("addr", rec.addr).Dur("retryIn", rec.backoff).Msg("cannot connect to node")
		return
	}
	id := ev.hello.ID
	if other := r.byKey[id]; other != nil && other != rec {
		// The same node by a second route. This record goes; its connection
		// is kept only if the known route is not live.
		rec.sess, rec.alias = nil, true
		delete(r.byKey, rec.key)
		if (other.sess != nil && other.sess.state == sessLive) || other.excluded != "" || other.removed {
			ev.conn.Close()
			s.state = sessClosed
			r.log.Debug().Str("node", id).Str("addr", rec.addr).Msg("node already known by another route")
			return
		}
		if other.sess != nil {
			r.closeSession(other.sess, false) // abandon its dial: this route works
		}
		other.addr = rec.addr
		other.sess, s.rec = s, other
		rec = other
	}
	if rec.key != id {
		if rec.id != "" && rec.id != id {
			r.log.Warn().Str("announced", rec.id).Str("proven", id).Msg("node proved another id than discovery announced")
		}
		delete(r.byKey, rec.key)
		rec.key = id
		r.byKey[id] = rec
	}
	rec.id = id
	if ev.hello.Name != "" {
		rec.name = ev.hello.Name
	}
	if r.c.noSend != "" {
		ev.conn.Close()
		s.state = sessClosed
		rec.sess = nil
		r.exclude(rec, r.c.noSend)
		return
	}
	rec.backoff = 0
	now := r.clock.Now()
	s.conn = ev.conn
	s.cores = min(max(ev.hello.Cores, 1), 1024)
	s.window = min(2*s.cores, r.tune.maxWindow)
	s.windowCap = r.tune.maxWindow
	s.state = sessLive
	s.lastHeard.Store(now.UnixNano())
	s.lastProgress = now
	s.pingAt = now
	s.out = protocol.NewOutbox(1 << 20)
	s.out.Push(r.c.scene)
	r.live = append(r.live, s)
	r.lastLive = now
	r.wg.Add(2)
	go r.reader(s)
	go r.writer(s, rec.label())
	r.log.Info().Str("node", rec.label()).Str("addr", rec.addr).Int("cores", s.cores).Str("source", string(rec.source)).Msg("node joined")
}

// failKind says how much a lost connection is the node's fault.
type failKind uint8

const (
	failLost    failKind = iota // connection lost: a failure if it had work
	failSilent                  // stopped answering pings: a failure
	failGarbage                 // broke the protocol: excluded
)

// refusal reports whether a dial failed for a reason that a retry will not
// change: the peer speaks garbage, another version, or refuses our token.
func refusal(err error) bool {
	for _, e := range []error{protocol.ErrBadFrame, protocol.ErrFrameTooLarge, protocol.ErrHandshake, protocol.ErrVersionMismatch, protocol.ErrUnauthorized} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// down handles a lost connection.
func (r *run) down(s *session, err error, blame failKind) {
	rec := s.rec
	// Work lost is a failure, unless the node said it was shutting down.
	busy := len(s.leases) > 0 && !s.draining
	r.closeSession(s, false)
	switch {
	case blame == failGarbage:
		r.exclude(rec, fmt.Sprintf("protocol violation: %v", err))
	case blame == failSilent || busy:
		r.strike(rec, fmt.Sprintf("connection lost: %v", err))
	default:
		r.log.Info().Str("node", rec.label()).Err(err).Msg("node left")
	}
	if rec.excluded == "" && !rec.removed {
		rec.backoff = min(max(2*rec.backoff, r.tune.redialMin), r.tune.redialMax)
		rec.nextDial = r.clock.Now().Add(rec.backoff)
	}
}

// strike counts a failure of rec; enough of them exclude it.
func (r *run) strike(rec *nodeRec, reason string) {
	rec.failures++
	r.log.Warn().Str("node", rec.label()).Int("failures", rec.failures).Msg(reason)
	if rec.failures >= r.tune.maxFailures {
		r.exclude(rec, fmt.Sprintf("%d failures, the last: %s", rec.failures, reason))
	}
}

// exclude drops rec for the rest of the render.
func (r *run) exclude(rec *nodeRec, reason string) {
	if rec.excluded != "" || rec.local {
		return
	}
	rec.excluded = reason
	r.log.Warn().Str("node", rec.label()).Str("addr", rec.addr).Str("reason", reason).Msg("node excluded from this render")
	if rec.sess != nil {
		r.closeSession(rec.sess, false)
	}
}

// closeSession ends a session: its leases are revoked (their tiles re-queued
// when no other copy is out) and its goroutines stopped. With graceful, the
// node is told to cancel them first.
func (r *run) closeSession(s *session, graceful bool) {
	if s.state == sessClosed {
		return
	}
	if s.state == sessDialing {
		s.state = sessClosed
		s.rec.sess = nil
		s.cancel() // aborts the dial; its evUp is then ignored
		return
	}
	for _, l := range s.leases {
		if graceful && s.out != nil {
			s.out.Push(protocol.Cancel{Job: l.job})
		}
		r.revoke(l)
	}
	s.state = sessClosed
	s.rec.sess = nil
	for i, x := range r.live {
		if x == s {
			r.live = append(r.live[:i], r.live[i+1:]...)
			break
		}
	}
	if s == r.local {
		r.local = nil
	}
	if s.conn != nil {
		r.bytesSent += s.conn.BytesSent()
		r.bytesRecv += s.conn.BytesReceived()
	}
	if graceful && s.out != nil {
		s.out.Close() // the writer sends the cancels, then closes the connection
		return
	}
	s.cancel()
	if s.conn != nil {
		s.conn.Close()
	}
}

// localRec is the in-process node's record, created on first use.
func (r *run) localRec() *nodeRec {
	for _, rec := range r.recs {
		if rec.local {
			return rec
		}
	}
	rec := &nodeRec{key: "local", id: "local", name: "local", source: SourceLocal, local: true, audited: true}
	r.recs = append(r.recs, rec)
	return rec
}

// nodeError handles an Error frame from a node.
func (r *run) nodeError(ev event) {
	s, rec := ev.s, ev.s.rec
	if ev.job == 0 {
		switch ev.code {
		case protocol.CodeShutdown:
			s.draining = true
			r.log.Info().Str("node", rec.label()).Msg("node is shutting down")
		case protocol.CodeBadScene, protocol.CodeLimit:
			r.exclude(rec, fmt.Sprintf("cannot take the scene: %s: %s", ev.code, ev.msg))
		default:
			r.log.Warn().Str("node", rec.label()).Str("code", string(ev.code)).Str("message", ev.msg).Msg("node reports an error")
		}
		return
	}
	l := s.leases[ev.job]
	if l == nil {
		return // stale
	}
	r.revoke(l)
	reason := fmt.Sprintf("job %d refused: %s: %s", ev.job, ev.code, ev.msg)
	switch ev.code {
	case protocol.CodeShutdown:
		s.draining = true
	case protocol.CodeBusy:
		s.windowCap = max(1, len(s.leases))
		s.window = min(s.window, s.windowCap)
	case protocol.CodeUnknownScene:
		s.out.Push(r.c.scene)
		r.strike(rec, reason)
	case protocol.CodeBadScene, protocol.CodeBadJob, protocol.CodeLimit:
		r.exclude(rec, reason)
	default:
		r.strike(rec, reason)
	}
}
