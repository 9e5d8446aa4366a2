package bench

// Report is the result of a suite: `tessera bench -json` writes it as is.
// A section that was not run (Config.Only) is null, or an empty list.
type Report struct {
	Machine    Machine     `json:"machine"`
	Method     Method      `json:"method"`
	Kernel     []Kernel    `json:"kernel"`
	Scaling    []Scaling   `json:"scaling"`
	Overhead   *Overhead   `json:"overhead"`
	Scheduling *Scheduling `json:"scheduling"`
	Discovery  *Discovery  `json:"discovery"`
	Security   *Security   `json:"security"`
	Polite     *Polite     `json:"polite"`
	Mesh       *Mesh       `json:"mesh"`
	Animation  *Animation  `json:"animation"`
	Watchers   *Watchers   `json:"watchers"`
	Scale      *Scale      `json:"scale"`
}

// Machine describes where the suite ran.
type Machine struct {
	CPUs        int     `json:"cpus"`
	GOOS        string  `json:"goos"`
	GOARCH      string  `json:"goarch"`
	Version     string  `json:"version"`   // tessera's
	GoVersion   string  `json:"goVersion"` // the Go release it was built with
	Model       string  `json:"model,omitempty"`
	LoadAverage float64 `json:"loadAverage"` // 1-minute load average as the suite started; -1 where unknown
}

// Method says how the figures were obtained.
type Method struct {
	Runs    int       `json:"runs"` // repetitions of each section; figures are medians
	Quick   bool      `json:"quick"`
	Scene   string    `json:"scene"` // of the scaling and overhead renders
	Workers int       `json:"workers"`
	Nodes   string    `json:"nodes"` // "spawned" or "real"
	Work    WorkSizes `json:"workload"`
	Seconds float64   `json:"seconds"` // the whole suite
}

// WorkSizes are the sizes measured, as WIDTHxHEIGHTxSPP (tiles: side).
type WorkSizes struct {
	Kernel     string `json:"kernel"`
	Render     string `json:"render"`
	Tile       int    `json:"tile"`
	Scheduling string `json:"scheduling"`
	SchedTile  int    `json:"schedulingTile"`
}

// Kernel is one scene's kernel speed on one core (medians).
type Kernel struct {
	Scene                string  `json:"scene"`
	RaysPerSecondPerCore float64 `json:"raysPerSecondPerCore"`
	SamplesPerSecond     float64 `json:"samplesPerSecond"`
	// RaysPerCPUSecond divides by the thread's CPU time instead of the wall
	// time; 0 where that cannot be read.
	RaysPerCPUSecond float64 `json:"raysPerCPUSecond"`
	RaysPerSample    float64 `json:"raysPerSample"`
}

// Scaling is one render on Nodes nodes (medians).
type Scaling struct {
	Nodes          int     `json:"nodes"`
	WorkersPerNode int     `json:"workersPerNode"` // 0 when the nodes differ
	WallSeconds    float64 `json:"wallSeconds"`
	Speedup        float64 `json:"speedup"`    // against one node
	Efficiency     float64 `json:"efficiency"` // speedup / nodes
	RaysPerSecond  float64 `json:"raysPerSecond"`
	NodesUsed      int     `json:"nodesUsed"` // nodes that rendered tiles of the image, least over the runs
	// Busy is the share of the wall time the nodes' workers spent
	// rendering (their reported render time / (workers x wall time)): below
	// 1 they waited for work or for the end; a speedup under nodes x Busy
	// means the renders themselves ran slower.
	Busy float64 `json:"busy"`
}

