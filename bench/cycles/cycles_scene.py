# Rebuild a tessera scene (JSON + OBJ) in Blender/Cycles and render it.
#
#   blender -b -t THREADS -P cycles_scene.py -- SCENE.json [options]
#
# Options (after --):
#   -width W -height H      image size (default: the scene's)
#   -depth D                tessera maxDepth (surface vertices incl. the light);
#                           Cycles bounces = D - 2 (default: the scene's)
#   -spp N[,N...]           renders to do, in order, each timed (default: scene's)
#   -warm 1                 do an untimed 1-spp render first (kernel load, caches)
#   -seed S                 Cycles seed (default 0)
#   -out PREFIX             write PREFIX<spp>.pfm (linear float RGB) for each render
#   -log FILE               append one JSON line per timed render
#   -twosided               emit on both sides of lights (default: tessera's one-sided)
#   -thresh X               light_sampling_threshold (default: Cycles' 0.01)
#   -save-blend FILE        save the .blend for inspection
#
# A scene file of one "gltf" object (the still life) is imported with
# Blender's glTF importer instead, its punctual lights made point-like.
#
# Geometry is built exactly as tessera builds it (render/mesh.go): OBJ polygons
# as fans, vertices transformed by Rz*Ry*Rx*diag(scale) then translated, smooth
# shading from area-weighted vertex normals (set as custom split normals so that
# Blender does not recompute them with its angle weighting).
import bpy, sys, os, json, math, time, resource, struct
from mathutils import Matrix, Vector

argv = sys.argv[sys.argv.index("--") + 1:]
scene_path = argv[0]
opts = {}
i = 1
while i < len(argv):
    k = argv[i].lstrip("-")
    if k in ("twosided",):
        opts[k] = True
        i += 1
    else:
        opts[k] = argv[i + 1]
        i += 2

with open(scene_path) as f:
    sj = json.load(f)
base = os.path.dirname(os.path.abspath(scene_path))
img = sj.get("image", {})
W = int(opts.get("width", img.get("width", 512)))
H = int(opts.get("height", img.get("height", 512)))
depth = int(opts.get("depth", img.get("maxDepth", 8)))
spps = [int(s) for s in opts.get("spp", str(img.get("spp", 64))).split(",")]
seed = int(opts.get("seed", 0))
out_prefix = opts.get("out")
log_path = opts.get("log")
two_sided_all = opts.get("twosided", False)


# ---------------------------------------------------------------- OBJ --
def parse_obj(path):
    """v, vn, f (fans, negative indices), usemtl; returns verts, normals, tris."""
    verts, norms, tris = [], [], []  # tris: ((v0,v1,v2), (n0,n1,n2) or None, mtl)
    mtl = None
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if parts[0] == "v":
                verts.append(tuple(float(x) for x in parts[1:4]))
            elif parts[0] == "vn":
                norms.append(tuple(float(x) for x in parts[1:4]))
            elif parts[0] == "usemtl":
                mtl = parts[1]
            elif parts[0] == "mtllib":
                raise SystemExit("mtllib not supported by this converter")
            elif parts[0] == "f":
                cs = []
                for c in parts[1:]:
                    fs = c.split("/")
                    vi = int(fs[0])
                    vi = vi - 1 if vi > 0 else len(verts) + vi
                    ni = None
                    if len(fs) >= 3 and fs[2]:
                        ni = int(fs[2])
                        ni = ni - 1 if ni > 0 else len(norms) + ni
                    cs.append((vi, ni))
                for k in range(1, len(cs) - 1):
                    tri = (cs[0], cs[k], cs[k + 1])
                    vn = tuple(c[1] for c in tri)
                    tris.append((tuple(c[0] for c in tri), None if None in vn else vn, mtl))
    return verts, norms, tris


def rotation(r):
    sx, cx = math.sin(math.radians(r[0])), math.cos(math.radians(r[0]))
    sy, cy = math.sin(math.radians(r[1])), math.cos(math.radians(r[1]))
    sz, cz = math.sin(math.radians(r[2])), math.cos(math.radians(r[2]))
    rx = Matrix(((1, 0, 0), (0, cx, -sx), (0, sx, cx)))
    ry = Matrix(((cy, 0, sy), (0, 1, 0), (-sy, 0, cy)))
    rz = Matrix(((cz, -sz, 0), (sz, cz, 0), (0, 0, 1)))
    return rz @ ry @ rx


