"""RMSE of each renderer against its own converged reference (128x128, the still life 160x100, depth 8).

tessera's reference contains the test image's samples (sample i of a pixel is
seeded by (x, y, i) only), so E[MSE] = s2 (1/n - 1/N); Cycles' reference has
another seed, so E[MSE] = s2 (1/n + 1/N). Both are corrected to s2/n, the error
against the true image (exact for independent samples; approximate for the
low-discrepancy pixel positions: the correction is 3% of the MSE at n = 256, 14% at 1024).
n * MSE is the variance of one sample, averaged over pixels and channels: the
noise per sample. Two metrics: "all" pixels, and "masked": without the light
and the pixels next to it (radiance > 1 in tessera's reference, dilated by one
pixel), whose anti-aliasing of a radiance-17 edge dominates the full RMSE.
Writes logs/rmse.json.
"""
import json, sys, os
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pfm

here = os.path.dirname(os.path.abspath(__file__))
# Reference and test spp per scene, as sizes.sh has them.
def ref_spp(s):
    return int(os.environ.get("REFSPP_STILLLIFE", "4096") if s == "stilllife" else os.environ.get("REFSPP", "8192"))
def test_spps(s):
    v = os.environ.get("NS_STILLLIFE", "4,16,64,256") if s == "stilllife" else os.environ.get("NS", "4,16,64,256,1024")
    return [int(x) for x in v.split(",")]
out = {}
for s in [x for x in ("cornell", "bunny", "stilllife") if os.path.exists(os.path.join(here, "img/c_%s_ref.pfm" % x))]:
    N, NS = ref_spp(s), test_spps(s)
    refs = {r: pfm.read_pfm(os.path.join(here, "img/%s_%s_ref.pfm" % (r[0], s))) for r in ("tessera", "cycles")}
    light = refs["tessera"].max(2) > 1.0
    edge = light.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            edge |= np.roll(np.roll(light, dy, 0), dx, 1)
    keep = ~edge
    d = refs["tessera"] - refs["cycles"]
    out[s] = {"ref_spp": N, "masked_pixels": int(edge.sum()),
              "mean": {r: float(refs[r].mean()) for r in refs},
              "mean_rgb": {r: [float(x) for x in refs[r].reshape(-1, 3).mean(0)] for r in refs},
              "mean_masked": {r: float(refs[r][keep].mean()) for r in refs},
              "ref_vs_ref_rmse": float(np.sqrt((d ** 2).mean())),
              "ref_vs_ref_rel_rmse": float(np.sqrt((d ** 2).mean()) / refs["tessera"].mean()),
              "ref_vs_ref_rel_rmse_masked": float(np.sqrt((d[keep] ** 2).mean()) / refs["tessera"][keep].mean())}
    for r in ("tessera", "cycles"):
        res = {}
        for metric in ("all", "masked"):
            pts = []
            for n in NS:
                img = pfm.read_pfm(os.path.join(here, "img/%s_%s_%d.pfm" % (r[0], s, n)))
                e = (img - refs[r]) ** 2
                mse = float(e.mean() if metric == "all" else e[keep].mean())
                corr = N / (N - n) if r == "tessera" else N / (N + n)
                pts.append({"spp": n, "rmse_raw": mse ** 0.5, "rmse": (mse * corr) ** 0.5,
                            "var_per_sample": n * mse * corr})
            ln = np.log([p["spp"] for p in pts]); lr = np.log([p["rmse"] for p in pts])
            slope, icpt = np.polyfit(ln, lr, 1)
            res[metric] = {"points": pts, "loglog_slope": float(slope)}
        out[s][r] = res
json.dump(out, open(os.path.join(here, "logs/rmse.json"), "w"), indent=1)
for s in out:
    o = out[s]
    print("%s: mean radiance tessera %.5f cycles %.5f (cycles/tessera %.4f); without the light %.5f / %.5f (%.4f); reference-vs-reference pixel RMSE %.2f%% of the mean (%.2f%% without the light)" % (
        s, o["mean"]["tessera"], o["mean"]["cycles"], o["mean"]["cycles"] / o["mean"]["tessera"],
        o["mean_masked"]["tessera"], o["mean_masked"]["cycles"], o["mean_masked"]["cycles"] / o["mean_masked"]["tessera"],
        100 * o["ref_vs_ref_rel_rmse"], 100 * o["ref_vs_ref_rel_rmse_masked"]))
    for metric in ("all", "masked"):
        for r in ("tessera", "cycles"):
            m = o[r][metric]
            print("  %-6s %-8s slope %.3f  " % (metric, r, m["loglog_slope"]) + "  ".join(
                "%d spp: %.5f (var/sample %.4f)" % (p["spp"], p["rmse"], p["var_per_sample"]) for p in m["points"]))
