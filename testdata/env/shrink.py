# Writes a downscaled copy of an .hdr map with Blender's own Radiance writer
# (run-length encoded), and the pixels Blender decodes from that copy as PFM.
# usage: blender -b --factory-startup -P shrink.py -- IN.hdr OUT.hdr W H OUT.pfm
import bpy, sys, array, struct
src, dst, w, h, pfm = sys.argv[sys.argv.index('--') + 1:][:5]
w, h = int(w), int(h)
img = bpy.data.images.load(src)
img.scale(w, h)
sc = bpy.context.scene
sc.render.image_settings.file_format = 'HDR'
img.save_render(dst, scene=sc)
back = bpy.data.images.load(dst)
px = array.array('f', back.pixels[:])
with open(pfm, 'wb') as f:
    f.write(b'PF\n%d %d\n-1.0\n' % (w, h))
    f.write(array.array('f', (px[i] for i in range(len(px)) if i % 4 != 3)).tobytes())  # rows bottom to top
print('wrote', dst, pfm)
