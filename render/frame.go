package render

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// This file is a scene at a frame of its animation: what moves (the
// camera, glTF nodes that animations move, objects of the scene file with
// keyframes), where it is at frame f, and the Scene that renders frame f.
//
// The scene as loaded is the still: every node as the file has it, every
// object at its own translate, rotate and scale, no animation evaluated.
// Frame f evaluates glTF animations at time f/fps (float32, as glTF keys
// are stored: see gltfTime) and the scene file's keyframes at frame f.
// Only what moves is computed again: a frame in which no mesh moves shares
// the still's primitives and BVH and costs a camera (and the punctual
// lights that move); a frame in which meshes move places their triangles
// at the frame under a two-level BVH (frametree.go): the trees of what
// never moves and of each moving mesh are built once, a frame refits the
// movers' and puts a small top level over them.

// MaxFrame is the largest frame number (Blender's): frames run from 0 to
// MaxFrame.
const MaxFrame = 1048574

// DefaultFPS is the frame rate at which glTF animations are played when
// the scene file gives none: frame f is at time f/24 s, as Blender 3.4
// exports them (frame 1 at 1/24 s).
const DefaultFPS = 24

// maxFPS bounds a scene file's "fps".
const maxFPS = 1000

// sceneAnim is what moves in a scene. A scene in which nothing moves has
// none (sceneData.anim is nil) and renders every frame as the still.
type sceneAnim struct {
	fps        float64
	objects    []*animObject // objects of the scene file that move something
	camera     *camAnim      // nil: the camera stands still
	movers     []mover       // mesh instances that move
	lights     []lightSlot   // every punctual light, in the still's order
	lightsMove bool

	// The still's primitives before the BVH reordered them: those of no
	// mover are every frame's.
	pv   [][3]uint32
	info []primInfo

	// The trees of the primitives that never move and of each mover's,
	// built from the still at the first frame asked for (frametree.go).
	groupsOnce sync.Once
	groups     []frameGroup
}

// animObject is an object of the scene file that moves something: a glTF
// object with animations, or any object with keyframes.
type animObject struct {
	rest  trsXf    // the object's own translate, rotate and scale
	keys  *trsKeys // keyframes; nil: rest at every frame
	nodes []gltfNode
	roots []int
	chans [][]gltfChannel // per node, the channels that move it
	// moving[n] is true when node n moves: a channel moves it or one of
	// its ancestors, or the object has keyframes.
	moving []bool
}

// trsXf is an object's transform as the scene file gives it.
type trsXf struct{ translate, rotate, scale Vec }

// affine returns the transform: scale, then rotate (Euler angles in
// degrees, X then Y then Z), then translate.
func (x trsXf) affine() affine {
	return affine{m: rotation(x.rotate).mul(mat3{{x.scale.X, 0, 0}, {0, x.scale.Y, 0}, {0, 0, x.scale.Z}}), t: x.translate}
}

// trsKeys are an object's keyframes: each of translate, rotate and scale
// that some key gives is a curve of the frame number; the others keep the
// object's own value.
type trsKeys struct {
	translate, rotate, scale *curve
}

// at returns the transform at frame f of an object whose own is rest.
func (k *trsKeys) at(f float64, rest trsXf) trsXf {
	x := rest
	var v [3]float64
	for _, c := range []struct {
		c   *curve
		dst *Vec
	}{{k.translate, &x.translate}, {k.rotate, &x.rotate}, {k.scale, &x.scale}} {
		if c.c != nil {
			c.c.sample(f, v[:])
			*c.dst = Vec{X: v[0], Y: v[1], Z: v[2]}
		}
	}
	return x
}

// camAnim is how the camera moves: by the scene file's keyframes on from,
// to and fov, or with a glTF node that moves.
type camAnim struct {
	base          cameraSpec
	from, to, fov *curve // keyframes; nil: base's

	obj, node int // a glTF camera's object and node; obj < 0 for keyframes
	cam       *gltfCamera
}

// mover is a mesh instance that moves: a glTF mesh on a node that moves,
// or a mesh or glTF object with keyframes.
type mover struct {
	obj, node int // the object (and for glTF, the node) whose transform places it
	lo, hi    int // its primitives in the still, before the BVH reordered them
	// place adds its triangles at the frame's transforms to sd.
	place func(sd *sceneData, x *frameXf) error
}

// lightSlot is a punctual light of the still: one that stands still, or one
// on a glTF node that moves, placed anew at every frame.
type lightSlot struct {
	still     punctualLight
	obj, node int // obj < 0: it stands still
	l         *gltfLight
}

