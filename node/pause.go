package node

import (
	"fmt"
	"time"

	"tessera/protocol"
)

// A node is ready or paused (protocol.NodeState): paused-busy while the
// PC's user needs its CPU, paused-schedule outside its working hours. The
// states and their transitions:
//
//	ready ──────────► paused-busy, paused-schedule    queued and waiting jobs handed back at once,
//	                                                 running ones finish or are handed back at PauseGrace
//	paused-busy ◄───► paused-schedule                 nothing moves: the Pong says the new reason
//	paused-* ───────► ready                           nothing moves: controllers send jobs again once
//	                                                 a Pong says ready
//
// Every change is first told to every controller in an unprompted
// Pong{Seq: 0, State}, then the jobs move.
// A job "handed back" is answered with Error{paused, j}, the job's one
// answer: the controller renders it elsewhere and counts no failure. While
// paused the node answers every new job the same way at once, keeps its
// connections (and answers pings, with its state in every Pong), and still
// takes scenes, so that work resumes without a reconnect or a new upload.
// Every change goes through SetState.

// DefaultPauseGrace is Config.PauseGrace's default.
const DefaultPauseGrace = 2 * time.Second

// State returns the node's state and why it is in it.
func (n *Node) State() (protocol.NodeState, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.avail, n.availWhy
}

// SetState makes the node ready or pauses it; why is for the log and the
// counters ("other programs used 87% of the CPU..."). An empty state is
// ready; a state this version does not know pauses the node like any
// other that is not ready.
func (n *Node) SetState(st protocol.NodeState, why string) {
	if st == "" {
		st = protocol.StateReady
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.avail
	n.availWhy = why
	if st == old {
		return
	}
	n.avail = st
	n.pauseGen++ // a pending grace of an earlier pause no longer applies
	// Tell every controller first, in a Pong of its own (Seq 0): it stops
	// sending jobs before the hand-backs arrive, and resumes at once.
	for c := range n.conns {
		if c.established {
			c.out.Push(protocol.Pong{State: st})
		}
	}
	if n.pauseTimer != nil {
		n.pauseTimer.Stop()
		n.pauseTimer = nil
	}
	switch {
	case st.Ready():
		n.log.Info().Str("state", string(st)).Str("why", why).Msg("taking tiles again")
		return
	case !old.Ready():
		n.log.Info().Str("state", string(st)).Str("why", why).Msg("still paused")
		return
	}
	queued := 0
	for c := range n.conns {
		queued += n.handBackLocked(c, protocol.CodePaused, n.pausedMessage(st))
		c.inReady = false
	}
	n.jobsPaused += uint64(queued)
	clear(n.ready)
	n.ready = n.ready[:0]
	n.log.Info().Str("state", string(st)).Str("why", why).Int("handedBack", queued).Int("running", n.running).
		Dur("grace", n.cfg.PauseGrace).Msg("pausing: queued tiles handed back, running ones get the grace")
	if n.running > 0 && n.state != stateClosed {
		gen := n.pauseGen
		n.pauseTimer = time.AfterFunc(n.cfg.PauseGrace, func() { n.pauseGraceOver(gen) })
	}
}

// pauseGraceOver hands back the jobs still running when the grace of pause
// gen ran out, unless the node resumed (or paused again) meanwhile. The
// answer goes out now; the worker notices the cancellation at its next
// check and sends nothing more, however starved its thread is.
func (n *Node) pauseGraceOver(gen uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if gen != n.pauseGen || n.avail.Ready() || n.state == stateClosed {
		return
	}
	n.pauseTimer = nil
	msg := n.pausedMessage(n.avail)
	cut := 0
	for c := range n.conns {
		for _, j := range c.jobs {
			if j.state != jobRunning || j.stopped != stopNone {
				continue
			}
			j.stop(stopPaused)
			c.out.Push(protocol.Error{Code: protocol.CodePaused, Message: msg, Job: j.id})
			cut++
		}
	}
	n.jobsPaused += uint64(cut)
	if cut > 0 {
		n.log.Info().Int("handedBack", cut).Dur("grace", n.cfg.PauseGrace).Msg("pause grace over: running tiles handed back")
	}
}

func (n *Node) pausedMessage(st protocol.NodeState) string {
	return fmt.Sprintf("node %s is paused (%s): render this job elsewhere", n.cfg.ID, st)
}
