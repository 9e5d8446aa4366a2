package protocol

import "sync"

// Outbox queues the messages one connection has to send, so that no worker
// or event loop ever blocks on the network: one writer goroutine per
// connection drains it with Drain. It is bounded: a peer that stops reading
// makes Push fail, and its connection should then be closed. The controller
// and the node both use one per connection.
type Outbox struct {
	mu      sync.Mutex
	q       []Message
	limit   int
	closing bool          // no more pushes; the writer drains what is left and stops
	wake    chan struct{} // capacity 1: something to do
}

// NewOutbox returns an outbox that holds at most limit messages.
func NewOutbox(limit int) *Outbox {
	return &Outbox{limit: limit, wake: make(chan struct{}, 1)}
}

// Push queues m. It reports false when the outbox is closing or full. It
// never blocks and may be called from any goroutine.
func (o *Outbox) Push(m Message) bool {
	o.mu.Lock()
	if o.closing || len(o.q) >= o.limit {
		o.mu.Unlock()
		return false
	}
	o.q = append(o.q, m)
	o.mu.Unlock()
	o.signal()
	return true
}

// Close makes the writer stop once it has sent what is queued; later pushes
// fail. It may be called more than once.
func (o *Outbox) Close() {
	o.mu.Lock()
	o.closing = true
	o.mu.Unlock()
	o.signal()
}

func (o *Outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// take moves the queued messages into buf (which it returns) and reports
// whether the outbox is closing.
func (o *Outbox) take(buf []Message) ([]Message, bool) {
	o.mu.Lock()
	buf = append(buf, o.q...)
	clear(o.q)
	o.q = o.q[:0]
	closing := o.closing
	o.mu.Unlock()
	return buf, closing
}

// Drain sends every queued message with send, in order, until the outbox is
// closed and empty (nil), send fails (its error), or stop is closed (nil).
// One goroutine drains an outbox.
func (o *Outbox) Drain(send func(Message) error, stop <-chan struct{}) error {
	return o.DrainBatch(func(ms []Message) error {
		for _, m := range ms {
			if err := send(m); err != nil {
				return err
			}
		}
		return nil
	}, stop)
}

// DrainBatch is Drain handing send every message queued at once, in order
// (Conn.SendBatch: their frames share one flush, one system call).
func (o *Outbox) DrainBatch(send func([]Message) error, stop <-chan struct{}) error {
	var batch []Message
	for {
		var closing bool
		batch, closing = o.take(batch[:0])
		if len(batch) > 0 {
			if err := send(batch); err != nil {
				return err
			}
			clear(batch)
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