// Overhead compares the same workers in-process and behind one loopback
// node (medians).
type Overhead struct {
	Workers          int     `json:"workers"`
	InProcessSeconds float64 `json:"inProcessSeconds"`
	LoopbackSeconds  float64 `json:"loopbackSeconds"`
	Ratio            float64 `json:"ratio"`         // inProcessSeconds / loopbackSeconds; 1 means distribution is free
	BytesPerPixel    float64 `json:"bytesPerPixel"` // both directions, every frame, per image pixel
	TileLatencyP50Ms float64 `json:"tileLatencyP50Ms"`
	TileLatencyP99Ms float64 `json:"tileLatencyP99Ms"`
	TileRenderP50Ms  float64 `json:"tileRenderP50Ms"` // the node's own render time of a tile, for comparison
	// The render time the workers reported, summed over the tiles: what
	// the wall times would be with no cost but rendering. A gap between
	// them means the renders themselves ran slower, not the system.
	InProcessRenderSeconds float64 `json:"inProcessRenderSeconds"`
	LoopbackRenderSeconds  float64 `json:"loopbackRenderSeconds"`
	// RatioAtEqualSpeed is the ratio the two would have if their tiles
	// rendered equally fast: (loopback render / loopback wall) / (in-process
	// render / in-process wall). It isolates what the protocol and the
	// scheduling cost from a machine whose speed drifts between renders.
	RatioAtEqualSpeed float64 `json:"ratioAtEqualSpeed"`
	SceneBytes        int64   `json:"sceneBytes"` // of the bundle sent to the node, included in bytesPerPixel
}

// Scheduling is the system's own throughput (medians).
type Scheduling struct {
	TilesPerSecond float64 `json:"tilesPerSecond"`
	Tiles          int     `json:"tiles"`
	Workers        int     `json:"workers"` // of the node
}

// Discovery is how long a node takes to appear through a registry
// (medians), from the start of its process.
type Discovery struct {
	RegistrySeconds float64 `json:"registrySeconds"` // until the registry lists it
	WatcherSeconds  float64 `json:"watcherSeconds"`  // until a controller's watcher, polling every second, reports it
}

// Security is what protecting the room costs (medians).
type Security struct {
	Sealing *Sealing `json:"sealing"`
	Audits  *Audits  `json:"audits"`
}

// Audits compares the same render on an honest room of two loopback nodes
// with the controller's checks of their pixels (spot checks and audits by
// trust) and without.
type Audits struct {
	Nodes      int     `json:"nodes"`
	Workers    int     `json:"workers"` // of each node
	Tile       int     `json:"tile"`
	Tiles      int     `json:"tiles"`
	OffSeconds float64 `json:"offSeconds"`
	OnSeconds  float64 `json:"onSeconds"`
	// Cost is on / off - 1, the median of the runs' ratios.
	Cost float64 `json:"cost"`
	// Work is the pixels the checks rendered over the image's: the share
	// of work they add (a check renders its pixels as the node did), which
	// the target (at most 5%) is checked against, since the wall times of
	// two renders on a shared machine differ by more than that. CheckTime
	// is the time the controller's checkers spent rendering over the
	// nodes' render time, both wall clock and so inflated alike by a loaded
	// machine (roughly: the checkers run in the controller's process).
	Work      float64 `json:"work"`
	CheckTime float64 `json:"checkTime"`
	// CPUCost is the CPU time the checks added to the controller's
	// process (with checks minus without) over the CPU time of the
	// controller and the nodes without checks: the work added, measured
	// where it happens (median of the runs; 0 where it cannot be read).
	CPUCost float64 `json:"cpuCost"`
	// Of the last render with checks: full audits, spot checks, audits
	// rendered by a node rather than in-process; and (median) how long the
	// render waited for checks after its last tile.
	Audits           int     `json:"audits"`
	SpotChecks       int     `json:"spotChecks"`
	AuditsByNodes    int     `json:"auditsByNodes"`
	AuditWaitSeconds float64 `json:"auditWaitSeconds"`
}

// Sealing compares the same render on one loopback node with a token
// (every frame sealed) and on one without, back to back.
type Sealing struct {
	Workers       int     `json:"workers"`
	PlainSeconds  float64 `json:"plainSeconds"`
	SealedSeconds float64 `json:"sealedSeconds"`
	// Cost is sealed / plain - 1, the median of the runs' ratios: 0.01
	// is 1% longer with sealed frames.
	Cost float64 `json:"cost"`
	// CostAtEqualSpeed is the same at equal render speed: (plain render /
	// plain wall) / (sealed render / sealed wall) - 1, which removes a
	// machine whose speed drifts between the two renders. The target (under
	// 1%) is checked against it.
	CostAtEqualSpeed float64 `json:"costAtEqualSpeed"`
	Tiles            int     `json:"tiles"`
	// Frames crossed per render (both ways, handshakes included), and the
	// bytes sealing added to each, measured: sealed bytes - plain bytes,
	// over the sealed render's frames.
	Frames        int64   `json:"frames"`
	BytesPerFrame float64 `json:"bytesPerFrame"`
}

