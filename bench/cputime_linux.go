package bench

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time (user and system) of the calling thread,
// and whether it could be read. The caller locks its goroutine to its thread.
func threadCPU() (time.Duration, bool) {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
