package guest

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type threadInfo struct {
	tid, policy, nice int
	err               error
}

// current describes the calling goroutine's thread.
func current(lowerErr error) threadInfo {
	r := threadInfo{tid: unix.Gettid(), err: lowerErr}
	if r.err == nil {
		r.policy, r.nice, r.err = threadPolicy()
	}
	return r
}

// waitThreadGone waits until thread tid of this process has ended.
func waitThreadGone(t *testing.T, tid int) {
	t.Helper()
	task := filepath.Join("/proc/self/task", strconv.Itoa(tid))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(task); errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d still runs after its goroutine returned", tid)
		}
		time.Sleep(5 * time.Millisecond) // polling the kernel against a deadline
	}
}

// startNice is the nice value the test process started at: 0 usually,
// more under `nice make test`. Threads Go never lowered keep it, and Go
// never raises a thread above it.
func startNice(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	s, err := parseProcStat(b)
	if err != nil {
		t.Fatal(err)
	}
	return s.nice
}

func TestGoLowersTheThreadAndEndsIt(t *testing.T) {
	base := startNice(t)
	for _, tc := range []struct {
		p          Priority
		wantPolicy int
		wantNice   int
	}{
		{PriorityIdle, unix.SCHED_IDLE, 19},
		{PriorityLow, unix.SCHED_NORMAL, max(10, base)},
	} {
		t.Run(tc.p.String(), func(t *testing.T) {
			done := make(chan threadInfo)
			Go(tc.p, func(err error) { done <- current(err) })
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.policy != tc.wantPolicy || r.nice != tc.wantNice {
				t.Errorf("thread %d: policy %d nice %d, want policy %d nice %d", r.tid, r.policy, r.nice, tc.wantPolicy, tc.wantNice)
			}
			if r.tid == os.Getpid() {
				t.Errorf("the main thread was lowered")
			}
			// The goroutine exited locked: its thread must end with it, so
			// that no other goroutine ever runs at the lowered priority.
			waitThreadGone(t, r.tid)
		})
	}
	// A thread that was never lowered is as it was.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if policy, nice, err := threadPolicy(); err != nil || policy != unix.SCHED_NORMAL || nice != base {
		t.Errorf("an unlowered thread: policy %d nice %d (%v), want normal at nice %d", policy, nice, err, base)
	}
}

// TestGoSparesTheMainThread makes the first thread Go lands on pass for the
// main thread: the work must run lowered on another thread, and the first
// must stay as it was and go back to the runtime.
func TestGoSparesTheMainThread(t *testing.T) {
	base := startNice(t)
	real := onMainThread
	var first int
	onMainThread = func() bool {
		if first == 0 {
			first = unix.Gettid()
			return true
		}
		return real()
	}
	defer func() { onMainThread = real }()
	done := make(chan threadInfo)
	Go(PriorityIdle, func(err error) { done <- current(err) })
	r := <-done
	if r.err != nil || r.policy != unix.SCHED_IDLE {
		t.Fatalf("work ran with policy %d (%v), want SCHED_IDLE", r.policy, r.err)
	}
	if r.tid == first {
		t.Fatalf("work ran on the thread taken for the main one (%d)", first)
	}
	b, err := os.ReadFile(filepath.Join("/proc/self/task", strconv.Itoa(first), "stat"))
	if err != nil {
		t.Fatalf("the spared thread %d ended: %v", first, err)
	}
	s, err := parseProcStat(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.nice != base {
		t.Errorf("the spared thread %d runs at nice %d, want %d as it was", first, s.nice, base)
	}
	waitThreadGone(t, r.tid)
}

func TestSetThreadPriorityNeverRaises(t *testing.T) {
	done := make(chan threadInfo)
	go func() {
		runtime.LockOSThread() // exits locked: the thread ends with it
		if err := unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 15); err != nil {
			done <- threadInfo{err: err}
			return
		}
		done <- current(setThreadPriority(PriorityLow))
	}()
	if r := <-done; r.err != nil || r.nice != 15 {
		t.Fatalf("a thread at nice 15 asked for low: nice %d (%v), want 15 kept", r.nice, r.err)
	}
}
