//go:build !linux

package bench

import "time"

// threadCPU cannot read a thread's CPU time on this system.
func threadCPU() (time.Duration, bool) { return 0, false }

// processCPU cannot read a process's CPU time on this system.
func processCPU(int) (time.Duration, bool) { return 0, false }

// selfCPU cannot read the process's CPU time on this system.
func selfCPU() (time.Duration, bool) { return 0, false }
