package guest

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

func goLowered(p Priority, fn func(error)) {
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if !onMainThread() {
			fn(setThreadPriority(p))
			return
		}
		// This is the main thread. Hold it while a second goroutine starts:
		// it cannot run here, so it locks another thread, and then the main
		// thread goes back to the runtime unlowered.
		locked := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(locked)
			fn(setThreadPriority(p))
		}()
		<-locked
		runtime.UnlockOSThread()
	}()
}

// onMainThread reports whether the calling goroutine, locked, runs on the
// process's main thread. A variable for tests.
var onMainThread = func() bool { return unix.Gettid() == unix.Getpid() }

// setThreadPriority lowers the calling thread, which the caller has
// locked.
func setThreadPriority(p Priority) error {
	tid := unix.Gettid()
	// The raw getpriority(2) answers 20 - nice. Never raise a thread that
	// runs lower already (nice -n 19 tessera node -priority low): an
	// unprivileged process may not, and the person asked for less.
	raw, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return fmt.Errorf("guest: getpriority of thread %d: %w", tid, err)
	}
	nice := max(20-raw, p.nice())
	if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil {
		return fmt.Errorf("guest: nice %d for thread %d: %w", nice, tid, err)
	}
	if p == PriorityIdle {
		// The nice value stays as set: sched_setattr ignores sched_nice
		// for SCHED_IDLE (every idle thread weighs the same), but tools
		// such as top show it.
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE, Nice: int32(nice)}
		if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
			return fmt.Errorf("guest: SCHED_IDLE for thread %d: %w", tid, err)
		}
	}
	return nil
}

// threadPolicy returns the calling thread's scheduling policy and nice
// value, for tests and the bench.
func threadPolicy() (policy int, nice int, err error) {
	attr, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return 0, 0, err
	}
	return int(attr.Policy), int(attr.Nice), nil
}

func setProcessPriority(p Priority) (ProcessReport, error) {
	return lowerAutogroup(procFS("/proc"), p.nice())
}
