package protocol

import "fmt"

// NodeState says whether a node takes tiles now, and if not, why. A node
// reports it in every Pong (key "st"); discovery carries it in mDNS TXT
// (state=) and in registry records (state). The values are wire format:
// append only. A receiver treats a state it does not know as "not ready".
type NodeState string

const (
	// StateReady: the node takes tiles. An empty state (a node of an older
	// version) means the same.
	StateReady NodeState = "ready"
	// StatePausedBusy: other programs use the PC's CPU (the node's -yield
	// threshold); the node hands its tiles back and takes none until the
	// PC has been quiet for a while.
	StatePausedBusy NodeState = "paused-busy"
	// StatePausedSchedule: outside the node's -schedule windows.
	StatePausedSchedule NodeState = "paused-schedule"
)

// NodeStates lists the states this version knows.
var NodeStates = []NodeState{StateReady, StatePausedBusy, StatePausedSchedule}

// Ready reports whether a node in state s takes tiles: s is StateReady or
// empty.
func (s NodeState) Ready() bool { return s == StateReady || s == "" }

// Known reports whether s is one of NodeStates.
func (s NodeState) Known() bool {
	for _, k := range NodeStates {
		if s == k {
			return true
		}
	}
	return false
}

// ParseNodeState returns the known state named s.
func ParseNodeState(s string) (NodeState, error) {
	if st := NodeState(s); st.Known() {
		return st, nil
	}
	return "", fmt.Errorf("unknown node state %q (want ready, paused-busy or paused-schedule)", s)
}
