package guest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"tessera/protocol"
	"tessera/scheduler/schedtest"
)

// newFakeClock returns a clock that reports every wait on Blocked, so
// that the test knows when the Watcher waits again.
func newFakeClock(now time.Time) *schedtest.Clock {
	c := schedtest.NewClock(now)
	c.Blocked = make(chan struct{})
	return c
}

// fakeCPU is a two-core machine whose load the test sets: from each read
// to the next, other programs use other and the node own of it.
type fakeCPU struct {
	clk *schedtest.Clock

	mu          sync.Mutex
	other, own  float64
	last        time.Time
	sample      CPUSample
	fail        bool
	readsFailed int
}

func (f *fakeCPU) set(other, own float64) {
	f.mu.Lock()
	f.other, f.own = other, own
	f.mu.Unlock()
}

func (f *fakeCPU) Read() (CPUSample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clk.Now()
	if f.fail {
		f.readsFailed++
		return CPUSample{}, errors.New("counters unreadable")
	}
	if !f.last.IsZero() {
		dt := 2 * float64(now.Sub(f.last)) // two cores
		f.sample.Total += time.Duration(dt)
		f.sample.Busy += time.Duration((f.other + f.own) * dt)
		f.sample.Own += time.Duration(f.own * dt)
	}
	f.last = now
	return f.sample, nil
}

// rig runs a Watcher on a fake clock and machine.
type rig struct {
	t        *testing.T
	clk      *schedtest.Clock
	cpu      *fakeCPU
	interval time.Duration
	changes  chan Change
	stop     func()
}

// monday1759 is Monday 2026-03-02 17:59 UTC.
var monday1759 = time.Date(2026, 3, 2, 17, 59, 0, 0, time.UTC)

func startRig(t *testing.T, cfg WatchConfig, start time.Time) (*rig, Change) {
	t.Helper()
	r := &rig{t: t, clk: newFakeClock(start), changes: make(chan Change)}
	r.cpu = &fakeCPU{clk: r.clk}
	cfg.Clock = r.clk
	if cfg.Yield.Share > 0 {
		cfg.CPU = r.cpu
	}
	w, err := NewWatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.interval = w.cfg.Interval
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx, func(c Change) { r.changes <- c })
	}()
	first := <-r.changes
	<-r.clk.Blocked
	r.stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(r.stop)
	return r, first
}

// step lets one interval pass and returns the change it brought, if any.
func (r *rig) step() (Change, bool) {
	r.t.Helper()
	r.clk.Advance(r.interval)
	select {
	case c := <-r.changes:
		<-r.clk.Blocked
		return c, true
	case <-r.clk.Blocked:
		return Change{}, false
	}
}

// run steps until a change or until d has passed; it returns the change
// and the time it took.
func (r *rig) run(d time.Duration) (Change, time.Duration, bool) {
	r.t.Helper()
	for passed := time.Duration(0); passed < d; {
		c, ok := r.step()
		passed += r.interval
		if ok {
			return c, passed, true
		}
	}
	return Change{}, d, false
}

