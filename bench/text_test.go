package bench

import (
	"errors"
	"strings"
	"testing"
)

func sampleReport() *Report {
	return &Report{
		Machine: Machine{CPUs: 2, GOOS: "linux", GOARCH: "amd64", Version: "0.1.0", GoVersion: "go1.26", Model: "Xeon", LoadAverage: 0.5},
		Method:  Method{Runs: 3, Scene: "cornell", Workers: 1, Nodes: "spawned", Work: WorkSizes{Kernel: "256x256x4", Render: "512x512x4", Tile: 32, Scheduling: "512x512x1", SchedTile: 4}, Seconds: 30},
		Kernel:  []Kernel{{Scene: "cornell", RaysPerSecondPerCore: 3.5e6, SamplesPerSecond: 0.76e6, RaysPerCPUSecond: 3.6e6, RaysPerSample: 4.6}, {Scene: "bunny", RaysPerSecondPerCore: 2e6, SamplesPerSecond: 0.4e6, RaysPerSample: 4.7}},
		Scaling: []Scaling{
			{Nodes: 1, WorkersPerNode: 1, WallSeconds: 2, Speedup: 1, Efficiency: 1, RaysPerSecond: 3e6, NodesUsed: 1},
			{Nodes: 2, WorkersPerNode: 1, WallSeconds: 1.2, Speedup: 1.7, Efficiency: 0.85, RaysPerSecond: 5e6, NodesUsed: 2, Busy: 0.97},
		},
		Overhead: &Overhead{Workers: 1, InProcessSeconds: 1.9, LoopbackSeconds: 2, Ratio: 0.95, BytesPerPixel: 12.2, TileLatencyP50Ms: 10, TileLatencyP99Ms: 20, TileRenderP50Ms: 5, SceneBytes: 2200,
			InProcessRenderSeconds: 1.88, LoopbackRenderSeconds: 1.97, RatioAtEqualSpeed: 0.994},
		Scheduling: &Scheduling{TilesPerSecond: 25000, Tiles: 16384, Workers: 1},
		Discovery:  &Discovery{RegistrySeconds: 0.012, WatcherSeconds: 0.5},
		Security: &Security{Sealing: &Sealing{Workers: 1, PlainSeconds: 2, SealedSeconds: 2.004, Cost: 0.002, CostAtEqualSpeed: 0.001,
			Tiles: 256, Frames: 513, BytesPerFrame: 16},
			Audits: &Audits{Nodes: 2, Workers: 1, Tile: 16, Tiles: 1024, OffSeconds: 1, OnSeconds: 1.04, Cost: 0.04, Work: 0.042, CheckTime: 0.05, CPUCost: 0.045,
				Audits: 35, SpotChecks: 989, AuditsByNodes: 3, AuditWaitSeconds: 0.012}},
		Mesh: &Mesh{Triangles: 1_000_000, OBJBytes: 38e6, LoadSecondsOneCore: 1.7, LoadCPUSecondsOneCore: 1.2, BuildSecondsOneCore: 0.5, LoadSeconds: 0.9, BuildSeconds: 0.3,
			RaysPerSecond: 1.5e6, BunnyRaysPerSecond: 3e6, RaysPerCPUSecond: 1.6e6, BunnyRaysPerCPUSecond: 3.2e6, RaysRatio: 0.5, RenderPeakBytes: 240e6, NodePeakBytes: 260e6, ControllerPeakBytes: 200e6},
		Animation: &Animation{Scene: "orbit.glb", Frames: 48, Image: "160x100x16", Nodes: 2, JobSeconds: 30, SeparateSeconds: 45, Ratio: 0.667,
			FrameSetupSeconds: 2e-6, FrameRenderSeconds: 1.5, SetupShare: 2e-6 / 1.5},
		Scale: &Scale{TileSide: 4, DelayMs: 50, Rows: []ScaleRow{
			{Case: CaseInstant, Nodes: 10, Tiles: 100000, WallSeconds: 2, TilesPerSecond: 50000, CPUPerTileUs: 8, ControllerCPUs: 0.4, PeakHeapMB: 14},
			{Case: CaseInstant, Nodes: 1000, Tiles: 100000, WallSeconds: 5, TilesPerSecond: 20000, CPUPerTileUs: 12, ControllerCPUs: 0.25, PeakHeapMB: 120},
			{Case: CaseInstantNoChecks, Nodes: 10, Tiles: 100000, WallSeconds: 2, TilesPerSecond: 50000, CPUPerTileUs: 6, ControllerCPUs: 0.3, PeakHeapMB: 14},
			{Case: CaseInstantNoChecks, Nodes: 1000, Tiles: 100000, WallSeconds: 4, TilesPerSecond: 25000, CPUPerTileUs: 15, ControllerCPUs: 0.3, PeakHeapMB: 100, Excluded: 1},
			{Case: CaseSlow, Nodes: 1000, Tiles: 100000, WallSeconds: 6, IdealSeconds: 5, WallOverIdeal: 1.2, CPUPerTileUs: 25},
		}, Join: []ScaleRow{
			{Case: CaseJoin, Nodes: 100, Joiners: 100, Tiles: 20000, WallSeconds: 7, JoinerShare: 0.49, JoinersUsed: 100, JoinedAfterSeconds: 2.9},
			{Case: CaseAlone, Nodes: 100, Tiles: 20000, WallSeconds: 11, IdealSeconds: 10, WallOverIdeal: 1.1},
		}},
		Watchers: &Watchers{Nodes: 10000, Watchers: 40, IntervalSeconds: 1, WindowSeconds: 10, Modes: []WatchMode{
			{Mode: WatchFull, RegistryCPU: 0.4, Polls: 300, Failed: 0.5, BytesPerPoll: 2e6, LatencyP50Ms: 900, LatencyP99Ms: 2000, ChangeSeenSeconds: 20, ChangeMissed: 12, ChangePolls: 3, LoadAverage: 3},
			{Mode: WatchConditional, RegistryCPU: 0.004, Polls: 400, NotModified: 1, LatencyP50Ms: 0.4, LatencyP99Ms: 3, ChangeSeenSeconds: 1.02, ChangePolls: 1, LoadAverage: 3},
		}},
	}
}

