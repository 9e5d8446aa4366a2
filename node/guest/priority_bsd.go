//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package guest

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// These systems have no per-thread nice value: setpriority(2) sets the
// whole process's, network goroutines included. Their schedulers decay the
// priority of CPU-bound threads rather than starving low ones, so those
// goroutines still answer in time.

var processNice struct {
	once sync.Once
	err  error
}

func goLowered(p Priority, fn func(error)) {
	_, err := setProcessPriority(p)
	go fn(err)
}

func setProcessPriority(p Priority) (ProcessReport, error) {
	processNice.once.Do(func() {
		// getpriority(2) returns the nice value itself here. Never raise a
		// process that runs lower already.
		cur, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
		if err == nil && cur >= p.nice() {
			return
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, 0, p.nice()); err != nil {
			processNice.err = fmt.Errorf("guest: nice %d: %w", p.nice(), err)
		}
	})
	if processNice.err != nil {
		return ProcessReport{}, processNice.err
	}
	return ProcessReport{Done: fmt.Sprintf("process at nice %d", p.nice())}, nil
}
