#!/bin/bash
# Noise per sample of direct lighting alone (maxDepth 2 = Cycles 0 bounces) on cornell and bunny:
# 16 and 64 spp against each renderer's own 1024-spp depth-2 image, light and border masked.
# tessera's images are made every time, Cycles' only if missing (or FRESH=1).
cd "$(dirname "$0")"; mkdir -p img logs
for s in cornell bunny; do
  for n in 16 64 1024; do ./tessera render -q -no-mdns -local 1 -width 128 -height 128 -spp $n -o img/t_${s}_d2_$n.pfm scenes/${s}_d2.json; done
  [ -f img/c_${s}_d2_64.pfm ] && [ -z "$FRESH" ] || blender -b -t 1 -P cycles_scene.py -- scenes/${s}_d2.json -width 128 -height 128 -spp 16,64 -seed 0 -out img/c_${s}_d2_ > logs/noise_d2_$s.log 2>&1
  [ -f img/c_${s}_d2_1024.pfm ] && [ -z "$FRESH" ] || blender -b -t 1 -P cycles_scene.py -- scenes/${s}_d2.json -width 128 -height 128 -spp 1024 -seed 1 -out img/c_${s}_d2_ > logs/depth_${s}_2.log 2>&1
done
/usr/bin/python3 - <<'PY' | tee logs/noise_d2.txt
import numpy as np, pfm
N = 1024
res = {}
for s in ("cornell", "bunny"):
    tref = pfm.read_pfm("img/t_%s_d2_1024.pfm" % s)
    light = tref.max(2) > 1.0; edge = light.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            edge |= np.roll(np.roll(light, dy, 0), dx, 1)
    keep = ~edge
    out = []
    for r in ("t", "c"):
        ref = pfm.read_pfm("img/%s_%s_d2_1024.pfm" % (r, s))
        for n in (16, 64):
            e = ((pfm.read_pfm("img/%s_%s_d2_%d.pfm" % (r, s, n)) - ref) ** 2)[keep].mean()
            corr = N / (N - n) if r == "t" else N / (N + n)
            res[(s, r, n)] = n * e * corr
            out.append("%s %d spp: var/sample %.3g" % ({"t": "tessera", "c": "cycles"}[r], n, n * e * corr))
    print("depth 2 %-8s " % s + "  ".join(out) + "   tessera/Cycles: 16 spp %.2f, 64 spp %.2f" % (
        res[(s, "t", 16)] / res[(s, "c", 16)], res[(s, "t", 64)] / res[(s, "c", 64)]))
PY
