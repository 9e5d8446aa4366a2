package scheduler

// The controller's view of nodes: discovery, connection, failure and exclusion.

import (
	"errors"
	"fmt"
	"time"

	"tessera/discovery"
	"tessera/protocol"
)

// nodeRec is one node across its connections in this render: identity,
// state, failures, trust and totals. Owned by the run loop.
type nodeRec struct {
	key    string // discovery.Node.Key: the id (proven, or as discovery gave it), or "addr:" + Addr before a handshake proves one
	id     string // "" until a handshake proves it, for a node given by address
	name   string
	addr   string
	source discovery.Source

	state    NodeState // changed by run.setState only
	sess     *session  // while Connecting, Working or Paused (and maybe Suspended): its connection; nil otherwise
	excluded string    // why it is excluded, in state NodeExcluded
	failures int       // every failure of the render
	strikes  int       // failures since it was last suspended (or the start)
	faults   int       // of those, faults (wrong results, job errors): the rest are lapses
	trust    trust

	suspensions  int           // times it was suspended
	suspendedAt  time.Time     // in state NodeSuspended: since when
	suspendedWhy string        // and why
	pause        time.Duration // its suspension backoff now: doubles at each suspension and failed probe
	retryAt      time.Time     // in state NodeSuspended: when it is tried (or probed) again

	backoff  time.Duration
	nextDial time.Time

	tiles      int
	rays       uint64
	nanos      int64
	handedBack int // tiles it gave back unfinished (paused, shutting down)
}

// isLocal reports whether rec is the in-process node.
func (rec *nodeRec) isLocal() bool { return rec.source == discovery.SourceLocal }

// nodeMoves lists, for each state, the states a node may move to (see
// NodeState). The loop changes a node's state only through setState, which
// refuses any other move.
var nodeMoves = [...][]NodeState{
	NodeConnecting:     {NodeWorking, NodeLost, NodeExcluded},
	NodeWorking:        {NodeLost, NodeExcluded, NodePausedBusy, NodePausedSchedule, NodePaused, NodeSuspended},
	NodeLost:           {NodeConnecting, NodeExcluded, NodeSuspended},
	NodeExcluded:       nil,
	NodePausedBusy:     {NodeWorking, NodeLost, NodeExcluded, NodePausedSchedule, NodePaused, NodeSuspended},
	NodePausedSchedule: {NodeWorking, NodeLost, NodeExcluded, NodePausedBusy, NodePaused, NodeSuspended},
	NodePaused:         {NodeWorking, NodeLost, NodeExcluded, NodePausedBusy, NodePausedSchedule, NodeSuspended},
	NodeSuspended:      {NodeWorking, NodeExcluded},
}

// setState moves rec to state to. Moving to NodeLost or NodeExcluded closes
// the node's session. A move the table does not allow is a bug of the
// controller: it is logged and ignored, never half done.
func (r *run) setState(rec *nodeRec, to NodeState) {
	from := rec.state
	if from == to {
		return
	}
	allowed := false
	for _, s := range nodeMoves[from] {
		allowed = allowed || s == to
	}
	if !allowed {
		r.log.Error().Str("node", rec.label()).Stringer("from", from).Stringer("to", to).Msg("controller bug: node state change refused")
		return
	}
	rec.state = to
	if s := rec.sess; s != nil && (to == NodeLost || to == NodeExcluded) {
		r.closeSession(s)
	}
}

func (r *run) addNode(n discovery.Node) {
	key := n.Key()
	if r.byKey[key] != nil {
		return
	}
	if n.Addr == "" {
		r.log.Warn().Str("node", n.ID).Msg("node offered without an address; ignored")
		return
	}
	rec := &nodeRec{key: key, id: n.ID, name: n.Name, addr: n.Addr, source: n.Source, state: NodeLost}
	r.byKey[key] = rec
	r.recs = append(r.recs, rec)
	r.dial(rec)
}

