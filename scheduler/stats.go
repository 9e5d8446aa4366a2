package scheduler

import (
	"fmt"
	"image"
	"strconv"
	"time"

	"tessera/discovery"
	"tessera/protocol"
	"tessera/render"
)

// Progress is reported after tiles arrive (at most every ProgressInterval)
// and once at the end.
type Progress struct {
	Done    int           // tiles in the image (for an animation, of every frame)
	Total   int           // tiles in all (of every frame)
	Rays    uint64        // rays of the tiles in the image
	Live    int           // nodes at work: remote connections, plus the in-process node when it runs
	Elapsed time.Duration // since Run started
	Nodes   []NodeStats   // every node known so far, with its State (a fresh slice each call)

	FramesDone int // frames written (a still: 1 once done)
	Frames     int // frames in all (a still: 1)
	Frame      int // an animation's earliest frame not written yet (the one the preview shows); -1 for a still or when all are written

	// A progressive render's pass under way (1 for the first; 0 when not
	// progressive) of the frame's Passes at most, ending at SPP samples.
	Pass, Passes, SPP int
}

// ProgressInterval is the shortest time between two OnProgress calls.
const ProgressInterval = 100 * time.Millisecond

// TileEvent is a tile written into the image: Pixels as RenderTile writes
// them (linear RGB, row-major). The receiver may keep Pixels but must not
// modify them.
type TileEvent struct {
	Rect   image.Rectangle
	Pixels []float32
	NodeID string
	Frame  int // the animation's frame it belongs to; -1 for a still
}

// FrameEvent is a frame of an animation, written: every tile is in and no
// check of them is pending. The receiver owns Image. A frame may come again
// (a node that rendered part of it was caught lying: it is rendered anew);
// the later one is right.
type FrameEvent struct {
	Frame int
	Image *render.Image
	Stats FrameStats
}

// Result is what Run returns, also when it fails: the image with every tile
// rendered so far (missing ones black), the stats, and how many tiles are
// missing. For an animation Image is nil (each frame went to OnFrame);
// Partial holds the frames begun and not finished, with their images as far
// as they got.
type Result struct {
	Image         *render.Image
	Stats         Stats
	Missing       int // tiles
	MissingFrames int // an animation's frames not written
	Partial       []FrameEvent
	// Samples is a progressive still's samples per pixel (the count in
	// every channel); nil otherwise.
	Samples *render.Image
}

// FrameStats is one frame of an animation in the stats.
type FrameStats struct {
	Frame   int     `json:"frame"`
	Tiles   int     `json:"tiles"`
	Rays    uint64  `json:"rays"`
	Seconds float64 `json:"seconds"`       // from the frame's first tile handed out to its last one in
	DoneAt  float64 `json:"doneAtSeconds"` // when it was written, since the render started
}

// Stats is the -stats JSON of tessera render: SPEC's fields, plus the
// mismatches found by comparing pixels and, per node, its failures and why it
// was excluded.
type Stats struct {
	WallSeconds   float64 `json:"wallSeconds"`
	Width         int     `json:"width"`
	Height        int     `json:"height"`
	SPP           int     `json:"spp"`
	Tiles         int     `json:"tiles"`
	Samples       int64   `json:"samples"`       // width * height * spp; a progressive render's: every pixel's samples summed
	Rays          uint64  `json:"rays"`          // of the tiles in the image
	RaysPerSecond float64 `json:"raysPerSecond"` // rays / wallSeconds
	Retries       int     `json:"retries"`       // tiles handed out again after a lease was lost
	Duplicates    int     `json:"duplicates"`    // endgame copies of outstanding tiles
	TakenBack     int     `json:"takenBack"`     // tiles queued on a node, not started, moved to an idle one
	Mismatches    int     `json:"mismatches"`    // nodes found returning wrong pixels (by a check, an audit or a duplicate; each is excluded at its first)
	// The checks of the nodes' pixels (see AuditPolicy): spot checks and
	// full audits with a verdict, the audits of them rendered by another
	// node, the pixels every check rendered (their share of the image's is
	// the work they added), the time the controller's checkers spent
	// rendering, and how long the render waited for checks after its last
	// tile was in the image.
	SpotChecks       int          `json:"spotChecks"`
	Audits           int          `json:"audits"`
	AuditsByNodes    int          `json:"auditsByNodes"`
	CheckPixels      int64        `json:"checkPixels"`
	CheckSeconds     float64      `json:"checkSeconds"`
	AuditWaitSeconds float64      `json:"auditWaitSeconds"`
	BytesSent        int64        `json:"bytesSent"`
	BytesReceived    int64        `json:"bytesReceived"`
	Frames           []FrameStats `json:"frames,omitempty"` // an animation's frames, in the order they were written
	// A progressive render's passes, in the order they were written, and
	// a still's samples per pixel: the fewest, the median and the most.
	Passes    []PassStats `json:"passes,omitempty"`
	SPPMin    int         `json:"sppMin,omitempty"`
	SPPMedian int         `json:"sppMedian,omitempty"`
	SPPMax    int         `json:"sppMax,omitempty"`
	// Restarts counts the times a progressive frame (a still, or a frame
	// of an animation) was rendered again from its first pass: a node
	// caught lying had rendered part of a pass already added up.
	Restarts int         `json:"restarts,omitempty"`
	Nodes    []NodeStats `json:"nodes"`
}

