package bench

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// The targets of issue 6 on a two-core machine, printed beside the figures.
const (
	TargetSpeedup        = 1.8   // two one-worker nodes against one
	TargetLoopbackRatio  = 0.95  // in-process seconds / loopback seconds
	TargetTilesPerSecond = 20000 // scheduling
	TargetBytesPerPixel  = 13    // float32 RGB plus framing
	TargetSealingCost    = 0.01  // sealed frames against plain ones (issue 18)
	TargetAuditCost      = 0.05  // audits on an honest room of two nodes (issue 18)
	TargetPoliteRatio    = 0.9   // the foreground program beside a default node, against alone (issue 15)

	// Issue 17's, for the mesh section's million triangles.
	TargetMeshBytesPerTriangle = 250  // peak resident memory of a render or a node
	TargetMeshLoadSeconds      = 1.5  // parse and build on one core
	TargetMeshRaysRatio        = 0.6  // the mesh's rays per second against the bunny's
	TargetWatchCPU             = 0.05 // a registry's CPU with 40 conditional watchers of 10,000 nodes (issue 19)
	TargetWatchP99Ms           = 50   // their polls' p99
	TargetScaleCPU             = 2    // controller CPU per tile at 1,000 instant nodes against 10 (issue 19), at most
	TargetScaleIdeal           = 1.25 // wall time of a 50 ms render against the ideal, at most
	TargetJoinerShare          = 0.4  // of the tiles left when the joiners came, at least

	// Issue 14's: one -frames job against a -frame N render per frame, and
	// a frame's set-up on a node against its render.
	TargetAnimationRatio = 1
	TargetSetupShare     = 0.05
)

