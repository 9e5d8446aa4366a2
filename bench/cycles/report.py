"""Final table: samples/s per core (medians of interleaved runs), time to equal RMSE,
tessera/Cycles ratios; fogleman/pt rays/s. Reads logs/timing.jsonl, logs/rmse.json,
logs/pt_timing.jsonl (whatever exists)."""
import json, os, sys, math
from statistics import median
here = os.path.dirname(os.path.abspath(__file__))
L = lambda p: os.path.join(here, "logs", p)

def jl(p):
    return [json.loads(l) for l in open(L(p))] if os.path.exists(L(p)) else []

tim = jl("timing.jsonl")
rm = json.load(open(L("rmse.json"))) if os.path.exists(L("rmse.json")) else None

groups = {}
for t in tim:
    groups.setdefault((t["scene"], t["threads"], t["width"], t["height"], t["renderer"]), []).append(t)

def med(rs, k):
    v = [r[k] for r in rs if r.get(k)]
    return median(v) if v else None

print("== Throughput: samples (paths) per second per core, medians of interleaved runs ==")
print("(wall-based: total samples/s / threads; CPU-based: samples per CPU-second of the process; Cycles-clock: its own log, / threads)")
print("%-10s %-7s %2s %-7s %4s %12s %12s %12s %s" % ("scene", "render", "th", "size", "runs", "wall-based", "CPU-based", "Cycles-clock", "load avg (min-max)"))
sps = {}
for key in sorted(groups):
    s, th, w, h, r = key
    rs = groups[key]
    mw, mc, mo = med(rs, "sps_wall"), med(rs, "sps_cpu"), med(rs, "sps_own")
    sps[key] = (mw, mc)
    la = [x["loadavg"] for x in rs]
    print("%-10s %-7s %2d %-7s %4d %12.0f %12.0f %12s %.1f-%.1f" % (s, r, th, "%dx%d" % (w, h), len(rs), mw / th, mc if mc else float("nan"),
          "%.0f" % (mo / th) if mo else "-", min(la), max(la)))
print()
print("tessera/Cycles samples/s ratio (>1: tessera faster per sample)")
for key in sorted(sps):
    s, th, w, h, r = key
    if r != "tessera": continue
    c = sps.get((s, th, w, h, "cycles"))
    if not c: continue
    t = sps[key]
    print("  %-10s %d thread(s) %dx%d: wall %.2f   CPU %.2f" % (s, th, w, h, t[0] / c[0], t[1] / c[1]))

def spp_for(points, target):
    """spp at which this renderer's RMSE curve reaches target (log-log interpolation,
    extrapolated with slope -1/2 outside the measured range)."""
    pts = sorted((p["spp"], p["rmse"]) for p in points)
    ln = [(math.log(n), math.log(e)) for n, e in pts]
    lt = math.log(target)
    for (n0, e0), (n1, e1) in zip(ln, ln[1:]):
        if e1 <= lt <= e0:
            return math.exp(n0 + (lt - e0) * (n1 - n0) / (e1 - e0))
    n, e = (ln[0] if lt > ln[0][1] else ln[-1])
    return math.exp(n + 2 * (e - lt))

