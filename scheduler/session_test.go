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
		{name: "slow tiles, fast network: cores plus one", cores: 4, render: 100 * ms, rtt: ms / 10, windowCap: 256, want: 7},
		{name: "round trip as long as a tile", cores: 4, render: 10 * ms, rtt: 10 * ms, windowCap: 256, want: 13},
		{name: "tiny tiles: capped", cores: 2, render: ms / 100, rtt: ms, windowCap: 256, want: 256},
		{name: "the node said busy", cores: 2, render: ms / 100, rtt: ms, windowCap: 5, want: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{rec: &nodeRec{}, cores: tc.cores, windowCap: tc.windowCap}
			s.noteSpeed(int64(tc.render), tc.render+tc.rtt, 256)
			if s.window != tc.want {
				t.Errorf("window %d, want %d", s.window, tc.want)
			}
		})
	}
}