func TestYield(t *testing.T) {
	r, first := startRig(t, WatchConfig{Yield: Yield{Share: 0.25}}, monday1759)
	if first.State != protocol.StateReady {
		t.Fatalf("first state %v, want ready", first.State)
	}
	if r.interval != 250*time.Millisecond {
		t.Fatalf("interval %v, want 250ms for After 3s", r.interval)
	}
	// The node renders on both cores; other programs use 10%: no change.
	r.cpu.set(0.10, 0.90)
	if c, _, ok := r.run(time.Minute); ok {
		t.Fatalf("changed to %v under a light load: %s", c.State, c.Why)
	}
	// A foreground load: 90% of the machine. The node pauses after 3 s
	// exactly, not before.
	r.cpu.set(0.90, 0.01)
	c, took, ok := r.run(10 * time.Second)
	if !ok || c.State != protocol.StatePausedBusy || took != 3*time.Second {
		t.Fatalf("after %v: %v (%v), want paused-busy after 3s", took, c.State, ok)
	}
	if !strings.Contains(c.Why, "90%") || !strings.Contains(c.Why, "over 25%") {
		t.Errorf("why %q: want the share and the threshold", c.Why)
	}
	// Quiet for 20 s, then a 1 s burst, then quiet: the burst restarts the
	// 30 s; the node resumes 30 s after the burst ended.
	r.cpu.set(0.05, 0)
	if c, _, ok := r.run(20 * time.Second); ok {
		t.Fatalf("resumed after 20 s of quiet: %v", c.State)
	}
	r.cpu.set(0.50, 0)
	if c, _, ok := r.run(time.Second); ok {
		t.Fatalf("changed during a burst while paused: %v", c.State)
	}
	r.cpu.set(0.05, 0)
	c, took, ok = r.run(time.Minute)
	if !ok || c.State != protocol.StateReady || took != 30*time.Second {
		t.Fatalf("after %v: %v (%v), want ready after 30s of quiet", took, c.State, ok)
	}
	// A burst shorter than 3 s does not pause.
	r.cpu.set(1, 0)
	if c, _, ok := r.run(2750 * time.Millisecond); ok {
		t.Fatalf("paused after a 2.75 s burst: %v", c.State)
	}
	r.cpu.set(0, 1)
	if c, _, ok := r.run(time.Minute); ok {
		t.Fatalf("changed to %v with only the node busy", c.State)
	}
}

// TestYieldShortDurations: After and Quiet as the end-to-end tests set
// them; the interval follows.
func TestYieldShortDurations(t *testing.T) {
	r, _ := startRig(t, WatchConfig{Yield: Yield{Share: 0.5, After: 120 * time.Millisecond, Quiet: 240 * time.Millisecond}}, monday1759)
	if r.interval != 10*time.Millisecond {
		t.Fatalf("interval %v, want 10ms", r.interval)
	}
	r.cpu.set(0.6, 0.3)
	if c, took, ok := r.run(time.Second); !ok || c.State != protocol.StatePausedBusy || took != 120*time.Millisecond {
		t.Fatalf("after %v: %v, want paused-busy after 120ms", took, c.State)
	}
	r.cpu.set(0.5, 0) // at the threshold is not over it
	if c, took, ok := r.run(time.Second); !ok || c.State != protocol.StateReady || took != 240*time.Millisecond {
		t.Fatalf("after %v: %v, want ready after 240ms", took, c.State)
	}
}

func TestYieldSkipsFailedReadings(t *testing.T) {
	r, _ := startRig(t, WatchConfig{Yield: Yield{Share: 0.25}}, monday1759)
	r.cpu.set(0.9, 0)
	r.run(time.Second)
	r.cpu.mu.Lock()
	r.cpu.fail = true
	r.cpu.mu.Unlock()
	if c, _, ok := r.run(10 * time.Second); ok {
		t.Fatalf("changed to %v on unreadable counters", c.State)
	}
	r.cpu.mu.Lock()
	r.cpu.fail = false
	failed := r.cpu.readsFailed
	r.cpu.mu.Unlock()
	if failed != 40 {
		t.Errorf("%d failed reads in 10 s, want 40", failed)
	}
	// Readings resume; the 3 s count starts again from the first good one.
	c, took, ok := r.run(10 * time.Second)
	if !ok || c.State != protocol.StatePausedBusy || took != 3250*time.Millisecond {
		t.Fatalf("after %v: %v, want paused-busy after one reading plus 3s", took, c.State)
	}
}