SIZE = {"stilllife": (160, 100)}  # the others 128x128
size = lambda s: SIZE.get(s, (128, 128))
if rm:
    scenes = [s for s in ("cornell", "bunny", "stilllife") if s in rm]
    print()
    print("== Mean radiance of the converged references (128x128 and 160x100, %s spp) ==" % ", ".join("%s %d" % (s, rm[s]["ref_spp"]) for s in scenes))
    for s in scenes:
        o = rm[s]
        print("  %-8s tessera %.5f  Cycles %.5f  Cycles/tessera %.4f (without the light %.4f)   RGB t %s c %s   ref-vs-ref pixel RMSE %.2f%% of the mean (%.2f%% without the light)" % (
            s, o["mean"]["tessera"], o["mean"]["cycles"], o["mean"]["cycles"] / o["mean"]["tessera"],
            o["mean_masked"]["cycles"] / o["mean_masked"]["tessera"],
            "/".join("%.4f" % x for x in o["mean_rgb"]["tessera"]), "/".join("%.4f" % x for x in o["mean_rgb"]["cycles"]),
            100 * o["ref_vs_ref_rel_rmse"], 100 * o["ref_vs_ref_rel_rmse_masked"]))
    print()
    print("== Equal quality: RMSE against the renderer's own reference (128x128; corrected for the reference's own noise) ==")
    print("   all: every pixel; masked: without the light and its 1-pixel border (~200 pixels whose edge anti-aliasing dominates 'all')")
    for s in scenes:
        for metric in ("all", "masked"):
            for r in ("tessera", "cycles"):
                o = rm[s][r][metric]
                print("  %-8s %-6s %-7s slope %.3f  " % (s, metric, r, o["loglog_slope"]) + "  ".join("%d:%.5f" % (p["spp"], p["rmse"]) for p in o["points"]) +
                      "   variance/sample " + " ".join("%.4f" % p["var_per_sample"] for p in o["points"]))
    final = []
    for metric in ("all", "masked"):
        print()
        print("== Final table, metric %s (128x128, the still life 160x100; maxDepth 8 = 6 Cycles bounces; target RMSE = Cycles' RMSE at 64 spp) ==" % metric)
        print("%-8s %-8s %2s %14s %14s %9s %12s %12s %14s" % ("scene", "renderer", "th", "samples/s/core", "samples/s/core", "spp to", "time to RMSE", "time to RMSE", "ratio t/C time"))
        print("%-8s %-8s %2s %14s %14s %9s %12s %12s %14s" % ("", "", "", "(wall)", "(CPU)", "target", "wall s", "CPU s", "wall / CPU"))
        for s in scenes:
            w, h = size(s)
            target = [p["rmse"] for p in rm[s]["cycles"][metric]["points"] if p["spp"] == 64][0]
            for th in (1, 2):
                row = {}
                for r in ("tessera", "cycles"):
                    g = sps.get((s, th, w, h, r))
                    if not g: continue
                    n = spp_for(rm[s][r][metric]["points"], target)
                    row[r] = (g[0], g[1], n, n * w * h / g[0], n * w * h / g[1])
                if len(row) < 2: continue
                for r in ("tessera", "cycles"):
                    mw, mc, n, tw, tc = row[r]
                    ratio = ""
                    if r == "tessera":
                        ratio = "%.2f / %.2f" % (tw / row["cycles"][3], tc / row["cycles"][4])
                        final.append((metric, s, th, row["tessera"][0] / row["cycles"][0], row["tessera"][1] / row["cycles"][1],
                                      row["tessera"][2] / row["cycles"][2], tw / row["cycles"][3], tc / row["cycles"][4]))
                    print("%-8s %-8s %2d %14.0f %14.0f %9.1f %12.3f %12.3f %14s" % (s, r, th, mw / th, mc, n, tw, tc, ratio))
    print()
    print("Target dependence: spp tessera needs / spp Cycles needs, for Cycles' RMSE at 16, 64, 256 spp (the convergence rates differ)")
    for metric in ("all", "masked"):
        for s_ in scenes:
            parts = []
            for tn in (16, 64, 256):
                tgt = [p["rmse"] for p in rm[s_]["cycles"][metric]["points"] if p["spp"] == tn][0]
                parts.append("%d: %.2f" % (tn, spp_for(rm[s_]["tessera"][metric]["points"], tgt) / spp_for(rm[s_]["cycles"][metric]["points"], tgt)))
            print("  %-6s %-8s %s" % (metric, s_, "  ".join(parts)))
    print()
    print("RATIOS tessera/Cycles (samples/s: >1 tessera faster per sample; spp and time to Cycles' 64-spp RMSE: <1 tessera better)")
    for metric, s, th, a, b, sp, c, d in final:
        print("  %-6s %-8s %d thread(s): samples/s wall %.2f CPU %.2f | spp needed %.2f | time to equal RMSE wall %.2f CPU %.2f" % (metric, s, th, a, b, sp, c, d))

pt = jl("pt_timing.jsonl")
if pt:
    print()
    print("== Rays per second per core, tessera vs fogleman/pt (128x128, interleaved) ==")
    g = {}
    for x in pt:
        g.setdefault((x["renderer"], x["scene"]), []).append(x)
    for k in sorted(g):
        rs = g[k]
        print("  %-8s on %-13s runs %d: %.2f Mrays/s (wall)  %.2f Mrays/CPU-s  rays/sample %.2f  load %.1f-%.1f" % (
            k[0], {"tessera": "tessera's box", "pt": "pt's own box"}[k[1]], len(rs), med(rs, "raysPerSecond") / 1e6,
            med(rs, "raysPerCPUSecond") / 1e6, med(rs, "raysPerSample"), min(x["loadavg"] for x in rs), max(x["loadavg"] for x in rs)))
    t = g.get(("tessera", "tessera")); p = g.get(("pt", "tessera"))
    if t and p:
        print("  tessera/pt rays/s on the same box: wall %.2f  CPU %.2f" % (med(t, "raysPerSecond") / med(p, "raysPerSecond"),
              med(t, "raysPerCPUSecond") / med(p, "raysPerCPUSecond")))

# Every timing session kept in logs/ (compare.sh moves the previous one aside): the ratios per session.
import glob
files = sorted(f for f in glob.glob(L("timing*.jsonl")) if "test" not in f)
if len(files) > 1:
    print()
    print("== tessera/Cycles samples/s ratio in each timing session (medians; wall / CPU; load avg range) ==")
    for f in files:
        rows = [json.loads(l) for l in open(f)]
        g = {}
        for t in rows:
            g.setdefault((t["scene"], t["threads"], t["width"]), {}).setdefault(t["renderer"], []).append(t)
        parts = []
        for k in sorted(g):
            if len(g[k]) < 2: continue
            t, c = g[k]["tessera"], g[k]["cycles"]
            la = [x["loadavg"] for x in t + c]
            parts.append("%s/%dT/%d: %.2f / %.2f (load %.1f-%.1f)" % (k[0], k[1], k[2], med(t, "sps_wall") / med(c, "sps_wall"),
                         med(t, "sps_cpu") / med(c, "sps_cpu"), min(la), max(la)))
        print("  %s:\n    %s" % (os.path.basename(f), "\n    ".join(parts)))