// Polite is what a node costs the person at the PC (issue 15): a CPU-bound
// program, one loop per CPU in the bench's own process, alone and beside a
// node process (in a session of its own) rendering at each -priority.
type Polite struct {
	Seconds float64     `json:"seconds"` // each measurement's window
	Loops   int         `json:"loops"`   // the foreground program's loops, one per CPU
	Rows    []PoliteRow `json:"rows"`    // in the order of PoliteBeside
}

// PoliteRow is the foreground program beside one thing (medians).
type PoliteRow struct {
	Beside         string  `json:"beside"`         // "nothing", or the node's -priority: idle (the default), low, normal
	LoopsPerSecond float64 `json:"loopsPerSecond"` // the foreground's loop steps per second, all loops summed
	// Ratio is LoopsPerSecond against the same run's measurement beside
	// nothing: 1 means the node cost the foreground nothing.
	Ratio             float64 `json:"ratio"`
	NodeRaysPerSecond float64 `json:"nodeRaysPerSecond"` // what the node returned meanwhile (tiles begun before the window included)
	// NodeCPUs is the CPU time the node process took per second of the
	// window (2 is two whole CPUs); -1 where it cannot be read (not Linux).
	NodeCPUs    float64 `json:"nodeCPUs"`
	LoadAverage float64 `json:"loadAverage"` // 1-minute, after the window: other work on the machine
}

// Mesh is what a big generated mesh costs (medians): a displaced sphere
// (SphereOBJ) in bunny.json's box, in the bunny's place.
type Mesh struct {
	Triangles int   `json:"triangles"`
	OBJBytes  int64 `json:"objBytes"`
	// Loading the scene from its files (parse and build), with GOMAXPROCS
	// 1 and with every core; Build is the BVH's share of it.
	LoadSecondsOneCore  float64 `json:"loadSecondsOneCore"`
	BuildSecondsOneCore float64 `json:"buildSecondsOneCore"`
	// LoadCPUSecondsOneCore is the bench process's CPU time (every thread,
	// the collector's too) over the load with GOMAXPROCS 1: the load on one
	// core as a machine shared with other work disturbs it least; 0 where
	// it cannot be read. The target is checked against it where known.
	LoadCPUSecondsOneCore float64 `json:"loadCPUSecondsOneCore"`
	LoadSeconds           float64 `json:"loadSeconds"`
	BuildSeconds          float64 `json:"buildSeconds"`
	// Kernel speed on one core, the mesh scene and bunny.json in turn, per
	// second of wall time and of the thread's CPU time (0 where it cannot
	// be read), and the median of their ratios within each run (of the CPU
	// time rates where known, which a shared machine disturbs less).
	RaysPerSecond         float64 `json:"raysPerSecond"`
	BunnyRaysPerSecond    float64 `json:"bunnyRaysPerSecond"`
	RaysPerCPUSecond      float64 `json:"raysPerCPUSecond"`
	BunnyRaysPerCPUSecond float64 `json:"bunnyRaysPerCPUSecond"`
	RaysRatio             float64 `json:"raysRatio"`
	// Peak resident memory (the kernel's maximum resident set size) of
	// `tessera render -local 1` rendering a tiny image of the scene, of a
	// `tessera node` process rendering it for a controller, and of that
	// controller (`tessera render -local 0`); 0 where the system does not
	// report it.
	RenderPeakBytes     int64 `json:"renderPeakBytes"`
	NodePeakBytes       int64 `json:"nodePeakBytes"`
	ControllerPeakBytes int64 `json:"controllerPeakBytes"`
}

// Watchers is what controllers watching a big registry cost it (issue 19):
// Watchers discovery.Watchers poll one registry process of Nodes records
// (nothing changes) every IntervalSeconds, in each mode.
type Watchers struct {
	Nodes           int         `json:"nodes"`
	Watchers        int         `json:"watchers"`
	IntervalSeconds float64     `json:"intervalSeconds"`
	WindowSeconds   float64     `json:"windowSeconds"`
	Modes           []WatchMode `json:"modes"` // WatchFull, then WatchConditional
}