// WriteText writes the report as readable tables.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	m := r.Machine
	model := ""
	if m.Model != "" {
		model = " (" + m.Model + ")"
	}
	load := "unknown"
	if m.LoadAverage >= 0 {
		load = fmt.Sprintf("%.2f", m.LoadAverage)
	}
	me := r.Method
	ew.printf("tessera bench %s: %d CPUs%s, %s/%s, %s, load average %s at the start\n", m.Version, m.CPUs, model, m.GOOS, m.GOARCH, m.GoVersion, load)
	ew.printf("medians of %d runs; kernel images %s; %s rendered %s in %d-pixel tiles; %s per node; %s nodes; %.1f s in all\n",
		me.Runs, me.Work.Kernel, me.Scene, me.Work.Render, me.Work.Tile, plural(me.Workers, "worker"), me.Nodes, me.Seconds)

	if len(r.Kernel) > 0 {
		ew.printf("\nkernel: one core, in-process\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 3, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "scene\tMrays/s\tMrays/CPU-s\tMsamples/s\trays/sample\t\n")
		for _, k := range r.Kernel {
			fmt.Fprintf(tw, "%s\t%.2f\t%s\t%.3f\t%.2f\t\n", k.Scene, k.RaysPerSecondPerCore/1e6, orDash(k.RaysPerCPUSecond/1e6, "%.2f"), k.SamplesPerSecond/1e6, k.RaysPerSample)
		}
		ew.err = firstErr(ew.err, tw.Flush())
	}
	if len(r.Scaling) > 0 {
		ew.printf("\nscaling: %s on 1..%d nodes, none in-process; speedup against one node; busy: share of the time the workers rendered\n", me.Scene, len(r.Scaling))
		tw := tabwriter.NewWriter(ew, 0, 0, 3, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "nodes\tworkers/node\tseconds\tspeedup\tefficiency\tMrays/s\tbusy\t\n")
		for _, s := range r.Scaling {
			fmt.Fprintf(tw, "%d\t%s\t%.3f\t%.2f\t%.2f\t%.2f\t%.0f%%\t\n", s.Nodes, orDash(float64(s.WorkersPerNode), "%.0f"), s.WallSeconds, s.Speedup, s.Efficiency, s.RaysPerSecond/1e6, 100*s.Busy)
		}
		ew.err = firstErr(ew.err, tw.Flush())
	}
	if o := r.Overhead; o != nil {
		ew.printf("\noverhead: %s in-process against the same behind one loopback node\n", plural(o.Workers, "worker"))
		ew.printf("  in-process %.3f s, loopback %.3f s: ratio %.3f (target >= %.2f: %s)\n", o.InProcessSeconds, o.LoopbackSeconds, o.Ratio, TargetLoopbackRatio, verdict(o.Ratio >= TargetLoopbackRatio))
		ew.printf("  rendering alone took %.3f s and %.3f s: at equal render speed the ratio would be %.3f (the cost of the protocol and the scheduling)\n",
			o.InProcessRenderSeconds, o.LoopbackRenderSeconds, o.RatioAtEqualSpeed)
		ew.printf("  %.2f bytes on the wire per pixel, both ways, the %d-byte scene included (target <= %d: %s)\n", o.BytesPerPixel, o.SceneBytes, TargetBytesPerPixel, verdict(o.BytesPerPixel <= TargetBytesPerPixel))
		ew.printf("  tile round trip p50 %.2f ms, p99 %.2f ms (queueing on the node included; its render alone: p50 %.2f ms)\n", o.TileLatencyP50Ms, o.TileLatencyP99Ms, o.TileRenderP50Ms)
	}
	if s := r.Scheduling; s != nil {
		ew.printf("\nscheduling: %.0f tiles/s through one loopback node of %s (%d tiles of %s, %d px) (target >= %d: %s)\n",
			s.TilesPerSecond, plural(s.Workers, "worker"), s.Tiles, me.Work.Scheduling, me.Work.SchedTile, TargetTilesPerSecond, verdict(s.TilesPerSecond >= TargetTilesPerSecond))
	}
	if d := r.Discovery; d != nil {
		ew.printf("\ndiscovery: %.3f s from starting a node process to its record in the registry; %.3f s until a controller's watcher (polling every second) reports it\n", d.RegistrySeconds, d.WatcherSeconds)
	}
	if sec := r.Security; sec != nil && sec.Sealing != nil {
		s := sec.Sealing
		ew.printf("\nsealing: %s on one loopback node with a token (every frame sealed) against one without, %d tiles\n", me.Scene, s.Tiles)
		ew.printf("  plain %.3f s, sealed %.3f s: %+.2f%% of wall time (each render at the machine's speed of the moment)\n",
			s.PlainSeconds, s.SealedSeconds, 100*s.Cost)
		ew.printf("  at equal render speed: %+.2f%% (target < %.0f%%: %s)\n", 100*s.CostAtEqualSpeed, 100*TargetSealingCost, verdict(s.CostAtEqualSpeed < TargetSealingCost))
		ew.printf("  %.2f bytes added to each of the %d frames after the handshakes\n", s.BytesPerFrame, s.Frames)
	}
	if p := r.Polite; p != nil && len(p.Rows) > 0 {
		ew.printf("\npolite: a CPU-bound program (%d loops, %.0f s a window) alone and beside a node process rendering at each -priority\n", p.Loops, p.Seconds)
		tw := tabwriter.NewWriter(ew, 0, 0, 3, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "beside\tMloops/s\tratio\tnode CPUs\tnode Mrays/s\tload\t\n")
		for _, row := range p.Rows {
			fmt.Fprintf(tw, "%s\t%.1f\t%.3f\t%s\t%.3f\t%.2f\t\n", row.Beside, row.LoopsPerSecond/1e6, row.Ratio, cpus(row), row.NodeRaysPerSecond/1e6, row.LoadAverage)
		}
		ew.err = firstErr(ew.err, tw.Flush())
		for _, row := range p.Rows {
			if row.Beside == "idle" {
				ew.printf("  beside a default (idle) node the program keeps %.0f%% of its speed (target >= %.0f%%: %s)\n", 100*row.Ratio, 100*TargetPoliteRatio, verdict(row.Ratio >= TargetPoliteRatio))
			}
		}
	}
	if m := r.Mesh; m != nil {
		r.writeMesh(ew, m)
	}
	if sec := r.Security; sec != nil && sec.Audits != nil {
		a := sec.Audits
		ew.printf("\naudits: %s on an honest room of %d loopback nodes of %s, %d tiles of %d px, with the checks of their pixels and without\n",
			me.Scene, a.Nodes, plural(a.Workers, "worker"), a.Tiles, a.Tile)
		ew.printf("  off %.3f s, on %.3f s: %+.2f%% of wall time; %d audits in full (%d by a node) and %d spot checks\n",
			a.OffSeconds, a.OnSeconds, 100*a.Cost, a.Audits, a.AuditsByNodes, a.SpotChecks)
		ew.printf("  work added: %.2f%% of the image's pixels rendered again (target <= %.0f%%: %s); the controller's CPU time added %.2f%% of the room's; the checkers' time %.2f%% of the nodes'; %.3f s waited for checks after the last tile\n",
			100*a.Work, 100*TargetAuditCost, verdict(a.Work <= TargetAuditCost), 100*a.CPUCost, 100*a.CheckTime, a.AuditWaitSeconds)
	}
	if a := r.Animation; a != nil {
		ew.printf("\nanimation: %s, frames 1-%d at %s on %d loopback nodes, each render a tessera render process\n", a.Scene, a.Frames, a.Image, a.Nodes)
		ew.printf("  one -frames job %.2f s, %d -frame N renders one after the other %.2f s: ratio %.3f (target < %.0f: %s)\n",
			a.JobSeconds, a.Frames, a.SeparateSeconds, a.Ratio, float64(TargetAnimationRatio), verdict(a.Ratio < TargetAnimationRatio))
		ew.printf("  a frame's set-up on a node %.3f ms, %.4f%% of the frame's render on one core (%.3f s) (target < %.0f%%: %s)\n",
			1e3*a.FrameSetupSeconds, 100*a.SetupShare, a.FrameRenderSeconds, 100*TargetSetupShare, verdict(a.SetupShare < TargetSetupShare))
	}
	if wa := r.Watchers; wa != nil && len(wa.Modes) > 0 {
		ew.printf("\nwatchers: %d watchers poll a registry process of %d nodes every %.0f s, nothing changing (%.0f s windows); then one node registers\n",
			wa.Watchers, wa.Nodes, wa.IntervalSeconds, wa.WindowSeconds)
		tw := tabwriter.NewWriter(ew, 0, 0, 3, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "mode\tregistry CPU\tp50 ms\tp99 ms\t304s\tfailed\tbytes/poll\tchange seen s\tmissed\tload\t\n")
		for _, m := range wa.Modes {
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%.0f%%\t%.0f%%\t%.0f\t%.3f\t%d\t%.2f\t\n", m.Mode, watchCPU(m.RegistryCPU), m.LatencyP50Ms, m.LatencyP99Ms, 100*m.NotModified, 100*m.Failed, m.BytesPerPoll, m.ChangeSeenSeconds, m.ChangeMissed, m.LoadAverage)
		}
		ew.err = firstErr(ew.err, tw.Flush())
		for _, m := range wa.Modes {
			if m.Mode == WatchConditional {
				ew.printf("  conditional polls: registry CPU %.2f%% of a core (target < %.0f%%: %s), p99 %.1f ms (target < %d ms: %s), a change seen by every watcher within %.2f s, at its first poll after the change: %s\n",
					100*m.RegistryCPU, 100*TargetWatchCPU, verdict(m.RegistryCPU >= 0 && m.RegistryCPU < TargetWatchCPU), m.LatencyP99Ms, TargetWatchP99Ms, verdict(m.LatencyP99Ms < TargetWatchP99Ms),
					m.ChangeSeenSeconds, verdict(m.ChangeMissed == 0 && m.ChangePolls == 1))
			}
		}
	}
	if sc := r.Scale; sc != nil && len(sc.Rows) > 0 {
		ew.printf("\nscale: the controller here, simulated one-worker nodes (tessera sim) on loopback, %d-pixel tiles of the trivial scene\n", sc.TileSide)
		tw := tabwriter.NewWriter(ew, 0, 0, 3, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "case\tnodes\ttiles\tseconds\ttiles/s\tCPU us/tile\tcontroller CPUs\theap MB\tvs ideal\taudits\taudit wait s\texcluded\tfailures\tduplicates\tload\t\n")
		for _, row := range append(append([]ScaleRow(nil), sc.Rows...), sc.Join...) {
			ideal := "-"
			if row.WallOverIdeal > 0 {
				ideal = fmt.Sprintf("%.2f", row.WallOverIdeal)
			}
			nodes := strconv.Itoa(row.Nodes)
			if row.Joiners > 0 {
				nodes += "+" + strconv.Itoa(row.Joiners)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.0f\t%s\t%.2f\t%.1f\t%s\t%d\t%.3f\t%d\t%d\t%d\t%.2f\t\n", row.Case, nodes, row.Tiles, row.WallSeconds, row.TilesPerSecond,
				orDash(row.CPUPerTileUs, "%.1f"), row.ControllerCPUs, row.PeakHeapMB, ideal, row.Audits, row.AuditWaitSeconds, row.Excluded, row.Failures, row.Duplicates, row.LoadAverage)
		}
		ew.err = firstErr(ew.err, tw.Flush())
		var first, last *ScaleRow
		for i := range sc.Rows {
			if row := &sc.Rows[i]; row.Case == CaseInstant {
				if first == nil || row.Nodes < first.Nodes {
					first = row
				}
				if last == nil || row.Nodes > last.Nodes {
					last = row
				}
			}
		}
		if first != nil && last != first && first.CPUPerTileUs > 0 {
			ratio := last.CPUPerTileUs / first.CPUPerTileUs
			ew.printf("  instant nodes: CPU per tile at %d nodes %.2fx its figure at %d (target <= %.0fx: %s); %d healthy nodes excluded (target 0: %s)\n",
				last.Nodes, ratio, first.Nodes, float64(TargetScaleCPU), verdict(ratio <= TargetScaleCPU), last.Excluded, verdict(last.Excluded == 0))
			var off0, off1 *ScaleRow
			for i := range sc.Rows {
				if row := &sc.Rows[i]; row.Case == CaseInstantNoChecks && row.Nodes == first.Nodes {
					off0 = row
				} else if row.Case == CaseInstantNoChecks && row.Nodes == last.Nodes {
					off1 = row
				}
			}
			if off0 != nil && off1 != nil && off0.CPUPerTileUs > 0 {
				ratio := off1.CPUPerTileUs / off0.CPUPerTileUs
				ew.printf("  without the checks (the scheduler alone): %.2fx (target <= %.0fx: %s); %d healthy nodes excluded\n",
					ratio, float64(TargetScaleCPU), verdict(ratio <= TargetScaleCPU), off1.Excluded)
			}
		}
		for _, row := range sc.Rows {
			if row.Case == CaseSlow && row.Nodes == last.Nodes {
				ew.printf("  50 ms nodes: %d nodes took %.2fx the ideal %.2f s (target <= %.2f: %s)\n", row.Nodes, row.WallOverIdeal, row.IdealSeconds, TargetScaleIdeal, verdict(row.WallOverIdeal <= TargetScaleIdeal))
			}
		}
		var join, alone *ScaleRow
		for i := range sc.Join {
			switch row := &sc.Join[i]; row.Case {
			case CaseJoin:
				join = row
			case CaseAlone:
				alone = row
			}
		}
		if join != nil && alone != nil {
			ew.printf("  %d joining %d at work after %.2f s: the joiners rendered %.0f%% of the tiles left (target >= %.0f%%: %s), %d of them some; %.2f s against %.2f s without them (faster: %s)\n",
				join.Joiners, join.Nodes, join.JoinedAfterSeconds, 100*join.JoinerShare, 100*TargetJoinerShare, verdict(join.JoinerShare >= TargetJoinerShare),
				join.JoinersUsed, join.WallSeconds, alone.WallSeconds, verdict(join.WallSeconds < alone.WallSeconds))
		}
	}
	if len(r.Scaling) >= 2 && r.Scaling[1].WorkersPerNode == 1 {
		sp := r.Scaling[1].Speedup
		ew.printf("\n2 nodes x 1 worker: %.2fx one node x 1 worker (target >= %.1fx on 2 cores: %s)\n", sp, TargetSpeedup, verdict(sp >= TargetSpeedup))
	}
	return ew.err
}

