// Package guest makes a node a polite guest on a PC that belongs to the
// person sitting at it: the lowest CPU priority for the threads that render,
// an out-of-memory score that makes the kernel kill the node before the
// person's programs, the hours the node may work (a Schedule), and a watch on
// other programs' CPU use that tells the node to step aside while the PC is
// in use (Yield).
//
// What is OS-specific sits in files with build tags: priorities and the
// OOM score per OS, the CPU counters on Linux (/proc/stat) and Windows
// (GetSystemTimes). Everything else is plain logic with its clock and its
// CPU counters injected, so that the tests drive hours and seconds of
// behaviour without waiting for them.
//
// The package decides nothing about tiles: a Watcher reports a
// protocol.NodeState, and the node hands its work back and stops taking
// more while that state is not ready.
package guest
