package guest

import (
	"errors"
	"fmt"
)

// Priority is how much CPU the threads that render may take from the other
// programs of the PC.
type Priority uint8

const (
	// PriorityNormal leaves the process as it was started. The zero value,
	// so that a node inside a controller (tessera render, tessera demo)
	// renders at the priority of the person who asked for the image.
	PriorityNormal Priority = iota
	// PriorityLow: nice 10 (Linux, macOS), THREAD_PRIORITY_LOWEST
	// (Windows). Other programs get most of the CPU, the node a share.
	PriorityLow
	// PriorityIdle: nice 19 and the SCHED_IDLE policy (Linux),
	// THREAD_PRIORITY_IDLE (Windows), nice 19 (macOS). The node runs only
	// on CPU time nobody else wants. The default of tessera node.
	PriorityIdle
)

// Nice values of the priorities on Unix.
const (
	niceLow  = 10
	niceIdle = 19
)

// ErrUnsupported: the operating system has no way (that this package knows)
// to do what was asked.
var ErrUnsupported = errors.New("not supported on this system")

// ParsePriority parses "idle", "low" or "normal".
func ParsePriority(s string) (Priority, error) {
	switch s {
	case "idle":
		return PriorityIdle, nil
	case "low":
		return PriorityLow, nil
	case "normal":
		return PriorityNormal, nil
	}
	return 0, fmt.Errorf("unknown priority %q (want idle, low or normal)", s)
}

func (p Priority) String() string {
	switch p {
	case PriorityNormal:
		return "normal"
	case PriorityLow:
		return "low"
	case PriorityIdle:
		return "idle"
	}
	return fmt.Sprintf("Priority(%d)", uint8(p))
}

// nice is p's nice value on Unix.
func (p Priority) nice() int {
	switch p {
	case PriorityLow:
		return niceLow
	case PriorityIdle:
		return niceIdle
	}
	return 0
}

// Go runs fn on a new goroutine whose OS thread runs at priority p, and
// ends that thread when fn returns, so that no other goroutine ever runs at
// the lowered priority and the node's network goroutines keep the
// process's own. fn receives the error of lowering the thread, if any, and
// runs anyway (at the priority it has). With PriorityNormal, Go is the go
// statement.
//
// For any other p the goroutine locks itself to its thread
// (runtime.LockOSThread) and never unlocks: the runtime ends a thread whose
// goroutine exits locked. It never lowers the process's main thread, which
// the runtime keeps to the end and to which Linux delivers the signals that
// stop the node. Lowering a thread needs no privilege. While a lowered
// thread waits for the CPU it keeps its Go P (runtime.GOMAXPROCS), so a
// process whose every P runs a lowered thread cannot run its other
// goroutines until the kernel lets one of those threads on: keep GOMAXPROCS
// above the number of lowered goroutines (the node command does).
//
// On Linux and Windows the priority is the thread's; on macOS and the BSDs,
// which have no per-thread nice value, the first call sets the whole
// process's nice value instead and locks nothing. Elsewhere fn gets an
// error matching ErrUnsupported.
func Go(p Priority, fn func(error)) {
	switch {
	case p == PriorityNormal:
		go fn(nil)
	case p > PriorityIdle:
		go fn(fmt.Errorf("guest: unknown %v", p))
	default:
		goLowered(p, fn)
	}
}

// SetProcessPriority prepares the process for threads of priority p and
// reports, for the log, what it did. Call it once at start, before Go.
//
// On Linux, most desktop kernels group the CPU time by session first
// ("autogroup": each terminal or login session gets an equal share) and
// only then by nice value and policy inside a group, so a SCHED_IDLE node
// started in its own terminal still gets half of the CPU against the
// student's desktop session. SetProcessPriority lowers the nice value of
// the node's autogroup too, when the group holds no other program than the
// node and the processes that started it (a service, a terminal that runs
// only the node, `setsid tessera node`); otherwise it leaves the group alone
// and the note says what to do.
func SetProcessPriority(p Priority) (ProcessReport, error) {
	if p == PriorityNormal {
		return ProcessReport{}, nil
	}
	if p > PriorityIdle {
		return ProcessReport{}, fmt.Errorf("guest: unknown %v", p)
	}
	return setProcessPriority(p)
}

// ProcessReport says what SetProcessPriority did, for the log.
type ProcessReport struct {
	Done    string // what it changed, or ""
	Warning string // what it left as it was although it matters, and what to do instead; or ""
}
