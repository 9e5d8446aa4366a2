package discovery

import (
	"sync"

	"tessera/protocol"
)

// LiveRecord is a node's Record as it changes while the node runs (its
// State), shared by the node's heartbeats: each registers a change at once
// instead of at its next refresh. Safe for concurrent use.
type LiveRecord struct {
	mu      sync.Mutex
	rec     Record
	changed chan struct{} // closed at the next change
}

// NewLiveRecord returns a LiveRecord holding rec.
func NewLiveRecord(rec Record) *LiveRecord {
	return &LiveRecord{rec: rec, changed: make(chan struct{})}
}

// Load returns the record now and a channel closed when it next changes.
func (l *LiveRecord) Load() (Record, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rec, l.changed
}

// SetState changes the record's State; it reports whether that was a
// change.
func (l *LiveRecord) SetState(st protocol.NodeState) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rec.State == st {
		return false
	}
	l.rec.State = st
	close(l.changed)
	l.changed = make(chan struct{})
	return true
}
