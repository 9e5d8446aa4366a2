import os
"""Ground truth for depth 2 (direct light only, no occlusion near the ceiling):
radiance of a diffuse point = albedo * Le * F, F the point-to-polygon form factor
of the light quad (Lambert's formula). Averaged over a 16x16 grid in each pixel
through tessera's camera, compared with tessera's and Cycles' 1024-spp depth-2 images
over a few regions. Only pixels whose every sub-sample hits a wall with an
unoccluded view of the whole light are used (upper walls: the blocks are far below).
"""
import sys, os, math, json
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pfm

M = os.path.join(os.environ.get("TESSERA_REPO", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")), "testdata/meshes") + "/"
def load(path):
    vs, tris, mtl = [], [], None
    for line in open(path):
        p = line.split()
        if not p: continue
        if p[0] == "v": vs.append([float(x) for x in p[1:4]])
        elif p[0] == "usemtl": mtl = p[1]
        elif p[0] == "f":
            idx = [int(c.split("/")[0]) for c in p[1:]]
            idx = [i - 1 if i > 0 else len(vs) + i for i in idx]
            for k in range(1, len(idx) - 1):
                tris.append((np.array(vs[idx[0]]), np.array(vs[idx[k]]), np.array(vs[idx[k + 1]]), mtl))
    return tris
tris = load(M + "cornell-box.obj") + load(M + "cornell-blocks.obj")
albedo = {"white": np.array([0.725, 0.71, 0.68]), "red": np.array([0.63, 0.065, 0.05]), "green": np.array([0.14, 0.45, 0.091])}
Le = np.array([17.0, 12.0, 4.0])
light = [np.array(v) for v in ([343.0, 548.7, 227.0], [343.0, 548.7, 332.0], [213.0, 548.7, 332.0], [213.0, 548.7, 227.0])]

def form_factor(p, n):
    s = 0.0
    for i in range(4):
        a, b = light[i] - p, light[(i + 1) % 4] - p
        a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
        c = np.cross(a, b); th = math.acos(max(-1, min(1, a.dot(b))))
        s += th * n.dot(c / np.linalg.norm(c))
    return abs(s) / (2 * math.pi)

W = H = 128
fwd = np.array([0, 0, 1.0]); right = np.cross(fwd, [0, 1, 0]); right /= np.linalg.norm(right); up = np.cross(right, fwd)
halfH = math.tan(math.radians(39.3077) / 2); halfW = halfH
org = np.array([278, 273, -800.0])
def trace(d):
    best, bt = None, 1e30
    for a, b, c, m in tris:
        e1, e2 = b - a, c - a; pv = np.cross(d, e2); det = e1.dot(pv)
        if abs(det) < 1e-12: continue
        tv = org - a; u = tv.dot(pv) / det
        if u < 0 or u > 1: continue
        qv = np.cross(tv, e1); v = d.dot(qv) / det
        if v < 0 or u + v > 1: continue
        t = e2.dot(qv) / det
        if 1e-6 < t < bt: bt, best = t, (a, b, c, m)
    return bt, best

def pixel(x, y, k=16):
    acc = np.zeros(3)
    for i in range(k):
        for j in range(k):
            sx = (2 * (x + (i + 0.5) / k) / W - 1) * halfW; sy = (1 - 2 * (y + (j + 0.5) / k) / H) * halfH
            d = fwd + right * sx + up * sy; d /= np.linalg.norm(d)
            t, hit = trace(d)
            if hit is None or hit[3] == "light" or hit[3] is None: return None
            a, b, c, m = hit
            n = np.cross(b - a, c - a); n /= np.linalg.norm(n)
            if n.dot(d) > 0: n = -n
            p = org + d * t
            if p[1] < 430: return None  # keep to the upper walls: nothing between them and the light
            acc += albedo[m] * Le * form_factor(p, n)
    return acc / (k * k)

t2 = pfm.read_pfm(os.path.join(os.path.dirname(os.path.abspath(__file__)), "img/t_cornell_d2_1024.pfm"))
c2 = pfm.read_pfm(os.path.join(os.path.dirname(os.path.abspath(__file__)), "img/c_cornell_d2_1024.pfm"))
extra = {}
for name in sys.argv[1:]:
    extra[name] = pfm.read_pfm(name)
regions = {"upper left (red) wall": (8, 24, 0, 12), "upper right (green) wall": (8, 24, 118, 128),
           "upper back wall": (30, 38, 30, 98)}
for rn, (y0, y1, x0, x1) in regions.items():
    ref, ts, cs, ex, cnt = 0, 0, 0, {k: 0 for k in extra}, 0
    for y in range(y0, y1):
        for x in range(x0, x1):
            v = pixel(x, y, 8)
            if v is None: continue
            ref += v.sum(); ts += t2[y, x].sum(); cs += c2[y, x].sum(); cnt += 1
            for k in extra: ex[k] += extra[k][y, x].sum()
    print("%-26s %4d px: analytic %.5f  tessera %.5f (%+.2f%%)  cycles %.5f (%+.2f%%)" % (
        rn, cnt, ref / cnt, ts / cnt, 100 * (ts / ref - 1), cs / cnt, 100 * (cs / ref - 1)) +
        "".join("  %s %+.2f%%" % (os.path.basename(k), 100 * (ex[k] / ref - 1)) for k in extra))