# ---------------------------------------------------------- materials --
def make_material(name, spec):
    m = bpy.data.materials.new(name)
    m.use_nodes = True
    nt = m.node_tree
    for n in list(nt.nodes):
        nt.nodes.remove(n)
    out = nt.nodes.new("ShaderNodeOutputMaterial")
    t = spec.get("type")
    if t == "diffuse":
        a = spec.get("albedo", [0.8, 0.8, 0.8])
        d = nt.nodes.new("ShaderNodeBsdfDiffuse")
        d.inputs["Color"].default_value = (a[0], a[1], a[2], 1)
        d.inputs["Roughness"].default_value = 0.0  # Lambert
        nt.links.new(d.outputs["BSDF"], out.inputs["Surface"])
    elif t == "emissive":
        e = spec["emission"]
        s = max(e)
        em = nt.nodes.new("ShaderNodeEmission")
        em.inputs["Color"].default_value = (e[0] / s, e[1] / s, e[2] / s, 1)
        em.inputs["Strength"].default_value = s  # mesh emission: radiance = colour * strength
        if spec.get("twoSided", False) or two_sided_all:
            nt.links.new(em.outputs["Emission"], out.inputs["Surface"])
        else:
            # tessera: the back of a one-sided light is black and ends the path.
            geo = nt.nodes.new("ShaderNodeNewGeometry")
            mix = nt.nodes.new("ShaderNodeMixShader")
            nt.links.new(geo.outputs["Backfacing"], mix.inputs["Fac"])
            nt.links.new(em.outputs["Emission"], mix.inputs[1])  # front
            # input 2 (back) left empty: no closure, black
            nt.links.new(mix.outputs["Shader"], out.inputs["Surface"])
        m.cycles.sample_as_light = True  # light-sampled (MIS), as tessera's NEE
    else:
        raise SystemExit("material type %r not supported by this converter" % t)
    return m


# -------------------------------------------------------------- scene --
bpy.ops.wm.read_factory_settings(use_empty=True)
sc = bpy.context.scene
gltf = [o for o in sj["objects"] if o["type"] == "gltf"]
mats = {} if gltf else {name: make_material(name, spec) for name, spec in sj.get("materials", {}).items()}
mat_names = list(mats)


def add_mesh(name, verts, faces, face_mats, vnormals=None):
    me = bpy.data.meshes.new(name)
    me.from_pydata(verts, [], faces)
    used = sorted(set(face_mats))
    slot = {}
    for mn in used:
        me.materials.append(mats[mn])
        slot[mn] = len(me.materials) - 1
    for p, mn in zip(me.polygons, face_mats):
        p.material_index = slot[mn]
        p.use_smooth = vnormals is not None
    me.update()
    if vnormals is not None:
        me.use_auto_smooth = True
        me.auto_smooth_angle = math.pi
        me.normals_split_custom_set_from_vertices(vnormals)
    ob = bpy.data.objects.new(name, me)
    sc.collection.objects.link(ob)
    return ob


ntris = 0
if gltf:
    # A glTF scene alone (the still life): Blender's importer, the camera
    # the scene file names, and its punctual lights as glTF defines them
    # (Blender gives them a radius of 0.25 m and the sun an angle of 0.53°).
    if len(sj["objects"]) != 1 or "translate" in gltf[0] or "rotate" in gltf[0] or "scale" in gltf[0]:
        raise SystemExit("a glTF scene must be one untransformed gltf object")
    import numpy
    if not hasattr(numpy, "bool"):
        numpy.bool = bool  # Debian's numpy 1.24 vs Blender 3.4's importer
    bpy.ops.import_scene.gltf(filepath=os.path.join(base, gltf[0]["file"]))
    sc = bpy.context.scene
    cams = [o for o in sc.objects if o.type == "CAMERA"]
    want = sj.get("camera", {}).get("name")
    sc.camera = next((c for c in cams if want in (c.name, c.data.name)), cams[0])
    for o in sc.objects:
        if o.type == "LIGHT":
            o.data.shadow_soft_size = 0
            if o.data.type == "SUN":
                o.data.angle = 0
        if o.type == "MESH":
            ntris += sum(len(p.vertices) - 2 for p in o.data.polygons)
