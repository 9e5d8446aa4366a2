// Package preview serves a live web page of a render in progress: the image
// filling in tile by tile, which node rendered which tile, a table of the
// nodes at work, overall progress and ETA, and a link to the finished image.
//
// The controller feeds a Server with plain calls: Tile for each tile result,
// Nodes and Progress whenever its view changes, Finish with the encoded PNG.
// For an animation, Frame says which frame the tiles that follow belong to
// (the page clears the image), FrameDone adds a finished frame to a strip
// of small pictures under the image, and FramesProgress counts frames too.
// The Server is an http.Handler; Serve and Shutdown run it on a listener the
// way net/http does.
//
// Contract:
//
//   - Exact pixels. Tile converts linear float RGB to 8-bit sRGB with
//     render.Image.SRGB, the conversion of the PNG output, and the page puts
//     the bytes on its canvas opaque with putImageData. So once every tile
//     has arrived, the canvas holds exactly the pixels of the PNG.
//   - Never in the way of the render. Every method is safe for concurrent use
//     and returns without waiting for any browser: each browser has a bounded
//     queue of events; when it is full the browser's events are dropped and it
//     is later sent a fresh snapshot instead (a resync). A browser that does
//     not take a write within Config.WriteTimeout is disconnected; its page
//     reconnects by itself and gets a snapshot.
//   - Late joiners see everything. A page opened mid-render (or reconnected)
//     first receives the image size, the node table, the strip of finished
//     frames, the frame shown and every tile of it done so far, the progress
//     and, when finished, the link to the image.
//   - Offline. The page, its script and its style sheet are embedded in the
//     binary; it loads nothing from any other host (its Content-Security-Policy
//     forbids it), so it works on a LAN with no internet.
//
// The page talks to the Server with server-sent events on GET /events; each
// event is one line of JSON. Events, in the order a snapshot sends them:
//
//	hello    {"render","width","height","title"}        render: an id of this Server
//	nodes    {"nodes":[{"id","name","addr","source","tiles","mraysPerSec","state","colour"}]}
//	strip    {"frame","png"}                           an animation's finished frame, small; png: base64
//	frame    {"frame"}                                 an animation's frame the tiles that follow are of: clear the image
//	tile     {"x","y","w","h","node","colour","rgb"}   rgb: base64 of w*h*3 sRGB bytes, row-major
//	progress {"done","total","rays","etaSeconds","framesDone","frames"}  etaSeconds < 0: unknown; frames 0: a still
//	finished {"url","bytes"}
//
// A page keeps what it has painted across a resync or a reconnection to the
// same render, and starts afresh when "render" changes. "colour" is a small
// stable index per node (in order of first sight) that the
// page maps to a colour for the tile overlay and its legend.
//
// Routes: GET / (the page), GET /assets/ (script and style sheet),
// GET /events, GET /image.png (404 until Finish).
package preview