func TestScheduleWatch(t *testing.T) {
	sc, err := ParseSchedule("mon-fri 18:00-08:00")
	if err != nil {
		t.Fatal(err)
	}
	r, first := startRig(t, WatchConfig{Schedule: sc}, monday1759)
	if first.State != protocol.StatePausedSchedule || !strings.Contains(first.Why, `"mon-fri 18:00-08:00"`) {
		t.Fatalf("at 17:59: %+v, want paused-schedule naming the schedule", first)
	}
	if r.interval != time.Second {
		t.Fatalf("interval %v, want 1s without yield", r.interval)
	}
	// The window opens at 18:00, a minute later.
	c, took, ok := r.run(2 * time.Minute)
	if !ok || c.State != protocol.StateReady || took != time.Minute {
		t.Fatalf("after %v: %+v, want ready at 18:00", took, c)
	}
	// Jump to Tuesday 07:59:59 (the clock moves; the Watcher looks once a
	// second), then the window closes at 08:00.
	r.clk.Advance(14*time.Hour - 2*time.Second)
	select {
	case c := <-r.changes:
		t.Fatalf("changed at 07:59:58: %+v", c)
	case <-r.clk.Blocked:
	}
	c, took, ok = r.run(10 * time.Second)
	if !ok || c.State != protocol.StatePausedSchedule || took != 2*time.Second {
		t.Fatalf("after %v more: %+v, want paused-schedule at 08:00", took, c)
	}
}

// TestScheduleBeforeYield: outside the schedule the node says so whatever
// the load; when the window opens on a busy PC it is paused for the load.
func TestScheduleBeforeYield(t *testing.T) {
	sc, _ := ParseSchedule("18:00-08:00")
	r, first := startRig(t, WatchConfig{Schedule: sc, Yield: Yield{Share: 0.25}}, monday1759)
	if first.State != protocol.StatePausedSchedule {
		t.Fatalf("first %v", first.State)
	}
	r.cpu.set(0.9, 0)
	c, took, ok := r.run(2 * time.Minute)
	if !ok || c.State != protocol.StatePausedBusy || took != time.Minute {
		t.Fatalf("after %v: %+v, want paused-busy when the window opens on a busy PC", took, c)
	}
	r.cpu.set(0, 0)
	c, took, ok = r.run(time.Minute)
	if !ok || c.State != protocol.StateReady || took != 30*time.Second {
		t.Fatalf("after %v: %+v, want ready after the quiet period", took, c)
	}
}

func TestNewWatcherRefuses(t *testing.T) {
	for _, cfg := range []WatchConfig{
		{Yield: Yield{Share: -0.1}},
		{Yield: Yield{Share: 1.5}},
		{Yield: Yield{Share: 0.2, After: -time.Second}},
		{Interval: -time.Second},
	} {
		if _, err := NewWatcher(cfg); err == nil {
			t.Errorf("NewWatcher(%+v) accepted", cfg)
		}
	}
}

func TestParseShare(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"25%", 0.25, true},
		{"100%", 1, true},
		{"2.5%", 0.025, true},
		{" 50% ", 0.5, true},
		{"25", 0, false},
		{"0%", 0, false},
		{"101%", 0, false},
		{"-5%", 0, false},
		{"%", 0, false},
		{"x%", 0, false},
		{"NaN%", 0, false},
	} {
		got, err := ParseShare(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseShare(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestOtherShare(t *testing.T) {
	a := CPUSample{Total: 10 * time.Second, Busy: 4 * time.Second, Own: time.Second}
	b := CPUSample{Total: 12 * time.Second, Busy: 5500 * time.Millisecond, Own: 1500 * time.Millisecond}
	if s, ok := OtherShare(a, b); !ok || s != 0.5 {
		t.Errorf("OtherShare = %v, %v; want 0.5", s, ok)
	}
	if _, ok := OtherShare(a, a); ok {
		t.Error("no time passed, yet a share")
	}
	// Counters read at slightly different moments can make own exceed
	// busy: the share clamps at 0.
	c := CPUSample{Total: 12 * time.Second, Busy: 4 * time.Second, Own: 2 * time.Second}
	if s, ok := OtherShare(a, c); !ok || s != 0 {
		t.Errorf("OtherShare = %v, %v; want 0", s, ok)
	}
}
