//go:build !linux && !windows && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package guest

import "fmt"

func goLowered(p Priority, fn func(error)) {
	go fn(fmt.Errorf("guest: priority %v: %w", p, ErrUnsupported))
}

func setProcessPriority(p Priority) (ProcessReport, error) {
	return ProcessReport{}, fmt.Errorf("guest: priority %v: %w", p, ErrUnsupported)
}
