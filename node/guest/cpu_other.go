//go:build !linux && !windows

package guest

import (
	"fmt"
	"runtime"
)

func systemCPU() (CPUSource, error) {
	return nil, fmt.Errorf("guest: measuring other programs' CPU use on %s: %w", runtime.GOOS, ErrUnsupported)
}