// NodeStats is one node's part of a render.
type NodeStats struct {
	ID       string           `json:"id"`
	Name     string           `json:"name"`
	Addr     string           `json:"addr"`
	Source   discovery.Source `json:"source"`             // how it was found: mdns, registry, flag or local
	Tiles    int              `json:"tiles"`              // tiles of the final image it rendered
	Rays     uint64           `json:"rays"`               // rays of those tiles
	Seconds  float64          `json:"seconds"`            // render time it reported, over every result it sent
	Failures int              `json:"failures,omitempty"` // disconnects with work, timeouts, bad results, job errors
	// Suspensions counts the times it was set aside (NodeSuspended) for
	// lateness or lost connections.
	Suspensions int       `json:"suspensions,omitempty"`
	Excluded    string    `json:"excluded,omitempty"` // why it was excluded, if it was
	State       NodeState `json:"state"`              // at the time of the snapshot
	// HandedBack counts the tiles the node gave back unfinished because it
	// paused or was shutting down: re-queued elsewhere (they count in
	// Retries), never a failure.
	HandedBack int `json:"handedBack,omitempty"`
	// The checks of its results: spot checks and full audits with a
	// verdict, those audited in full, and where it stands (untrusted,
	// trusted, distrusted; empty for the in-process node or with checks
	// off).
	Checked int   `json:"checked"`
	Audited int   `json:"audited"`
	Trust   Trust `json:"trust,omitempty"`
}

// NodeState is where a node stands in a render. The controller keeps one
// per node and changes it in one place; the moves it allows:
//
//	NodeConnecting -> NodeWorking     the handshake proved a node that may render
//	NodeConnecting -> NodeLost        the dial or the handshake failed: it is dialled again after a backoff
//	NodeWorking    -> NodeLost        its connection ended or stopped answering: its tiles are re-queued
//	NodeWorking    -> NodePaused*     the node says it is paused (a Pong's state, or Error paused):
//	                                  it gets no tile, its tiles come back and are re-queued, no failure
//	NodePaused*    -> NodePaused*     it is paused for another reason now
//	NodePaused*    -> NodeWorking     a Pong says it is ready again: tiles over the same connection
//	NodePaused*    -> NodeLost        its connection ended
//	NodeLost       -> NodeConnecting  dialled again
//	NodeWorking, NodePaused*, NodeLost -> NodeSuspended
//	                                  set aside: its last failures were all lapses (no result in time,
//	                                  silent, connection lost with work), not faults; its tiles are
//	                                  re-queued and it gets none for a backoff that doubles at each
//	                                  suspension (2 s to 1 min); its connection, if any, stays open
//	NodeSuspended  -> NodeWorking     the backoff is over and it answers pings over its connection
//	NodeSuspended  -> NodeConnecting  the backoff is over and it has no connection: dialled again
//	any but NodeExcluded -> NodeExcluded  for the rest of the render (refused, faults, lying, a broken protocol)
//
// NodePaused* is NodePausedBusy, NodePausedSchedule, or NodePaused for a
// reason this controller does not know (protocol.NodeState). The values
// appear in stats JSON and on the preview page by their names
// ("connecting", "working", "lost", "excluded", "paused-busy",
// "paused-schedule", "paused", "suspended").
type NodeState uint8

const (
	NodeConnecting     NodeState = iota // dialing or in the handshake
	NodeWorking                         // connected: it gets tiles
	NodeLost                            // no connection now (it may come back)
	NodeExcluded                        // excluded for the rest of the render
	NodePausedBusy                      // connected, paused while its PC is in use (protocol.StatePausedBusy)
	NodePausedSchedule                  // connected, paused outside its schedule (protocol.StatePausedSchedule)
	NodePaused                          // connected, paused for a reason this version does not know
	NodeSuspended                       // set aside for a while after lapses; tried again after a backoff
)

var nodeStateNames = [...]string{
	NodeConnecting:     "connecting",
	NodeWorking:        "working",
	NodeLost:           "lost",
	NodeExcluded:       "excluded",
	NodePausedBusy:     "paused-busy",
	NodePausedSchedule: "paused-schedule",
	NodePaused:         "paused",
	NodeSuspended:      "suspended",
}

// Paused reports whether st is one of the paused states.
func (st NodeState) Paused() bool {
	return st == NodePausedBusy || st == NodePausedSchedule || st == NodePaused
}

// connected reports whether a node in state st has a session: dialing,
// working or paused.
func (st NodeState) connected() bool { return st == NodeConnecting || st == NodeWorking || st.Paused() }

// pausedState is the NodeState of a node that reports protocol state p,
// which is not ready.
func pausedState(p protocol.NodeState) NodeState {
	switch p {
	case protocol.StatePausedBusy:
		return NodePausedBusy
	case protocol.StatePausedSchedule:
		return NodePausedSchedule
	}
	return NodePaused
}

func (st NodeState) String() string {
	if int(st) < len(nodeStateNames) {
		return nodeStateNames[st]
	}
	return "NodeState(" + strconv.Itoa(int(st)) + ")"
}

// MarshalText writes the state's name.
func (st NodeState) MarshalText() ([]byte, error) { return []byte(st.String()), nil }

// UnmarshalText reads a state's name, so that stats JSON reads back.
func (st *NodeState) UnmarshalText(b []byte) error {
	for i, name := range nodeStateNames {
		if string(b) == name {
			*st = NodeState(i)
			return nil
		}
	}
	return fmt.Errorf("scheduler: unknown node state %q", b)
}
