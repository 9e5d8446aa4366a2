//go:build !linux

package bench

import "os"

// peakRSS returns 0: the unit of the maximum resident set size differs
// between systems, and only Linux's is known here.
func peakRSS(*os.ProcessState) int64 { return 0 }

// liveHWM returns 0: a running process's peak is read from Linux's /proc.
func liveHWM(int) int64 { return 0 }