// WatchMode is one way of polling (medians over the runs).
type WatchMode struct {
	Mode string `json:"mode"` // "full": the whole list every poll (as before issue 19); "conditional": If-None-Match and ?since=
	// RegistryCPU is the registry process's CPU time per second of the
	// window (1 is one whole core); -1 where it cannot be read (not Linux).
	RegistryCPU  float64 `json:"registryCPU"`
	Polls        int     `json:"polls"`       // in the window, every watcher
	NotModified  float64 `json:"notModified"` // share of the polls answered 304
	Failed       float64 `json:"failed"`      // share of the polls unanswered within the watcher's deadline (2 s)
	BytesPerPoll float64 `json:"bytesPerPoll"`
	LatencyP50Ms float64 `json:"latencyP50Ms"` // from the request to the answer's headers
	LatencyP99Ms float64 `json:"latencyP99Ms"`
	// ChangeSeenSeconds is from a new node's registration, after the
	// window, until the last watcher reported it.
	ChangeSeenSeconds float64 `json:"changeSeenSeconds"`
	// ChangeMissed counts the watchers that had not reported it within 20 s
	// (ChangeSeenSeconds is then 20).
	ChangeMissed int `json:"changeMissed"`
	// ChangePolls is the most polls a watcher began between the
	// registration and its report of it: 1 when every watcher saw the
	// change at its first poll after it.
	ChangePolls int     `json:"changePolls"`
	LoadAverage float64 `json:"loadAverage"` // 1-minute, after the window
}

// Scale is the controller driving fleets of simulated nodes (issue 19):
// `tessera sim` processes of one-worker nodes on loopback that answer with
// the right pixels at once, or after DelayMs a tile.
type Scale struct {
	TileSide int        `json:"tileSide"` // pixels; the trivial scene at 1 spp, depth 1
	DelayMs  float64    `json:"delayMs"`  // of a slow node's tile
	Rows     []ScaleRow `json:"rows"`     // instant and 50 ms renders, by node count
	Join     []ScaleRow `json:"join"`     // late joiners, and the same render without them
}

// ScaleRow is one case (medians over Runs; counts: the worst run).
type ScaleRow struct {
	Case    string  `json:"case"` // instant, 50ms, join, alone
	Nodes   int     `json:"nodes"`
	Joiners int     `json:"joiners"` // offered mid-render
	DelayMs float64 `json:"delayMs"`
	Tiles   int     `json:"tiles"`
	Runs    int     `json:"runs"`

	WallSeconds    float64 `json:"wallSeconds"` // Run's call to its return
	TilesPerSecond float64 `json:"tilesPerSecond"`
	// CPUPerTileUs is the controller's process CPU time (user and system,
	// every thread) per tile, in microseconds; -1 where it cannot be read.
	CPUPerTileUs   float64 `json:"cpuPerTileUs"`
	ControllerCPUs float64 `json:"controllerCPUs"` // its CPU time per second of wall time
	PeakHeapMB     float64 `json:"peakHeapMB"`     // the controller process's live heap, sampled every 20 ms
	// IdealSeconds is tiles x delay / nodes (50 ms cases), and
	// WallOverIdeal the wall time against it.
	IdealSeconds  float64 `json:"idealSeconds,omitempty"`
	WallOverIdeal float64 `json:"wallOverIdeal,omitempty"`

	// The checks of the nodes' pixels (audits by trust, on as in a real
	// render): audits in full, those rendered by nodes, and how long the
	// render waited for checks after its last tile was in.
	Audits           int     `json:"audits"`
	AuditsByNodes    int     `json:"auditsByNodes"`
	AuditWaitSeconds float64 `json:"auditWaitSeconds"`

	Excluded   int `json:"excluded"` // nodes excluded (every simulated node is healthy)
	Failures   int `json:"failures"` // summed over the nodes
	Retries    int `json:"retries"`
	Duplicates int `json:"duplicates"`
	NodesUsed  int `json:"nodesUsed"` // nodes with a tile in the image

	// The join case: the tiles the joiners rendered, their share of those
	// still missing when they were offered, and when that was.
	JoinerTiles        int     `json:"joinerTiles,omitempty"`
	JoinersUsed        int     `json:"joinersUsed,omitempty"`
	JoinerShare        float64 `json:"joinerShare,omitempty"`
	JoinedAfterSeconds float64 `json:"joinedAfterSeconds,omitempty"`

	LoadAverage float64 `json:"loadAverage"` // 1-minute, after the render
}
