// Package bench measures tessera on the machines it runs on: how fast one
// core renders, what N nodes buy, what the network costs, how much the
// scheduler itself costs, and how long discovery takes. It is the logic
// behind `tessera bench`; the command only parses flags and prints.
//
// Run executes the sections of a suite in order and returns a Report:
//
//   - kernel: rays per second per core on the cornell, bunny and spheres
//     scenes (and the -scene file when it is another), one goroutine locked
//     to its thread, in this process, with render.Scene.RenderTile. Where the
//     thread's CPU time can be read (Linux), rays per CPU-second too, which a
//     shared machine disturbs less.
//   - scaling: the same image rendered by 1..N nodes through a
//     scheduler.Controller with no in-process node; speedup against one node
//     and efficiency (speedup / nodes). The nodes are `tessera node`
//     processes that Run starts on 127.0.0.1 (Config.Spawn, always with
//     -no-mdns) or real ones (Config.Nodes, Config.Registry).
//   - overhead: the same workers in-process and behind one loopback node
//     process: the ratio of their wall times (in-process / loopback), bytes on
//     the wire per pixel (both directions, every frame, the scene included),
//     and the tile round trip p50/p99: from the TileJob frame handed to the
//     connection to its TileResult read back, as the controller sees it
//     (queueing on the node included: a node holds about twice its workers in
//     tiles). Beside the wall times it reports the render time the workers
//     themselves measured, and the ratio the two sides would have at equal
//     render speed, which separates the system's cost from a machine whose
//     speed drifts from one render to the next.
//   - scheduling: tiles per second through the whole path (queue, frames, a
//     node process, results) for a trivial scene at one sample per pixel in
//     4x4 tiles, which isolates the system's own cost.
//   - discovery: seconds from starting a node process with -registry to its
//     record listed by an in-process discovery.Registry, and until a
//     discovery.Watcher polling that registry as `tessera render` does (every
//     second) reports it.
//   - security: what sealed frames cost. The main scene rendered on one
//     loopback node process with a token (every frame after the handshake
//     sealed with AES-256-GCM) and on one without, back to back: the
//     sealed render's extra wall time (and the same at equal render
//     speed), and the bytes sealing adds to each frame, counted on the
//     controller's connections in one more render. Then what the
//     controller's checks of the nodes' pixels cost (scheduler.AuditPolicy):
//     the main scene in tiles of half the usual side on an honest room of
//     two loopback nodes, with the checks and without, back to back: the
//     wall times, the pixels the checks rendered over the image's (the
//     figure the 5% target is checked against), the controller's CPU time
//     they added over the room's, and the wait at the end. Every other
//     section renders with the checks off, so that it measures
//     distribution alone.
//   - mesh: a displaced sphere of a million triangles (Workload.MeshTriangles,
//     SphereOBJ) written as OBJ into a temporary directory and put where
//     bunny.json has the bunny: the peak resident memory of `tessera render`
//     rendering it in one process, of a `tessera node` rendering it for a
//     controller and of that controller; the time to load it (parse and
//     build, render.Scene.Stats for the BVH's share) with GOMAXPROCS 1,
//     in wall time and in the process's CPU time (which the target is
//     checked against), and with every core; and its rays per second on
//     one core against the
//     bunny's, rendered in turn (the ratio of their rates per CPU-second of
//     the rendering thread where that can be read).
//
// Every section is repeated Config.Runs times and the medians are reported.
// Ratios (speedup, overhead ratio) are medians of the ratios measured within
// each run, whose renders run back to back, so that the noise of a shared
// machine falls on both sides alike.
//
// Spawned processes are always stopped before Run returns, on success, error
// or cancellation: SIGINT first, then a kill after a few seconds. Nothing is
// ever multicast. Run never prints: progress goes to Config.Logger, and
// Report.WriteText formats the table for whoever prints it.
package bench
