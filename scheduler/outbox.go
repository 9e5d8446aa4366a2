package scheduler

import (
	"sync"

	"tessera/protocol"
)

// outbox queues the frames one connection has to send, so that no worker or
// event loop ever blocks on the network: one writer goroutine per connection
// drains it. It is bounded: a peer that stops reading makes push fail, and
// the connection is then closed.
type outbox struct {
	mu      sync.Mutex
	q       []protocol.Message
	limit   int
	closing bool          // no more pushes; the writer drains what is left and stops
	wake    chan struct{} // capacity 1: something to do
}

func newOutbox(limit int) *outbox {
	return &outbox{limit: limit, wake: make(chan struct{}, 1)}
}

// push queues m. It reports false when the outbox is closing or full.
func (o *outbox) push(m protocol.Message) bool {
	o.mu.Lock()
	if o.closing || len(o.q) >= o.limit {
		o.mu.Unlock()
		return false
	}
	o.q = append(o.q, m)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return true
}

// close makes the writer stop once it has sent what is queued.
func (o *outbox) close() {
	o.mu.Lock()
	o.closing = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// take moves the queued frames into buf (which it returns) and reports
// whether the outbox is closing.
func (o *outbox) take(buf []protocol.Message) ([]protocol.Message, bool) {
	o.mu.Lock()
	buf = append(buf, o.q...)
	clear(o.q)
	o.q = o.q[:0]
	closing := o.closing
	o.mu.Unlock()
	return buf, closing
}

// drain sends every queued frame with send until the outbox is closed and
// empty (nil), send fails (its error), or stop is closed (nil).
func (o *outbox) drain(send func(protocol.Message) error, stop <-chan struct{}) error {
	var batch []protocol.Message
	for {
		var closing bool
		batch, closing = o.take(batch[:0])
		for i, m := range batch {
			if err := send(m); err != nil {
				return err
			}
			batch[i] = nil
		}
		if len(batch) > 0 {
			continue
		}
		if closing {
			return nil
		}
		select {
		case <-o.wake:
		case <-stop:
			return nil
		}
	}
}
