// Package scheduler is tessera's controller: it decides who renders what.
// A Controller cuts an image into tiles, hands them to nodes (package node
// runs them) and puts the results together.
//
// A Controller renders one image. Tiles are queued centre outwards (a good
// preview). Each node connection holds a window of tiles in flight: what the
// node can start soon, not a hoard. It starts at twice its cores, then is
// its cores plus the tiles it renders in two round trips at its pace (the
// time between its results by the controller's clock while every worker is
// busy, or the render times it reports if those are longer), so that the
// network latency is hidden and queued tiles wait no longer than that; it
// grows by half at most per result. Tiles queued at the controller go to
// the sessions that want them round robin, one at a time, so a node that
// joins mid-render gets its share of the rest at once.
//
// Every tile is handed out under a lease: a job id unique to the render and
// the tile's epoch. A result is accepted only for a live lease whose epoch is
// the tile's current epoch; anything else is dropped as stale. A tile's pixels
// are written into the image when its first valid result arrives, and never
// again, with one exception: pixels later proven wrong (see Trust) are
// replaced by the right ones.
//
// A node that disconnects, stops answering pings, returns an error, returns a
// result of the wrong size, or makes no progress within a deadline derived
// from its own measured speed has its tiles re-queued at once (the front of
// the queue) with a new epoch. Silence and lateness are judged at two ticks
// in a row, and a result read off the connection counts before the loop has
// handled it, so that a controller starved of CPU does not blame its nodes.
// Failures are lapses (late, silent, its connection lost with work: a
// network blip, a busy PC) or faults (a wrong result, a job refused). After
// a few in a row a node is suspended if they were all lapses: it gets no
// tile for a backoff that doubles at each suspension (2 s to a minute), is
// dialled again if it has no connection, and takes tiles again once it
// answers pings; with a fault among them it is excluded for the rest of
// the render. A node that speaks garbage or lies is excluded at once.
//
// Endgame: when the queue is empty and a node has an idle worker, it gets a
// tile outstanding elsewhere, from the node expected to finish its tiles
// last (a heap by expected finish time: no decision scans every node), the
// tile that node was given last and would render last. If that tile is
// queued there and would start later than a round trip from now, it is
// taken back (Cancel, a new epoch) and moved; otherwise it is copied, at
// most two copies at a time: the first result wins; when the second copy
// arrives the two are compared bit for bit.
//
// Trust. The controller holds the scene, so its own render of a tile is the
// reference. Every result of a remote node is checked (AuditPolicy, drawn
// from a generator seeded by Config.AuditSeed): spot-checked, a few of its
// pixels rendered in-process (about 1% of the work), which catches a tile
// wrong in more than a few pixels at its first occurrence; or audited in
// full, the whole tile rendered again, which is what catches a single wrong
// value. A node is untrusted until it has returned AuditPolicy.FullRun
// results, each audited in full; then the n-th result of its run is audited
// with probability (FullRun/n)^2, never less than Floor, so that a node's
// audits cost about 2*FullRun tiles whatever its share of the image. A
// tile with a NaN or an infinity in it is refused at once.
//
// Checks run off the loop: on a pool of checker goroutines (one a core),
// and, for full audits, on any node with an idle worker, never the tile's
// own node, which is how the audits left at the end of a render are done
// all at once. A mismatch between two nodes (an audit by another node, or
// two copies of a duplicated tile) is arbitrated by a render in-process.
// A node found wrong is distrusted: excluded, and every tile it contributed
// cleared from the image and rendered again. The render ends only when no
// check is pending, so the final image equals the local render whatever a
// node caught lying did; a node that changes a single value now and then is
// caught only when that tile is audited in full. Checks run in-process even
// with Local 0: they verify, they do not render the image.
//
// Nodes may be added at any time (AddNode); the id proven in the handshake
// deduplicates nodes that arrive by several routes. A node that leaves is
// noticed by its connection (it closes, or stops answering pings), never by
// what discovery says.
// The scene is sent once per connection. With Local set to LocalAuto an
// in-process node starts when no remote node is at work after Discover, or
// when every remote node is lost.
//
// Progressive renders (Config.Progressive, ctl_passes.go): each frame is
// rendered in passes (render.PassEnds), each pass a unit of the frames'
// queue whose tiles carry the pass's sample range and a mask of the pixels
// still taking samples; a pass opens once the one before it is written
// (its tiles and masks come from the render.Film of the passes before it,
// which only the controller holds and decides on), a tile whose pixels
// have all stopped is not sent, and a pass is written, its sums added to
// the film, once its tiles are in and checked. So the image after every
// pass is whole and exact, and the same whatever nodes rendered it. A
// budget (Config.Budget) ends the render when the next pass is not
// expected to end within it. A node caught lying after a pass it rendered
// part of was added to the film (a wrong value past a spot check) makes
// its frame (the still, or that frame of an animation; the others are
// untouched) render again from its first pass (Stats.Restarts), since the
// passes after it were decided from it; a frame already handed to OnFrame
// is handed to it anew, as a fixed render's frame is.
//
// State. The loop goroutine of Run owns every piece of a render's state.
// Each node has one NodeState (connecting, working, lost, paused,
// suspended, excluded) and each
// of its connections one session state (dialing, live, closed); the moves
// allowed are listed beside the types, and each kind of state changes in one
// function only. When the loop ends, the statistics are taken once;
// cancelling what nodes still hold and closing the connections comes after
// and changes nothing that is reported.
//
// The controller prints nothing: logs go to the zerolog.Logger of the
// Config.
package scheduler