for oi, o in enumerate([] if gltf else sj["objects"]):
    t = o["type"]
    if t == "mesh":
        verts, norms, tris = parse_obj(os.path.join(base, o["file"]))
        sc_ = o.get("scale", 1)
        s = Vector(sc_) if isinstance(sc_, list) else Vector((sc_, sc_, sc_))
        rot = rotation(o.get("rotate", [0, 0, 0]))
        xf = rot @ Matrix(((s.x, 0, 0), (0, s.y, 0), (0, 0, s.z)))
        tr = Vector(o.get("translate", [0, 0, 0]))
        pos = [xf @ Vector(v) + tr for v in verts]
        if any(t_[1] is not None for t_ in tris):
            raise SystemExit("OBJ vn not supported by this converter (none in these scenes)")
        vnorm = None
        if o.get("smooth", False):
            acc = [Vector((0, 0, 0)) for _ in pos]
            for (a, b, c), _, _ in tris:
                cr = (pos[b] - pos[a]).cross(pos[c] - pos[a])
                for k in (a, b, c):
                    acc[k] += cr
            vnorm = [v.normalized() for v in acc]
        faces, fm = [], []
        for (a, b, c), _, mtl in tris:
            mn = o.get("material", mtl)
            if mn not in mats:
                raise SystemExit("unknown material %r" % mn)
            faces.append((a, b, c))
            fm.append(mn)
        add_mesh("obj%d" % oi, [tuple(p) for p in pos], faces, fm, vnorm)
        ntris += len(faces)
    elif t == "quad":
        c, u, v = Vector(o["corner"]), Vector(o["u"]), Vector(o["v"])
        add_mesh("obj%d" % oi, [tuple(c), tuple(c + u), tuple(c + u + v), tuple(c + v)],
                 [(0, 1, 2), (0, 2, 3)], [o["material"]] * 2)
        ntris += 2
    else:
        raise SystemExit("object type %r not supported by this converter" % t)

# Camera: tessera forward = to - from, right = forward x up, up' = right x forward.
cj = sj["camera"] if not gltf else {}
if not gltf:
    frm, to = Vector(cj["from"]), Vector(cj["to"])
    upv = Vector(cj.get("up", [0, 1, 0]))
    fwd = (to - frm).normalized()
    right = fwd.cross(upv).normalized()
    up = right.cross(fwd)
    if cj.get("aperture", 0):
        raise SystemExit("aperture not supported by this converter")
    cam_data = bpy.data.cameras.new("cam")
    cam_data.type = "PERSP"
    cam_data.sensor_fit = "VERTICAL"  # tessera's fov is vertical whatever the aspect
    cam_data.sensor_height = 24.0
    fov = math.radians(cj.get("fov", 40))
    cam_data.lens = (cam_data.sensor_height / 2) / math.tan(fov / 2)
    cam_data.clip_start = 1e-3
    cam_data.clip_end = 1e7  # the box is 800-1360 units away: Blender's default 100 would clip it
    cam = bpy.data.objects.new("cam", cam_data)
    # Blender cameras look down local -Z with +Y up and +X right.
    m = Matrix.Identity(4)
    for r in range(3):
        m[r][0], m[r][1], m[r][2], m[r][3] = right[r], up[r], -fwd[r], frm[r]
    cam.matrix_world = m
    sc.collection.objects.link(cam)
    sc.camera = cam

# World: uniform background radiance (black here), not importance-sampled when black.
bg = sj.get("background", [0, 0, 0])
world = bpy.data.worlds.new("world")
world.use_nodes = True
bgn = world.node_tree.nodes["Background"]
bgn.inputs["Color"].default_value = (bg[0], bg[1], bg[2], 1)
bgn.inputs["Strength"].default_value = 1.0
if max(bg) == 0:
    world.cycles.sampling_method = "NONE"
