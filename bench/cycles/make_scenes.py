# Copies of tessera's scenes with absolute mesh paths and a chosen maxDepth,
# so that they can live outside the checkout (tessera has no depth flag).
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(os.environ.get("TESSERA_REPO", os.path.join(here, "..", "..")), "testdata/scenes")
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenes")
os.makedirs(out, exist_ok=True)
for name in ("cornell", "bunny"):
    for depth in (2, 3, 8):
        sj = json.load(open(os.path.join(src, name + ".json")))
        for o in sj["objects"]:
            if "file" in o:
                o["file"] = os.path.normpath(os.path.join(src, o["file"]))
        sj["image"]["maxDepth"] = depth
        with open(os.path.join(out, "%s_d%d.json" % (name, depth)), "w") as f:
            json.dump(sj, f, indent=1)
# The still life: Blender's glTF export on its own, its camera by name.
for depth in (2, 3, 8):
    sj = {"camera": {"object": 0, "name": "Camera"},
          "image": {"width": 160, "height": 100, "maxDepth": depth},
          "objects": [{"type": "gltf", "file": os.path.normpath(os.path.join(src, "stilllife.glb"))}]}
    with open(os.path.join(out, "stilllife_d%d.json" % depth), "w") as f:
        json.dump(sj, f, indent=1)
print("scenes in", out)