// forget drops a record that turned out to be a second route to a node known
// under another key. It has never rendered, and no session is left on it.
func (r *run) forget(rec *nodeRec) {
	delete(r.byKey, rec.key)
	for i, x := range r.recs {
		if x == rec {
			r.recs = append(r.recs[:i], r.recs[i+1:]...)
			break
		}
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
	if s.state != sessDialing { // abandoned while dialing
		if ev.conn != nil {
			ev.conn.Close()
		}
		return
	}
	err := ev.err
	if err == nil && ev.hello.Role != protocol.RoleNode {
		err = fmt.Errorf("%w: peer is not a node (role %q, id %q)", protocol.ErrHandshake, ev.hello.Role, ev.hello.ID)
		ev.conn.Close()
	} else if err == nil {
		// The one identity of a node, from discovery to the preview: an id
		// a registry and mDNS would accept (it can then never be taken
		// for the Key of a node known only by address).
		if idErr := discovery.CheckID(ev.hello.ID); idErr != nil {
			err = fmt.Errorf("%w: %w", protocol.ErrHandshake, idErr)
			ev.conn.Close()
		}
	}
	rec := s.rec
	switch {
	case err != nil && refusal(err):
		// Garbage, another protocol, a wrong token: trying again will not help.
		r.exclude(rec, fmt.Sprintf("handshake failed: %v", err))
	case err != nil && rec.state == NodeSuspended:
		r.probeFailed(rec, err, true)
	case err != nil:
		r.setState(rec, NodeLost)
		r.retryLater(rec)
		r.log.Info().Err(err).Str("node", rec.label()).Str("addr", rec.addr).Dur("retryIn", rec.backoff).Msg("cannot connect to node")
	default:
		if rec = r.identify(s, ev.hello); rec == nil {
			ev.conn.Close()
			return
		}
		if r.c.noSend != "" {
			ev.conn.Close()
			r.exclude(rec, r.c.noSend)
			return
		}
		r.open(s, ev.conn, ev.hello)
	}
}

// identify files the session s under the id its handshake proved and
// returns the record it now belongs to, or nil when that node is already
// connected (or excluded) by another route: s is then closed and its record
// forgotten.
func (r *run) identify(s *session, hello protocol.Hello) *nodeRec {
	rec, id := s.rec, hello.ID
	if other := r.byKey[id]; other != nil && other != rec {
		// The same node by a second route. This record goes; its session is
		// kept only if the known route is not live.
		if other.state == NodeWorking || other.state.Paused() || other.state == NodeExcluded || other.state == NodeSuspended {
			r.closeSession(s)
			r.forget(rec)
			r.log.Debug().Str("node", id).Str("addr", rec.addr).Msg("node already known by another route")
			return nil
		}
		if o := other.sess; o != nil {
			r.closeSession(o) // abandon its dial: this route works
		}
		r.forget(rec)
		other.addr = rec.addr
		r.adopt(other, s)
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
	if hello.Name != "" {
		rec.name = hello.Name
	}
	return rec
}

// open makes a dialled session live: the node gets the scene, then tiles.
func (r *run) open(s *session, conn NodeConn, hello protocol.Hello) {
	rec := s.rec
	rec.backoff = 0
	now := r.clock.Now()
	s.conn = conn
	s.cores = min(max(hello.Cores, 1), 1024)
	s.window = min(2*s.cores, r.tune.maxWindow)
	s.windowCap = r.tune.maxWindow
	s.lastHeard.Store(now.UnixNano())
	s.lastProgress = now
	s.pingAt = now
	s.out = protocol.NewOutbox(1 << 20)
	s.out.Push(r.c.scene)
	r.setSessState(s, sessLive)
	r.lastLive = now
	r.wg.Add(2)
	go r.reader(s)
	go r.writer(s, rec.label())
	r.log.Info().Str("node", rec.label()).Str("addr", rec.addr).Int("cores", s.cores).Stringer("source", rec.source).Msg("node joined")
}

// retryLater sets when rec is dialled again: an exponential backoff.
func (r *run) retryLater(rec *nodeRec) {
	rec.backoff = min(max(2*rec.backoff, r.tune.redialMin), r.tune.redialMax)
	rec.nextDial = r.clock.Now().Add(rec.backoff)
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
	if rec.state == NodeSuspended && blame != failGarbage {
		// Set aside already. A probe that failed makes the next wait
		// longer; the connection it was suspended on ending is the same
		// blip.
		r.closeSession(s)
		r.probeFailed(rec, err, s.probe)
		return
	}
	// Work lost is a failure, unless the node said it was shutting down.
	busy := len(s.leases) > 0 && !s.draining
	r.setState(rec, NodeLost)
	switch {
	case blame == failGarbage:
		r.exclude(rec, fmt.Sprintf("protocol violation: %v", err))
	case blame == failSilent || busy:
		r.strike(rec, fmt.Sprintf("connection lost: %v", err), lapse)
	default:
		r.log.Info().Str("node", rec.label()).Err(err).Msg("node left")
	}
	if rec.state == NodeLost {
		r.retryLater(rec)
	}
}

// strikeKind says what a failure was.
type strikeKind bool

const (
	lapse strikeKind = true  // late, silent, its connection lost with work: the network or the machine, maybe for a moment
	fault strikeKind = false // a wrong result, a job refused: the node's software
)

// Suspension backoff: the first for suspendMin, each next twice the last,
// at most suspendMax.
const (
	suspendMin = 2 * time.Second
	suspendMax = time.Minute
)

// strike counts a failure of rec. tune.maxFailures of them since its last
// suspension set it aside: suspended for a growing backoff when every one
// was a lapse (a blip is not a verdict), excluded for the rest of the render
// when one was a fault.
func (r *run) strike(rec *nodeRec, reason string, kind strikeKind) {
	rec.failures++
	rec.strikes++
	if kind == fault {
		rec.faults++
	}
	r.log.Warn().Str("node", rec.label()).Int("failures", rec.failures).Msg(reason)
	if rec.strikes < r.tune.maxFailures {
		return
	}
	if rec.faults > 0 {
		r.exclude(rec, fmt.Sprintf("%d failures, the last: %s", rec.failures, reason))
		return
	}
	r.suspend(rec, fmt.Sprintf("%d failures in a row, the last: %s", rec.strikes, reason))
}

// suspend sets rec aside: its tiles are re-queued (and cancelled on it) and
// it gets none until it answers again after a backoff that doubles at
// every suspension. Its connection, if it has one, stays open: pings tell
// whether it answers.
func (r *run) suspend(rec *nodeRec, reason string) {
	if rec.isLocal() || rec.state == NodeExcluded || rec.state == NodeSuspended {
		return
	}
	now := r.clock.Now()
	rec.suspensions++
	rec.pause = min(max(2*rec.pause, suspendMin), suspendMax)
	rec.retryAt = now.Add(rec.pause)
	rec.suspendedAt, rec.suspendedWhy = now, reason
	rec.strikes, rec.faults = 0, 0
	r.log.Warn().Str("node", rec.label()).Str("reason", reason).Dur("retryIn", rec.pause).Int("suspensions", rec.suspensions).Msg("node suspended: tried again after a backoff")
	s := rec.sess
	if s != nil && s.state == sessLive {
		for _, l := range s.leases {
			s.out.Push(protocol.Cancel{Job: l.job})
			r.revoke(l)
		}
	}
	r.setState(rec, NodeSuspended)
	if s != nil {
		r.touch(s)
	}
}

// retrySuspended tries again a suspended node whose backoff is over: back
// to work if it answered a ping over its connection since the backoff
// began, or dialled again (still suspended: a probe) if it has none. One
// connected but silent waits: the liveness check closes it.
func (r *run) retrySuspended(rec *nodeRec, now time.Time) {
	s := rec.sess
	switch {
	case s == nil:
		r.log.Info().Str("node", rec.label()).Msg("suspended node: dialling it again")
		r.dial(rec)
	case s.state == sessLive && s.lastPong.After(rec.retryAt.Add(-rec.pause)) && now.Sub(s.lastPong) <= 2*r.tune.ping:
		r.log.Info().Str("node", rec.label()).Dur("suspendedFor", now.Sub(rec.suspendedAt).Round(time.Millisecond)).Msg("suspended node answers again: it takes tiles")
		r.setState(rec, NodeWorking)
		s.lastProgress = now
		r.touch(s)
	}
}

// probeFailed is a suspended node that could not be dialled, or whose
// connection ended before it answered: probed again after twice the wait
// when grow, else once the wait it has is over.
func (r *run) probeFailed(rec *nodeRec, err error, grow bool) {
	if grow {
		rec.pause = min(2*rec.pause, suspendMax)
		rec.retryAt = r.clock.Now().Add(rec.pause)
	}
	r.log.Info().Str("node", rec.label()).Err(err).Dur("retryIn", rec.pause).Msg("suspended node does not answer yet")
}

// exclude drops rec for the rest of the render (never the in-process node).
func (r *run) exclude(rec *nodeRec, reason string) {
	if rec.state == NodeExcluded || rec.isLocal() {
		return
	}
	rec.excluded = reason
	r.log.Warn().Str("node", rec.label()).Str("addr", rec.addr).Str("reason", reason).Msg("node excluded from this render")
	r.setState(rec, NodeExcluded)
}

// closeSession ends a session mid-render: its leases are revoked (their
// tiles re-queued when no other copy is out) and its goroutines stopped; its
// node, if it was connecting or working, is lost.
func (r *run) closeSession(s *session) {
	switch s.state {
	case sessClosed:
		return
	case sessLive:
		for _, l := range s.leases {
			r.revoke(l)
		}
		if s.conn != nil {
			r.bytesSent += s.conn.BytesSent()
			r.bytesRecv += s.conn.BytesReceived()
		}
	}
	r.setSessState(s, sessClosed)
	s.stop(false)
}

// localRec is the in-process node's record, created on first use.
func (r *run) localRec() *nodeRec {
	for _, rec := range r.recs {
		if rec.isLocal() {
			return rec
		}
	}
	rec := &nodeRec{key: "local", id: "local", name: "local", source: discovery.SourceLocal, state: NodeLost}
	r.recs = append(r.recs, rec)
	return rec
}

// nodeSays applies the state a live node reports in a Pong: paused ones get
// no tile until a Pong says ready (or carries no state: an older node).
func (r *run) nodeSays(s *session, st protocol.NodeState) {
	rec := s.rec
	if rec.state != NodeWorking && !rec.state.Paused() {
		return
	}
	to := NodeWorking
	if !st.Ready() {
		to = pausedState(st)
	}
	if to == rec.state {
		return
	}
	if to == NodeWorking {
		r.log.Info().Str("node", rec.label()).Msg("node takes tiles again")
	} else {
		r.log.Info().Str("node", rec.label()).Stringer("state", to).Int("leases", len(s.leases)).Msg("node paused")
	}
	r.setState(rec, to)
	r.touch(s)
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
	case protocol.CodePaused:
		// Handed back: no failure. Its Pong (sent as it paused) usually
		// came first and says why; if not, the next one will.
		rec.handedBack++
		if rec.state == NodeWorking {
			r.setState(rec, NodePaused)
			r.log.Info().Str("node", rec.label()).Msg("node paused")
			r.touch(s)
		}
	case protocol.CodeShutdown:
		rec.handedBack++
		s.draining = true
	case protocol.CodeBusy:
		s.windowCap = max(1, len(s.leases))
		s.window = min(s.window, s.windowCap)
		r.touch(s)
	case protocol.CodeUnknownScene:
		s.out.Push(r.c.scene)
		r.strike(rec, reason, fault)
	case protocol.CodeBadScene, protocol.CodeBadJob, protocol.CodeLimit:
		r.exclude(rec, reason)
	default:
		r.strike(rec, reason, fault)
	}
}
