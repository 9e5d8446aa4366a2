package guest

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/windows"
)

// Thread priorities of SetThreadPriority (winbase.h). THREAD_PRIORITY_IDLE
// gives a thread of a normal-class process base priority 1, below every
// thread of an IDLE_PRIORITY_CLASS process (4): the lowest there is
// short of the zero-page thread. The node lowers its rendering threads
// rather than the whole process (IDLE_PRIORITY_CLASS) so that its network
// threads keep answering pings and registry heartbeats while a foreground
// program takes the CPU; Linux does the same per thread.
const (
	threadPriorityLowest = -2
	threadPriorityIdle   = -15
)

var procSetThreadPriority = windows.NewLazySystemDLL("kernel32.dll").NewProc("SetThreadPriority")

func goLowered(p Priority, fn func(error)) {
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		fn(setThreadPriority(p))
	}()
}

func setThreadPriority(p Priority) error {
	prio := threadPriorityLowest
	if p == PriorityIdle {
		prio = threadPriorityIdle
	}
	if err := procSetThreadPriority.Find(); err != nil {
		return fmt.Errorf("guest: SetThreadPriority: %w", err)
	}
	ok, _, err := procSetThreadPriority.Call(uintptr(windows.CurrentThread()), uintptr(prio))
	if ok == 0 {
		return fmt.Errorf("guest: SetThreadPriority(%d): %w", prio, err)
	}
	return nil
}

func setProcessPriority(Priority) (ProcessReport, error) { return ProcessReport{}, nil }
