package scheduler

import (
	"testing"
	"time"
)

func TestSessionDeadlineFromMeasuredSpeed(t *testing.T) {
	tune := defaultTuning
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		cores   int
		results [][2]time.Duration // render time, latency
		want    time.Duration
	}{
		{name: "no result yet: the default", cores: 4, want: tune.firstDeadline},
		{name: "fast tiles: the floor", cores: 2, results: [][2]time.Duration{{100 * ms, 101 * ms}, {100 * ms, 101 * ms}}, want: tune.minDeadline + ms},
		{name: "one slow tile: four times the slowest", cores: 1, results: [][2]time.Duration{{100 * ms, 105 * ms}, {100 * ms, 105 * ms}, {2 * time.Second, 2*time.Second + 5*ms}}, want: 8*time.Second + 5*ms},
		{name: "slow tiles: ten times the pace", cores: 1, results: [][2]time.Duration{{2 * time.Second, 2*time.Second + 5*ms}, {3 * time.Second, 3*time.Second + 5*ms}}, want: 22*time.Second + 5*ms},
		{name: "one core, steady pace: ten tiles' time", cores: 1, results: [][2]time.Duration{{600 * ms, 600 * ms}, {600 * ms, 600 * ms}, {600 * ms, 600 * ms}}, want: 6 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{rec: &nodeRec{}, cores: tc.cores, windowCap: tune.maxWindow}
			for _, r := range tc.results {
				s.noteSpeed(int64(r[0]), r[1], tune.maxWindow)
			}
			if got := s.deadline(&tune); got != tc.want {
				t.Errorf("deadline %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSessionWindowHidesTheRoundTrip: a node's window is its cores plus
// the tiles it renders in two round trips, at least one: what it can start
// soon, no hoard. It grows by half at most per result.
func TestSessionWindowHidesTheRoundTrip(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name      string
		cores     int
		render    time.Duration
		rtt       time.Duration
		windowCap int
		want      int
	}{
		{name: "slow tiles, fast network: cores plus one", cores: 4, render: 100 * ms, rtt: ms / 10, windowCap: 256, want: 5},
		{name: "round trip as long as a tile: two tiles a core queued", cores: 4, render: 10 * ms, rtt: 10 * ms, windowCap: 256, want: 12},
		{name: "tiny tiles: capped", cores: 2, render: ms / 100, rtt: ms, windowCap: 256, want: 256},
		{name: "the node said busy", cores: 2, render: ms / 100, rtt: ms, windowCap: 5, want: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{rec: &nodeRec{}, cores: tc.cores, windowCap: tc.windowCap, window: 2 * tc.cores}
			prev := s.window
			for range 40 {
				s.noteSpeed(int64(tc.render), tc.render+tc.rtt, 256)
				if s.window > prev+max(tc.cores, prev/2) {
					t.Fatalf("window grew from %d to %d in one result", prev, s.window)
				}
				prev = s.window
			}
			if s.window != tc.want {
				t.Errorf("window %d, want %d", s.window, tc.want)
			}
		})
	}
}

// TestSessionPaceByTheControllersClock: a node that reports renders of no
// time (a wrong clock) but returns a result every 50 ms gets the window of
// its real pace, not a hoard; a burst of results read together does not
// make an honest node look faster than it says.
func TestSessionPaceByTheControllersClock(t *testing.T) {
	ms := time.Millisecond
	t.Run("under-reporting node", func(t *testing.T) {
		s := &session{rec: &nodeRec{}, cores: 1, windowCap: 256, window: 2}
		s.noteRTT(ms) // its pings: the latency of its results is no round trip
		now := time.Unix(1000, 0)
		for range 40 {
			now = now.Add(50 * ms)
			s.noteDone(now, 2)
			s.noteSpeed(0, 51*ms, 256)
		}
		if s.window != 2 {
			t.Errorf("window %d, want 2 (one worker and one tile queued: 50 ms a tile, 1 ms round trips)", s.window)
		}
	})
	t.Run("a burst", func(t *testing.T) {
		s := &session{rec: &nodeRec{}, cores: 1, windowCap: 256, window: 2}
		now := time.Unix(1000, 0)
		for range 40 { // every result at the same instant
			s.noteDone(now, 2)
			s.noteSpeed(int64(50*ms), 51*ms, 256)
		}
		if s.window != 2 {
			t.Errorf("window %d, want 2: the reported 50 ms a tile bounds the pace", s.window)
		}
	})
}
