package guest

import "runtime"

// The test binary's main goroutine keeps the main thread to itself, so that
// no test goroutine ever runs there: TestGoSparesTheMainThread pretends
// another thread is the main one, and a goroutine of Go's that landed on the
// real one would be lowered and kept (the runtime never ends the main
// thread). Locking in an init function makes main run on the main thread.
func init() { runtime.LockOSThread() }
