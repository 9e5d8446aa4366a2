package bench

import (
	"runtime"
	"testing"
	"time"
)

// TestThreadCPUAdvances: the thread's CPU time grows while it works (the
// clock's resolution may be a few milliseconds, hence the loop).
func TestThreadCPUAdvances(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, ok := threadCPU()
	if !ok {
		t.Fatal("cannot read the thread's CPU time on Linux")
	}
	deadline := time.Now().Add(10 * time.Second)
	x := 1.0
	for {
		for range 100000 {
			x = x*1.0000001 + 1e-9
		}
		if now, _ := threadCPU(); now > start {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the thread's CPU time stayed at %v for 10 s of work (x=%v)", start, x)
		}
	}
}