func TestWriteText(t *testing.T) {
	got := sampleReport().String()
	for _, want := range []string{
		"2 CPUs (Xeon), linux/amd64, go1.26, load average 0.50",
		"medians of 3 runs",
		"cornell      3.50          3.60",
		"bunny      2.00             -", // no CPU time: a dash
		"2              1     1.200      1.70         0.85      5.00    97%",
		"ratio 0.950 (target >= 0.95: met)",
		"rendering alone took 1.880 s and 1.970 s: at equal render speed the ratio would be 0.994",
		"12.20 bytes on the wire per pixel",
		"(target <= 13: met)",
		"p50 10.00 ms, p99 20.00 ms",
		"25000 tiles/s through one loopback node of 1 worker",
		"(target >= 20000: met)",
		"discovery: 0.012 s from starting a node process to its record in the registry; 0.500 s until",
		"2 nodes x 1 worker: 1.70x one node x 1 worker (target >= 1.8x on 2 cores: NOT met)",
		"sealing: cornell on one loopback node with a token (every frame sealed) against one without, 256 tiles",
		"plain 2.000 s, sealed 2.004 s: +0.20% of wall time",
		"at equal render speed: +0.10% (target < 1%: met)",
		"16.00 bytes added to each of the 513 frames after the handshakes",
		"audits: cornell on an honest room of 2 loopback nodes of 1 worker, 1024 tiles of 16 px",
		"off 1.000 s, on 1.040 s: +4.00% of wall time; 35 audits in full (3 by a node) and 989 spot checks",
		"work added: 4.20% of the image's pixels rendered again (target <= 5%: met); the controller's CPU time added 4.50% of the room's; the checkers' time 5.00% of the nodes'; 0.012 s waited",
		"mesh: a displaced sphere of 1000000 triangles (38.0 MB of OBJ)",
		"load and build: 1.700 s on one core (1.200 CPU-seconds), BVH 0.500 s of it (target < 1.5 s: met); 0.900 s on 2 cores, BVH 0.300 s",
		"tessera render 240 MB (240 bytes/triangle), a node 260 MB (260), its controller 200 MB (200) (target <= 250 bytes/triangle: NOT met)",
		"one core: 1.50 Mrays/s (1.60 per CPU-second), the bunny 3.00 (3.20): 0.50x (target >= 0.6x: NOT met)",
		"animation: orbit.glb, frames 1-48 at 160x100x16 on 2 loopback nodes",
		"one -frames job 30.00 s, 48 -frame N renders one after the other 45.00 s: ratio 0.667 (target < 1: met)",
		"a frame's set-up on a node 0.002 ms, 0.0001% of the frame's render on one core (1.500 s) (target < 5%: met)",
		"watchers: 40 watchers poll a registry process of 10000 nodes every 1 s",
		"instant nodes: CPU per tile at 1000 nodes 1.50x its figure at 10 (target <= 2x: met); 0 healthy nodes excluded (target 0: met)",
		"without the checks (the scheduler alone): 2.50x (target <= 2x: NOT met); 1 healthy nodes excluded",
		"instant, no checks      1000",
		"50 ms nodes: 1000 nodes took 1.20x the ideal 5.00 s (target <= 1.25: met)",
		"100 joining 100 at work after 2.90 s: the joiners rendered 49% of the tiles left (target >= 40%: met), 100 of them some; 7.00 s against 11.00 s without them (faster: met)",
		"full         40.00%   900.00   2000.00     0%      50%      2000000          20.000       12",
		"registry CPU 0.40% of a core (target < 5%: met), p99 3.0 ms (target < 50 ms: met), a change seen by every watcher within 1.02 s, at its first poll after the change: met",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the table lacks %q:\n%s", want, got)
		}
	}
}

func TestWriteTextSkipsSectionsNotRun(t *testing.T) {
	r := sampleReport()
	r.Scaling, r.Overhead, r.Scheduling, r.Discovery, r.Security, r.Mesh, r.Animation, r.Scale, r.Watchers = []Scaling{}, nil, nil, nil, nil, nil, nil, nil, nil
	got := r.String()
	for _, absent := range []string{"scaling", "overhead", "scheduling", "discovery", "2 nodes x 1 worker", "sealing", "audits", "mesh", "animation"} {
		if strings.Contains(got, absent) {
			t.Errorf("the table mentions %q, which did not run:\n%s", absent, got)
		}
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errors.New("disk full")
}

func TestWriteTextReportsWriteErrors(t *testing.T) {
	w := &failingWriter{}
	if err := sampleReport().WriteText(w); err == nil || err.Error() != "disk full" {
		t.Fatalf("got %v, want the writer's error", err)
	}
	if w.n != 1 {
		t.Errorf("%d writes after the first failed, want none", w.n-1)
	}
}
