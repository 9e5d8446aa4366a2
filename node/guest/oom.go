package guest

// OOMScoreAdj is the oom_score_adj a node gives itself on Linux: the
// largest, so that when memory runs out the kernel kills the node (which a
// controller replaces by re-queueing its tiles) before any program of the
// person at the PC.
const OOMScoreAdj = 1000

// RaiseOOMScore makes the kernel's out-of-memory killer pick this process
// first (Linux: /proc/self/oom_score_adj raised to OOMScoreAdj; raising
// needs no privilege). It never lowers a score that is higher already. It
// returns the score now in force. Elsewhere it returns ErrUnsupported.
func RaiseOOMScore() (int, error) { return raiseOOMScore(OOMScoreAdj) }