sc.world = world

# Render settings.
r = sc.render
r.engine = "CYCLES"
r.resolution_x, r.resolution_y, r.resolution_percentage = W, H, 100
r.use_compositing = False
r.use_sequencer = False
r.film_transparent = False
r.threads_mode = "FIXED"
r.threads = int(os.environ.get("CYCLES_THREADS", "1"))
r.use_persistent_data = False
r.image_settings.file_format = "OPEN_EXR"
r.image_settings.color_depth = "32"
r.image_settings.exr_codec = "NONE"
r.image_settings.color_mode = "RGB"
sc.view_settings.view_transform = "Standard"
sc.view_settings.look = "None"
sc.view_settings.exposure = 0
sc.view_settings.gamma = 1
c = sc.cycles
c.device = "CPU"
c.feature_set = "SUPPORTED"
c.use_adaptive_sampling = False
c.use_denoising = False
c.use_preview_denoising = False
c.max_bounces = depth - 2  # tessera maxDepth counts surface vertices incl. the light
c.diffuse_bounces = depth - 2
c.glossy_bounces = depth - 2
c.transmission_bounces = depth - 2
c.volume_bounces = 0
c.transparent_max_bounces = depth - 2
c.sample_clamp_direct = 0.0
c.sample_clamp_indirect = 0.0
c.caustics_reflective = True
c.caustics_refractive = True
c.blur_glossy = 0.0
c.pixel_filter_type = "BOX"
c.filter_width = 1.0  # box over one pixel: tessera averages samples uniform in the pixel
c.seed = seed
c.use_animated_seed = False
c.film_exposure = 1.0
if "thresh" in opts:
    c.light_sampling_threshold = float(opts["thresh"])
sc.view_layers[0].use_pass_combined = True

if opts.get("save-blend"):
    bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(opts["save-blend"]))

stats_lines = []


def on_stats(s):
    stats_lines.append(str(s))


bpy.app.handlers.render_stats.append(on_stats)


def cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def write_pfm(path, w, h, px):  # px: RGBA floats, rows bottom to top (as PFM)
    rgb = bytearray()
    import array
    a = array.array("f", px)
    try:
        import numpy as np
        arr = np.frombuffer(a, dtype=np.float32).reshape(h * w, 4)[:, :3].astype("<f4")
        data = arr.tobytes()
    except ImportError:
        out = array.array("f", [0.0]) * (w * h * 3)
        for k in range(w * h):
            out[3 * k:3 * k + 3] = a[4 * k:4 * k + 3]
        data = out.tobytes()
    with open(path, "wb") as f:
        f.write(b"PF\n%d %d\n-1.0\n" % (w, h))
        f.write(data)


def render(spp, timed=True):
    c.samples = spp
    c.preview_samples = spp
    stats_lines.clear()
    t0, c0 = time.perf_counter(), cpu()
    bpy.ops.render.render(write_still=False)
    t1, c1 = time.perf_counter(), cpu()
    res = {"spp": spp, "wall": t1 - t0, "cpu": c1 - c0, "width": W, "height": H, "depth": depth,
           "threads": r.threads, "seed": seed, "scene": os.path.basename(scene_path),
           "tris": ntris, "loadavg": os.getloadavg()[0],
           "cycles_stats": stats_lines[-1] if stats_lines else ""}
    if out_prefix:
        exr = os.path.abspath(out_prefix + "%d.exr" % spp)
        bpy.data.images["Render Result"].save_render(exr)
        im = bpy.data.images.load(exr)
        im.colorspace_settings.name = "Linear"
        write_pfm(out_prefix + "%d.pfm" % spp, im.size[0], im.size[1], im.pixels[:])
        bpy.data.images.remove(im)
        os.remove(exr)
    if timed and log_path:
        with open(log_path, "a") as f:
            f.write(json.dumps(res) + "\n")
    print("CYCLESRUN", json.dumps(res), flush=True)
    return res


if opts.get("warm", "0") != "0":
    render(1, timed=False)
for n in spps:
    render(n)
