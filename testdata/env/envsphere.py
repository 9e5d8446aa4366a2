# Cycles renders a white diffuse sphere (radius 1, albedo 0.8) at the origin
# under an equirectangular map, as testdata/env/envsphere*.json describe it
# for tessera (Blender's Z up is tessera's Y, Blender's Y is tessera's -Z).
# usage: blender -b --factory-startup -P envsphere.py -- OUT.pfm MAP.hdr W H SPP CX CY CZ [ROTZ_DEG]
# (CX CY CZ: the camera in Blender's axes, looking at the origin, 40 degrees vertical)
import bpy, sys, os, array, math
from mathutils import Vector
a = sys.argv[sys.argv.index('--') + 1:]
out, hdr, W, H, spp = a[0], a[1], int(a[2]), int(a[3]), int(a[4])
cam_at = Vector((float(a[5]), float(a[6]), float(a[7])))
rotz = float(a[8]) if len(a) > 8 else 0.0
bpy.ops.wm.read_factory_settings(use_empty=True)
sc = bpy.context.scene
bpy.ops.mesh.primitive_uv_sphere_add(segments=128, ring_count=64, radius=1, location=(0, 0, 0))
sph = bpy.context.object
bpy.ops.object.shade_smooth()
m = bpy.data.materials.new('white'); m.use_nodes = True
nt = m.node_tree; nt.nodes.clear()
d = nt.nodes.new('ShaderNodeBsdfDiffuse'); d.inputs['Color'].default_value = (0.8, 0.8, 0.8, 1)
o = nt.nodes.new('ShaderNodeOutputMaterial'); nt.links.new(d.outputs['BSDF'], o.inputs['Surface'])
sph.data.materials.append(m)
cd = bpy.data.cameras.new('cam'); cd.sensor_fit = 'VERTICAL'; cd.angle_y = math.radians(40)
cam = bpy.data.objects.new('cam', cd); sc.collection.objects.link(cam); sc.camera = cam
cam.location = cam_at
cam.rotation_euler = (Vector((0, 0, 0)) - cam_at).to_track_quat('-Z', 'Y').to_euler()
w = bpy.data.worlds.new('env'); sc.world = w; w.use_nodes = True
wn = w.node_tree; t = wn.nodes.new('ShaderNodeTexEnvironment'); t.image = bpy.data.images.load(hdr)
if rotz:
    tc = wn.nodes.new('ShaderNodeTexCoord'); mp = wn.nodes.new('ShaderNodeMapping'); mp.vector_type = 'POINT'
    mp.inputs['Rotation'].default_value = (0, 0, math.radians(rotz))
    wn.links.new(tc.outputs['Generated'], mp.inputs['Vector']); wn.links.new(mp.outputs['Vector'], t.inputs['Vector'])
wn.links.new(t.outputs['Color'], wn.nodes['Background'].inputs['Color'])
r = sc.render; r.engine = 'CYCLES'; r.resolution_x, r.resolution_y, r.resolution_percentage = W, H, 100
c = sc.cycles; c.device = 'CPU'; c.samples = spp; c.use_adaptive_sampling = False; c.use_denoising = False
c.max_bounces = 8; c.sample_clamp_direct = 0; c.sample_clamp_indirect = 0
r.threads_mode = 'FIXED'; r.threads = 2
sc.view_settings.view_transform = 'Standard'; sc.view_settings.look = 'None'
r.image_settings.file_format = 'OPEN_EXR'; r.image_settings.color_depth = '32'
exr = out + '.exr'; r.filepath = exr
bpy.ops.render.render(write_still=True)
img = bpy.data.images.load(exr); px = array.array('f', img.pixels[:])
with open(out, 'wb') as f:
    f.write(b'PF\n%d %d\n-1.0\n' % (W, H))
    f.write(array.array('f', (px[i] for i in range(len(px)) if i % 4 != 3)).tobytes())  # rows bottom to top
os.remove(exr); print('wrote', out)
