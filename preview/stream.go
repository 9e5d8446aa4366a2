package preview

import (
	"errors"
	"net/http"
	"time"
)

// client is one open event stream.
type client struct {
	events chan []byte   // bounded queue, filled by publish without blocking
	kick   chan struct{} // capacity 1: a snapshot is due
	stale  bool          // events were dropped; guarded by Server.mu
}

// subscribe adds a client that starts stale, so that its first write is a
// snapshot: a fresh page and a resynchronised one take the same path.
func (s *Server) subscribe() *client {
	c := &client{
		events: make(chan []byte, s.cfg.ClientQueue),
		kick:   make(chan struct{}, 1),
		stale:  true,
	}
	c.kick <- struct{}{}
	s.mu.Lock()
	s.state.clients[c] = struct{}{}
	s.mu.Unlock()
	return c
}

func (s *Server) unsubscribe(c *client) {
	s.mu.Lock()
	delete(s.state.clients, c)
	s.mu.Unlock()
}

// publish queues ev for every client, never blocking: a client whose queue
// is full is marked stale and gets a snapshot when its writer catches up.
// The caller holds s.mu.
func (s *Server) publish(ev []byte) {
	for c := range s.state.clients {
		if c.stale {
			continue
		}
		select {
		case c.events <- ev:
		default:
			c.stale = true
			select {
			case c.kick <- struct{}{}:
			default:
			}
		}
	}
}

// resync empties c's queue and returns a snapshot of everything so far. Any
// event published after it is newer than the snapshot.
func (s *Server) resync(c *client) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(c.events) > 0 {
		<-c.events
	}
	c.stale = false
	return s.state.snapshot()
}

// handleEvents streams server-sent events to one page until the page goes
// away, a write times out, or the server shuts down.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	c := s.subscribe()
	defer s.unsubscribe(c)
	log := s.log.With().Str("remote", r.RemoteAddr).Logger()
	log.Debug().Msg("page connected")
	defer log.Debug().Msg("page disconnected")

	// write sends evs and flushes them, within the write timeout.
	write := func(evs ...[]byte) error {
		err := rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		if err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		for _, ev := range evs {
			if _, err := w.Write(ev); err != nil {
				return err
			}
		}
		return rc.Flush()
	}

	first := true
	batch := make([][]byte, 0, 64)
	for {
		var err error
		select {
		case <-s.quit:
			return
		case <-r.Context().Done():
			return
		case <-c.kick:
			snap := s.resync(c)
			if !first {
				log.Debug().Int("events", len(snap)).Msg("page fell behind: resynchronising")
			}
			first = false
			err = write(snap...)
		case ev := <-c.events:
			// Take what else is queued, so that one flush carries many tiles.
			batch = append(batch[:0], ev)
		more:
			for len(batch) < cap(batch) {
				select {
				case ev := <-c.events:
					batch = append(batch, ev)
				default:
					break more
				}
			}
			err = write(batch...)
		}
		if err != nil {
			log.Debug().Err(err).Msg("event stream ended")
			return
		}
	}
}
