package scheduler

// The controller's indexes of its sessions, so that no decision scans every
// node: the sessions that may take a tile from the queue (a queue, served
// round robin), those with an idle worker (for the endgame), and a heap of
// the sessions holding tiles, the one expected to finish last on top.
// run.touch keeps all three in step whenever a session's leases, window,
// speed or state change.

import (
	"container/heap"
	"math"
	"time"
)

// sessQueue is a queue of sessions without repeats: a session is in it at
// most once (its flag says so).
type sessQueue struct {
	q    []*session
	head int
	flag func(*session) *bool
}

func (q *sessQueue) push(s *session) {
	if f := q.flag(s); !*f {
		*f = true
		q.q = append(q.q, s)
	}
}

// size is how many sessions are queued.
func (q *sessQueue) size() int { return len(q.q) - q.head }

// peek returns the session at the front, or nil.
func (q *sessQueue) peek() *session {
	if q.head == len(q.q) {
		return nil
	}
	return q.q[q.head]
}

// pop removes the session at the front and returns it, or nil.
func (q *sessQueue) pop() *session {
	s := q.peek()
	if s == nil {
		return nil
	}
	q.q[q.head] = nil
	q.head++
	*q.flag(s) = false
	if q.head > 64 && q.head*2 > len(q.q) { // reuse the space
		q.q = append(q.q[:0], q.q[q.head:]...)
		q.head = 0
	}
	return s
}

// busyHeap holds the live sessions that hold tiles of which one at least
// can still be copied, by the time they are expected to need for them:
// the largest on top.
type busyHeap []*session

func (h busyHeap) Len() int           { return len(h) }
func (h busyHeap) Less(i, j int) bool { return h[i].backlog > h[j].backlog }
func (h busyHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapAt, h[j].heapAt = i, j
}
func (h *busyHeap) Push(x any) {
	s := x.(*session)
	s.heapAt = len(*h)
	*h = append(*h, s)
}
func (h *busyHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	s.heapAt = -1
	return s
}

// topExcept returns the session on top of the heap other than s, or nil:
// s on top, the larger of its children.
func (h busyHeap) topExcept(s *session) *session {
	switch {
	case len(h) == 0:
		return nil
	case h[0] != s:
		return h[0]
	case len(h) == 1:
		return nil
	case len(h) == 2 || h[1].backlog >= h[2].backlog:
		return h[1]
	}
	return h[2]
}

// tileTime is how long one of s's workers takes per tile, as best known:
// the slower of the pace of its results (by the controller's clock, once
// it has one) and the render times it reports; at least a microsecond. A
// burst of results (answers held back, or read together) cannot make a
// node look faster than it says it is, and a node that reports less than
// it takes (a wrong clock) cannot look faster than its results come.
func (s *session) tileTime() float64 {
	return max(s.avgNanos, s.gap*float64(s.cores), float64(time.Microsecond))
}

// touch puts s where it now belongs in the indexes: in the heap while it
// holds tiles it might share, and queued for tiles while it can take them.
func (r *run) touch(s *session) {
	if s.state != sessLive {
		if s.heapAt >= 0 {
			heap.Remove(&r.busy, s.heapAt)
		}
		return
	}
	in := len(s.leases) > 0 && !s.exhausted
	switch {
	case in && s.heapAt < 0:
		s.backlog = s.expected()
		heap.Push(&r.busy, s)
	case in:
		if b := s.expected(); b != s.backlog {
			s.backlog = b
			heap.Fix(&r.busy, s.heapAt)
		}
	case s.heapAt >= 0:
		heap.Remove(&r.busy, s.heapAt)
	}
	if r.wantsTiles(s) {
		r.want.push(s)
	}
	if r.isIdle(s) {
		r.idle.push(s)
	}
}

// expected is how long s needs for the tiles it holds, as best known: its
// rounds of cores tiles, each a tile time.
func (s *session) expected() float64 {
	return math.Ceil(float64(len(s.leases))/float64(s.cores)) * s.tileTime()
}

// wantsTiles reports whether s may be given a tile from the queue now.
func (r *run) wantsTiles(s *session) bool {
	return s.state == sessLive && s.takesTiles() && len(s.leases) < s.window
}

// isIdle reports whether s has a worker without a tile.
func (r *run) isIdle(s *session) bool {
	return s.state == sessLive && s.takesTiles() && len(s.leases) < s.cores
}

// addLease records l as one of s's leases, newest last.
func (s *session) addLease(l *lease) {
	s.leases[l.job] = l
	s.order = append(s.order, l)
	s.scan = len(s.order) // the newest may be copied
	s.exhausted = false
}

// unlease ends lease l: it leaves its session and its tile. A tile left
// with one copy makes that copy's session worth looking at again for the
// endgame.
func (r *run) unlease(l *lease) {
	s := l.s
	delete(s.leases, l.job)
	t := &r.tiles[l.tile]
	t.dropLease(l)
	if len(t.leases) == 1 && t.state == tileLeased {
		if o := t.leases[0].s; o.exhausted || o.scan < len(o.order) {
			o.exhausted, o.scan = false, len(o.order)
			r.touch(o)
		}
	}
	if len(s.order) > 2*len(s.leases)+32 { // drop the ended ones
		live := s.order[:0]
		for _, x := range s.order {
			if s.leases[x.job] == x {
				live = append(live, x)
			}
		}
		clear(s.order[len(live):])
		s.order = live
		s.scan = len(s.order)
	}
	r.touch(s)
}

// newestCopyable returns o's newest lease whose tile is out on o alone
// (the one o would render last: a node renders a connection's jobs in
// order), or nil. Leases below o.scan that were passed over are not looked
// at again until something may have changed them (addLease, unlease).
func (r *run) newestCopyable(o *session) *lease {
	for i := min(o.scan, len(o.order)) - 1; i >= 0; i-- {
		l := o.order[i]
		if o.leases[l.job] != l { // ended
			if i == len(o.order)-1 {
				o.order[i] = nil
				o.order = o.order[:i]
			}
			continue
		}
		if t := &r.tiles[l.tile]; t.state == tileLeased && len(t.leases) == 1 {
			o.scan = i // it gets a copy now: not copyable again
			return l
		}
	}
	o.scan = 0
	return nil
}
