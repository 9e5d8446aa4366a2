package guest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"tessera/protocol"
)

// Yield makes a node step aside while the person at the PC uses it: when
// other programs use more than Share of the machine's CPU for After, the
// node pauses (paused-busy); once they have used at most Share for Quiet,
// it resumes.
type Yield struct {
	Share float64       // in (0, 1]; 0 never yields
	After time.Duration // default DefaultYieldAfter
	Quiet time.Duration // default DefaultYieldQuiet
}

// Yield defaults.
const (
	DefaultYieldAfter = 3 * time.Second
	DefaultYieldQuiet = 30 * time.Second
)

// ParseShare parses a share of the CPU written as a percentage, "25%",
// more than 0% and at most 100%.
func ParseShare(s string) (float64, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	if !ok {
		return 0, fmt.Errorf("%q: want a percentage of the machine's CPU, e.g. 25%%", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || !(v > 0 && v <= 100) {
		return 0, fmt.Errorf("%q: want more than 0%% and at most 100%%", s)
	}
	return v / 100, nil
}

// Clock tells a Watcher the time. Tests inject a fake one to drive hours
// of schedule and seconds of load without waiting.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// WatchConfig configures a Watcher. The zero value watches nothing: the
// node is always ready.
type WatchConfig struct {
	Schedule Schedule  // the hours the node may work; the zero Schedule is always open
	Yield    Yield     // step aside while the PC is busy; a zero Share never does
	CPU      CPUSource // the counters Yield reads; default SystemCPU()
	Clock    Clock     // default the wall clock, local time
	// Interval is how often the Watcher looks: default After/12 between
	// 10 ms and 1 s with Yield (250 ms for the default 3 s: the node yields
	// between After and After plus one interval after the load began),
	// else 1 s.
	Interval time.Duration
	Logger   zerolog.Logger // the zero Logger discards
}

// Change is a new state of the node and why.
type Change struct {
	State protocol.NodeState
	Why   string // for people: "other programs used 87% of the CPU (over 25%) for 3s"
}

// Watcher decides the node's state from its schedule and the PC's load.
type Watcher struct {
	cfg   WatchConfig
	yield yieldState
}

// NewWatcher checks cfg and returns a Watcher. With a Yield share and no
// CPU source, it reads the system's, or fails with an error matching
// ErrUnsupported where the system has none that this package can read.
func NewWatcher(cfg WatchConfig) (*Watcher, error) {
	y := &cfg.Yield
	if y.Share < 0 || y.Share > 1 || y.After < 0 || y.Quiet < 0 || cfg.Interval < 0 {
		return nil, fmt.Errorf("guest: bad WatchConfig: share %v, after %v, quiet %v, interval %v", y.Share, y.After, y.Quiet, cfg.Interval)
	}
	if y.After == 0 {
		y.After = DefaultYieldAfter
	}
	if y.Quiet == 0 {
		y.Quiet = DefaultYieldQuiet
	}
	if cfg.Clock == nil {
		cfg.Clock = wallClock{}
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
		if y.Share > 0 {
			cfg.Interval = min(max(y.After/12, 10*time.Millisecond), time.Second)
		}
	}
	if y.Share > 0 && cfg.CPU == nil {
		src, err := SystemCPU()
		if err != nil {
			return nil, err
		}
		cfg.CPU = src
	}
	return &Watcher{cfg: cfg, yield: yieldState{cfg: cfg.Yield}}, nil
}

// Run watches until ctx ends, when it returns. It calls onChange from its
// own goroutine once at start with the state then, and again at every
// change; onChange should not block for long. A failed reading of the CPU
// counters is skipped (and logged once until they read again).
func (w *Watcher) Run(ctx context.Context, onChange func(Change)) {
	clk := w.cfg.Clock
	yielding := w.cfg.Yield.Share > 0
	var prev CPUSample
	prevAt := clk.Now()
	havePrev, failing := false, false
	read := func() (CPUSample, bool) {
		s, err := w.cfg.CPU.Read()
		switch {
		case err != nil && !failing:
			w.cfg.Logger.Warn().Err(err).Msg("reading the CPU counters failed; not yielding until they read again")
		case err == nil && failing:
			w.cfg.Logger.Info().Msg("the CPU counters read again")
		}
		failing = err != nil
		return s, err == nil
	}
	if yielding {
		prev, havePrev = read()
	}
	state, why := w.decide(prevAt, "the node starts")
	onChange(Change{State: state, Why: why})
	for {
		select {
		case <-ctx.Done():
			return
		case <-clk.After(w.cfg.Interval):
		}
		now := clk.Now()
		how := ""
		if yielding {
			s, ok := read()
			switch {
			case !ok:
				havePrev = false
				w.yield.since = time.Time{} // the run of samples is broken: count again
			case !havePrev:
				prev, havePrev = s, true
			default:
				if share, ok := OtherShare(prev, s); ok {
					how = w.yield.observe(prevAt, now, share)
				}
				prev = s
			}
		}
		prevAt = now
		next, why := w.decide(now, how)
		if next != state {
			state = next
			onChange(Change{State: state, Why: why})
		}
	}
}

// decide returns the state at now: outside the schedule the node is paused
// for it whatever the load; inside, paused while it yields. how says what
// the last sample changed, if anything.
func (w *Watcher) decide(now time.Time, how string) (protocol.NodeState, string) {
	switch {
	case !w.cfg.Schedule.Open(now):
		return protocol.StatePausedSchedule, fmt.Sprintf("outside the schedule %q (%s)", w.cfg.Schedule, now.Format("Mon 15:04"))
	case w.yield.yielding:
		return protocol.StatePausedBusy, how
	case how != "":
		return protocol.StateReady, how
	case len(w.cfg.Schedule.windows) > 0:
		return protocol.StateReady, fmt.Sprintf("inside the schedule %q (%s)", w.cfg.Schedule, now.Format("Mon 15:04"))
	}
	return protocol.StateReady, "the node starts"
}

// yieldState turns samples of other programs' CPU share into yielding or
// not, with the hysteresis of Yield.
type yieldState struct {
	cfg      Yield
	yielding bool
	since    time.Time // start of the run of samples on the other side of the threshold; zero: none
	peak     float64   // highest share of that run
}

// observe takes the share other programs used from start to end and says
// why yielding changed, or "".
func (y *yieldState) observe(start, end time.Time, share float64) string {
	over := share > y.cfg.Share
	if over != y.yielding { // on the side that would change the state
		if y.since.IsZero() {
			y.since, y.peak = start, 0
		}
		y.peak = max(y.peak, share)
		need := y.cfg.After
		if y.yielding {
			need = y.cfg.Quiet
		}
		if held := end.Sub(y.since); held >= need {
			y.yielding, y.since = over, time.Time{}
			if over {
				return fmt.Sprintf("other programs used up to %.0f%% of the CPU (over %.0f%%) for %v", 100*y.peak, 100*y.cfg.Share, held.Round(time.Millisecond))
			}
			return fmt.Sprintf("other programs used at most %.0f%% of the CPU (%.0f%% allowed) for %v", 100*y.peak, 100*y.cfg.Share, held.Round(time.Millisecond))
		}
		return ""
	}
	y.since = time.Time{}
	return ""
}
