package preview

// The feeding methods (Tile, Nodes, Progress, Finish) only copy their
// arguments and queue the work; one background goroutine at a time does it,
// in call order. The goroutine starts when work arrives and ends when the
// queue is empty, so an idle Server holds no goroutine; Close waits for it.
// The queue is not bounded: it holds at most the tiles that arrive faster
// than they are converted (about 80 µs per 32x32 tile), which a render
// cannot sustain for long.

// enqueue queues f and reports whether it did: after Shutdown or Close it
// drops f, as nobody is watching any more.
func (s *Server) enqueue(f func()) bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.qclosed {
		return false
	}
	s.queue = append(s.queue, f)
	if !s.draining {
		s.draining = true
		s.drainers.Add(1)
		go s.drain()
	}
	return true
}

func (s *Server) drain() {
	defer s.drainers.Done()
	for {
		s.qmu.Lock()
		work := s.queue
		s.queue = nil
		if len(work) == 0 {
			s.draining = false
			s.qmu.Unlock()
			return
		}
		s.qmu.Unlock()
		for _, f := range work {
			if s.stopped.Load() {
				return // stopQueue set draining aside
			}
			f()
		}
	}
}

// stopQueue drops what is queued, refuses more and waits for the item in
// hand to finish.
func (s *Server) stopQueue() {
	s.qmu.Lock()
	s.qclosed = true
	s.queue = nil
	s.qmu.Unlock()
	s.stopped.Store(true)
	s.drainers.Wait()
}

// flush waits until everything queued before it is done. For tests; not
// to be called at the same time as Shutdown or Close.
func (s *Server) flush() {
	done := make(chan struct{})
	if s.enqueue(func() { close(done) }) {
		<-done
	}
}