// watchCPU is a registry's CPU share, "-" where unknown.
func watchCPU(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*v)
}

// cpus is a polite row's node CPU time, "-" without a node or where unknown.
func cpus(row PoliteRow) string {
	if row.Beside == "nothing" || row.NodeCPUs < 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", row.NodeCPUs)
}

// writeMesh writes the mesh section.
func (r *Report) writeMesh(ew *errWriter, m *Mesh) {
	tris := float64(max(1, m.Triangles))
	ew.printf("\nmesh: a displaced sphere of %d triangles (%.1f MB of OBJ) in the bunny's place\n", m.Triangles, float64(m.OBJBytes)/1e6)
	// The target is judged on the CPU time where it is known: on a quiet
	// machine the two agree, on a loaded one the wall time is the load's.
	load, cpu := m.LoadSecondsOneCore, ""
	if m.LoadCPUSecondsOneCore > 0 {
		load, cpu = m.LoadCPUSecondsOneCore, fmt.Sprintf(" (%.3f CPU-seconds)", m.LoadCPUSecondsOneCore)
	}
	ew.printf("  load and build: %.3f s on one core%s, BVH %.3f s of it (target < %.1f s: %s); %.3f s on %s, BVH %.3f s\n",
		m.LoadSecondsOneCore, cpu, m.BuildSecondsOneCore, TargetMeshLoadSeconds, verdict(load < TargetMeshLoadSeconds),
		m.LoadSeconds, plural(r.Machine.CPUs, "core"), m.BuildSeconds)
	if m.RenderPeakBytes > 0 {
		ok := float64(max(m.RenderPeakBytes, m.NodePeakBytes))/tris <= TargetMeshBytesPerTriangle
		ew.printf("  peak resident memory: tessera render %.0f MB (%.0f bytes/triangle), a node %.0f MB (%.0f), its controller %.0f MB (%.0f) (target <= %d bytes/triangle: %s)\n",
			float64(m.RenderPeakBytes)/1e6, float64(m.RenderPeakBytes)/tris, float64(m.NodePeakBytes)/1e6, float64(m.NodePeakBytes)/tris,
			float64(m.ControllerPeakBytes)/1e6, float64(m.ControllerPeakBytes)/tris, TargetMeshBytesPerTriangle, verdict(ok))
	}
	ew.printf("  one core: %.2f Mrays/s (%s per CPU-second), the bunny %.2f (%s): %.2fx (target >= %.1fx: %s)\n",
		m.RaysPerSecond/1e6, orDash(m.RaysPerCPUSecond/1e6, "%.2f"), m.BunnyRaysPerSecond/1e6, orDash(m.BunnyRaysPerCPUSecond/1e6, "%.2f"),
		m.RaysRatio, TargetMeshRaysRatio, verdict(m.RaysRatio >= TargetMeshRaysRatio))
}

// plural is "1 worker", "2 workers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// orDash formats v, or "-" when it is 0 (unknown).
func orDash(v float64, format string) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// errWriter remembers the first write error and skips the writes after it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}

// String is the report as WriteText writes it.
func (r *Report) String() string {
	var sb strings.Builder
	r.WriteText(&sb)
	return sb.String()
}
