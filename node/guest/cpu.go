package guest

import "time"

// CPUSample is one reading of the machine's CPU time counters, every CPU
// summed, since some fixed moment (boot). Only differences between two
// samples mean anything.
type CPUSample struct {
	Total time.Duration // time of every CPU, idle included (time stolen by a hypervisor excluded)
	Busy  time.Duration // of Total, the time the CPUs were not idle
	Own   time.Duration // of Busy, the time this process ran
}

// CPUSource reads the CPU counters. Read is called from one goroutine at
// a time.
type CPUSource interface {
	Read() (CPUSample, error)
}

// OtherShare returns the share of the machine's CPU that other programs
// than this process used between samples a and b, in [0, 1], and false
// when no time passed between them.
func OtherShare(a, b CPUSample) (float64, bool) {
	total := b.Total - a.Total
	if total <= 0 {
		return 0, false
	}
	other := (b.Busy - a.Busy) - (b.Own - a.Own)
	return min(max(float64(other)/float64(total), 0), 1), true
}

// SystemCPU returns the operating system's CPU counters: /proc/stat and
// /proc/self/stat on Linux, GetSystemTimes and GetProcessTimes on Windows.
// Elsewhere it returns ErrUnsupported.
func SystemCPU() (CPUSource, error) { return systemCPU() }