// frameXf is an object's transforms at a frame.
type frameXf struct {
	trs    trsXf    // the object's translate, rotate and scale
	worlds []affine // a glTF object's node transforms
}

// anim returns the scene's animation, created on first use.
func (p *sceneParser) anim() *sceneAnim {
	if p.sd.anim == nil {
		p.sd.anim = &sceneAnim{fps: DefaultFPS}
	}
	return p.sd.anim
}

// movesAnything reports whether the animation moves something; a scene
// whose animation moves nothing drops it.
func (a *sceneAnim) movesAnything() bool {
	return a != nil && (a.camera != nil || len(a.movers) > 0 || a.lightsMove)
}

// transforms returns each object's transforms at frame f.
func (a *sceneAnim) transforms(f int) []frameXf {
	xs := make([]frameXf, len(a.objects))
	for i, o := range a.objects {
		xs[i].trs = o.rest
		if o.keys != nil {
			xs[i].trs = o.keys.at(float64(f), o.rest)
		}
		if o.nodes != nil {
			xs[i].worlds = o.worlds(xs[i].trs.affine(), gltfTime(f, a.fps))
		}
	}
	return xs
}

// worlds returns the world transform of every node of a glTF object placed
// by root, its animations at time t.
func (o *animObject) worlds(root affine, t float64) []affine {
	out := make([]affine, len(o.nodes))
	var walk func(n int, parent affine)
	walk = func(n int, parent affine) {
		out[n] = parent.mul(o.local(n, t))
		for _, c := range o.nodes[n].children {
			walk(c, out[n])
		}
	}
	for _, n := range o.roots {
		walk(n, root)
	}
	return out
}

// local returns node n's transform relative to its parent at time t.
func (o *animObject) local(n int, t float64) affine {
	nd := &o.nodes[n]
	if len(o.chans[n]) == 0 {
		return nd.local()
	}
	tr, q, s := nd.t, nd.r, nd.s
	var v [4]float64
	for i := range o.chans[n] {
		ch := &o.chans[n][i]
		ch.c.sample(t, v[:ch.c.w])
		switch ch.path {
		case pathTranslation:
			tr = Vec{X: v[0], Y: v[1], Z: v[2]}
		case pathRotation:
			q = v
		case pathScale:
			s = Vec{X: v[0], Y: v[1], Z: v[2]}
		}
	}
	return trs(tr, q, s)
}

// cameraAt returns the camera at frame f, with the objects' transforms xs.
func (c *camAnim) cameraAt(f int, xs []frameXf) (cameraSpec, error) {
	cs := c.base
	if c.obj >= 0 {
		return cs, cs.fromNode(c.cam, xs[c.obj].worlds[c.node])
	}
	var v [3]float64
	if c.from != nil {
		c.from.sample(float64(f), v[:])
		cs.from = Vec{X: v[0], Y: v[1], Z: v[2]}
	}
	if c.to != nil {
		c.to.sample(float64(f), v[:])
		cs.to = Vec{X: v[0], Y: v[1], Z: v[2]}
	}
	if c.fov != nil {
		c.fov.sample(float64(f), v[:1])
		cs.fov = v[0]
	}
	switch {
	case cs.from == cs.to:
		return cs, fmt.Errorf("the camera looks at its own position (%v)", cs.from)
	case cs.to.Sub(cs.from).Norm().Cross(cs.up.Norm()).Len() < 1e-9:
		return cs, fmt.Errorf("the camera looks along its up direction")
	case !(cs.fov > 0 && cs.fov < 180):
		return cs, fmt.Errorf("the camera's field of view is %v degrees (expected more than 0 and less than 180)", cs.fov)
	}
	return cs, nil
}

// fromNode points the camera as glTF camera cam on a node at world xf:
// from the node's origin along its -Z axis, its +Y up.
func (cs *cameraSpec) fromNode(cam *gltfCamera, xf affine) error {
	cs.from = xf.apply(Vec{})
	fwd := xf.m.apply(Vec{Z: -1}).Norm()
	cs.up = xf.m.apply(Vec{Y: 1}).Norm()
	cs.to = cs.from.Add(fwd)
	cs.fov = cam.yfov * 180 / math.Pi
	if fwd.IsZero() || !cs.from.finite() || !fwd.finite() || fwd.Cross(cs.up).Len() < 1e-9 {
		return fmt.Errorf("camera %q: its node's transform is degenerate", cam.name)
	}
	return nil
}

