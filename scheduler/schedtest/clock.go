package schedtest

import (
	"sync"
	"time"
)

// Clock is a clock moved by hand, for the controller's Clock and the node's
// watch (guest.Clock): Now, and After channels that fire when Advance
// passes their time.
type Clock struct {
	// Blocked, when not nil, receives once at every call of After, before
	// After returns (unbuffered: the caller waits for the test). A test
	// that steps a loop one wait at a time receives from it to know the
	// loop has done its work and waits again.
	Blocked chan struct{}

	mu     sync.Mutex
	now    time.Time
	timers []clockTimer
}

type clockTimer struct {
	at time.Time
	ch chan time.Time
}

// NewClock returns a Clock at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once Advance has
// moved it d on (at once for d <= 0).
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
	} else {
		c.timers = append(c.timers, clockTimer{at: c.now.Add(d), ch: ch})
	}
	c.mu.Unlock()
	if c.Blocked != nil {
		c.Blocked <- struct{}{}
	}
	return ch
}

// Waiting reports how many After channels have not fired yet.
func (c *Clock) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Advance moves the clock and fires the timers that are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.ch <- c.now
	}
	c.timers = kept
}