// frameSeed is what frame f adds to every pixel's seed (pixelKey): a
// bijective hash of f, so that frames get their own samples. The still
// adds 0.
func frameSeed(f int) uint64 { return mix64(uint64(f) + 0xA4093822299F31D0) }

// frameCache keeps the scenes of the last frames asked for, so that every
// tile of a frame is rendered from one (the workers of a node ask for the
// same frame at once).
type frameCache struct {
	mu      sync.Mutex
	entries []*frameEntry // most recent last
}

type frameEntry struct {
	f     int
	once  sync.Once
	scene *Scene
	err   error
}

// framesKept is how many frames' scenes a scene keeps: a render works on a
// frame and the next one or two.
const framesKept = 4

// frame returns the scene of still s at frame f, from the cache when it is
// there.
func (fc *frameCache) frame(s *sceneData, f int) (*Scene, error) {
	fc.mu.Lock()
	var e *frameEntry
	for i, x := range fc.entries {
		if x.f == f {
			e = x
			fc.entries = append(append(fc.entries[:i:i], fc.entries[i+1:]...), x)
			break
		}
	}
	if e == nil {
		e = &frameEntry{f: f}
		fc.entries = append(fc.entries, e)
		if len(fc.entries) > framesKept {
			fc.entries = slices.Delete(fc.entries, 0, 1)
		}
	}
	fc.mu.Unlock()
	e.once.Do(func() {
		var fd *sceneData
		if fd, e.err = s.atFrame(f); e.err == nil {
			e.scene = &Scene{sceneData: *fd}
		}
	})
	return e.scene, e.err
}

// atFrame builds the scene of still s at frame f.
func (s *sceneData) atFrame(f int) (*sceneData, error) {
	fd := *s
	fd.still, fd.frames, fd.frameSeed = s, nil, frameSeed(f)
	a := s.anim
	if a == nil {
		return &fd, nil
	}
	xs := a.transforms(f)
	if a.camera != nil {
		cam, err := a.camera.cameraAt(f, xs)
		if err != nil {
			return nil, fmt.Errorf("%w: frame %d: %v", ErrBadSettings, f, err)
		}
		fd.camera = cam
	}
	if a.lightsMove {
		fd.punctual = make([]punctualLight, 0, len(a.lights))
		for _, sl := range a.lights {
			if sl.obj < 0 {
				fd.punctual = append(fd.punctual, sl.still)
			} else if pl, ok := placedLight(sl.l, xs[sl.obj].worlds[sl.node]); ok {
				fd.punctual = append(fd.punctual, pl)
			}
		}
	}
	if len(a.movers) > 0 {
		// Rebuild: every frame's primitives, then the movers' at the frame.
		fd.pv = make([][3]uint32, 0, len(a.pv))
		fd.info = make([]primInfo, 0, len(a.info))
		from := 0
		for _, m := range a.movers {
			fd.pv = append(fd.pv, a.pv[from:m.lo]...)
			fd.info = append(fd.info, a.info[from:m.lo]...)
			from = m.hi
		}
		fd.pv = append(fd.pv, a.pv[from:]...)
		fd.info = append(fd.info, a.info[from:]...)
		// The movers' points and attributes are added after the still's,
		// into copies (the still's arrays are full: append copies them).
		fd.verts, fd.nrm, fd.uv, fd.tan = slices.Clip(s.verts), slices.Clip(s.nrm), slices.Clip(s.uv), slices.Clip(s.tan)
		counts := []int{len(fd.info)} // the primitives that never move, then each mover's
		for _, m := range a.movers {
			before := len(fd.info)
			if err := m.place(&fd, &xs[m.obj]); err != nil {
				return nil, fmt.Errorf("frame %d: %w", f, err)
			}
			counts = append(counts, len(fd.info)-before)
		}
		fd.lights, fd.lightTree, fd.lightFlat, fd.suns = nil, nil, nil, nil
		a.groupsOnce.Do(func() { a.groups = a.frameGroups(s.verts) })
		if tree, order, ok := fd.frameTree(a.groups, counts); ok {
			fd.finishTree(tree, order)
		} else {
			fd.finishShapes()
		}
		fd.indexLights(true)
	} else if a.lightsMove {
		fd.lights, fd.lightTree, fd.lightFlat, fd.suns = nil, nil, nil, nil
		fd.indexLights(false)
	}
	return &fd, nil
}
