package render

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // textures may be JPEG
	_ "image/png"  // or PNG
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of the scene file format.
var (
	defaultSettings = Settings{Width: 512, Height: 512, SPP: 64, MaxDepth: 8}
	defaultAlbedo   = Vec{X: 0.8, Y: 0.8, Z: 0.8}
	white           = Vec{X: 1, Y: 1, Z: 1}
)

// sceneParser turns a scene file and the files it references into sceneData.
type sceneParser struct {
	src      source
	lim      Limits
	main     string
	r        *jsonReader
	sd       *sceneData
	matIndex map[string]int32            // scene materials by name
	texIndex map[string]int32            // textures by bundle name
	mtlLibs  map[string]map[string]int32 // MTL file (bundle name) → material name → index

	gltfObjects map[int]*gltfPlaced // glTF objects by their index in "objects"
	imgIndex    map[string]int32    // pbr texture images by name
	camRef      *cameraRef          // a camera taken from a glTF object, resolved after the objects
	imgW, imgH  bool                // the scene file gives the image's width, height
	fps         float64             // "fps": the frame rate at which glTF animations play
}

// cameraRef is a scene camera that a glTF object holds.
type cameraRef struct {
	where  string // JSON path of the camera
	object int    // index in "objects"
	name   string // "" for the first perspective camera
}

// parseScene reads the scene file main and everything it references from src.
func parseScene(src source, main string, lim Limits) (*sceneData, error) {
	start := time.Now()
	data, err := src.read(main)
	if err != nil {
		return nil, &LoadError{File: main, Err: err}
	}
	if int64(len(data)) > lim.MaxJSONBytes {
		return nil, &LoadError{File: main, Err: &LimitError{Limit: "MaxJSONBytes", What: "bytes of scene JSON", Value: int64(len(data)), Max: lim.MaxJSONBytes}}
	}
	v, err := decodeJSON(main, data)
	if err != nil {
		return nil, err
	}
	p := &sceneParser{
		src: src, lim: lim, main: main,
		r:        &jsonReader{file: main},
		sd:       &sceneData{lim: lim},
		matIndex: map[string]int32{},
		texIndex: map[string]int32{},
		mtlLibs:  map[string]map[string]int32{},
	}
	if err := p.parse(v); err != nil {
		return nil, err
	}
	if a := p.sd.anim; a.movesAnything() {
		a.fps = p.fps
	} else {
		p.sd.anim = nil
	}
	p.sd.stats.Parse = time.Since(start)
	return p.sd, nil
}

func (p *sceneParser) parse(v any) error {
	r := p.r
	root := r.object("", v)
	if cam := root.sub("camera"); cam != nil {
		p.camera(cam)
	} else {
		r.fail("", `missing field "camera" (an object with "from" and "to")`)
	}
	p.sd.settings = defaultSettings
	if im := root.sub("image"); im != nil {
		p.image(im)
	}
	p.sd.background = p.color(root, "background", Vec{}, false)
	p.fps = root.num("fps", DefaultFPS)
	if !(p.fps > 0 && p.fps <= maxFPS) && r.err == nil {
		r.fail(root.at("fps"), "expected frames per second, more than 0 and at most %d, got %v", maxFPS, p.fps)
	}
	if env := root.sub("environment"); env != nil {
		if root.has("background") {
			r.fail(root.at("environment"), `"environment" replaces "background": give one of them, not both`)
		} else {
			p.environment(env)
		}
	}
	if r.err != nil {
		return r.err
	}
	if mats := root.sub("materials"); mats != nil {
		names := make([]string, 0, len(mats.m))
		for name := range mats.m {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			mv, _ := mats.get(name)
			m := p.material(r.object(mats.at(name), mv))
			if r.err != nil {
				return r.err
			}
			m.name = name
			p.matIndex[name] = int32(len(p.sd.materials))
			p.sd.materials = append(p.sd.materials, m)
		}
	}
	objs := root.array("objects")
	if !root.has("objects") {
		r.fail("", `missing field "objects" (an array of spheres, quads, planes and meshes)`)
	}
	root.done()
	if r.err != nil {
		return r.err
	}
	for i, ov := range objs {
		if err := p.object(r.object(fmt.Sprintf("objects[%d]", i), ov), i); err != nil {
			return err
		}
		if r.err != nil {
			return r.err
		}
	}
	if p.camRef != nil && (p.camRef.object < 0 || p.camRef.object >= len(objs)) {
		return loadErr(p.main, p.camRef.where+".object", "objects[%d] does not exist (the scene has %d objects)", p.camRef.object, len(objs))
	}
	return p.resolveCamera()
}

func (p *sceneParser) camera(o *jobj) {
	c := &p.sd.camera
	if o.has("object") {
		// A camera of a glTF object: resolved once the objects are loaded.
		ref := &cameraRef{where: o.path, object: o.int("object", 0), name: o.str("name", "")}
		if o.has("keys") {
			o.get("keys")
			p.r.fail(o.at("keys"), "a glTF object's camera moves with its node, as the file's animations move it: keyframes are for a camera given by \"from\" and \"to\"")
		}
		o.done()
		p.camRef = ref
		return
	}
	keys := p.keyframes(o, cameraKeyProps)
	if fov := keys["fov"]; fov != nil {
		for k := range fov.keys() {
			if v := fov.value(k)[0]; !(v > 0 && v < 180) {
				p.r.fail(fmt.Sprintf("%s[%d].fov", o.at("keys"), k), "expected a vertical field of view in degrees, more than 0 and less than 180, got %v", v)
				return
			}
		}
	}
	if keys["from"] == nil {
		o.require("from", "the camera position")
	}
	if keys["to"] == nil {
		o.require("to", "the point the camera looks at")
	}
	c.from = o.vec("from", Vec{})
	c.to = o.vec("to", Vec{Z: -1})
	if k := keys["from"]; k != nil && !o.has("from") {
		c.from = k.first() // the still is where the first key is
	}
	if k := keys["to"]; k != nil && !o.has("to") {
		c.to = k.first()
	}
	c.up = o.vec("up", Vec{Y: 1})
	c.fov = o.num("fov", 40)
	if k := keys["fov"]; k != nil && !o.has("fov") {
		c.fov = k.value(0)[0]
	}
	c.aperture = o.num("aperture", 0)
	c.focusDistance = o.num("focusDistance", 0)
	o.done()
	if p.r.err != nil {
		return
	}
	switch {
	case c.from == c.to:
		p.r.fail(o.at("to"), "the camera looks at its own position: \"to\" must differ from \"from\"")
	case c.to.Sub(c.from).Norm().Cross(c.up.Norm()).Len() < 1e-9:
		p.r.fail(o.at("up"), "expected a direction not parallel to the view direction")
	case !(c.fov > 0 && c.fov < 180):
		p.r.fail(o.at("fov"), "expected a vertical field of view in degrees, more than 0 and less than 180, got %v", c.fov)
	case c.aperture < 0:
		p.r.fail(o.at("aperture"), "expected a lens diameter >= 0, got %v", c.aperture)
	case c.focusDistance < 0:
		p.r.fail(o.at("focusDistance"), "expected a distance >= 0 (0: the distance to \"to\"), got %v", c.focusDistance)
	}
	if len(keys) > 0 && p.r.err == nil {
		p.anim().camera = &camAnim{base: *c, from: keys["from"], to: keys["to"], fov: keys["fov"], obj: -1}
	}
}

func (p *sceneParser) image(o *jobj) {
	s := &p.sd.settings
	s.Width = o.int("width", s.Width)
	s.Height = o.int("height", s.Height)
	s.SPP = o.int("spp", s.SPP)
	s.MaxDepth = o.int("maxDepth", s.MaxDepth)
	p.imgW, p.imgH = o.has("width"), o.has("height")
	o.done()
	check := func(key string, v, most int, limit string) {
		switch {
		case v < 1:
			p.r.fail(o.at(key), "expected an integer from 1 to %d, got %d", most, v)
		case v > most:
			p.r.fail(o.at(key), "expected an integer from 1 to %d, got %d, over limit %s=%d", most, v, limit, most)
		}
	}
	check("width", s.Width, p.lim.MaxImageSide, "MaxImageSide")
	check("height", s.Height, p.lim.MaxImageSide, "MaxImageSide")
	check("spp", s.SPP, p.lim.MaxSPP, "MaxSPP")
	check("maxDepth", s.MaxDepth, p.lim.MaxDepth, "MaxDepth")
}

// color reads an optional RGB colour, non-negative, at most 1 when unit.
func (p *sceneParser) color(o *jobj, key string, def Vec, unit bool) Vec {
	c := o.vec(key, def)
	if c.X < 0 || c.Y < 0 || c.Z < 0 {
		p.r.fail(o.at(key), "expected a colour with components >= 0, got [%v, %v, %v]", c.X, c.Y, c.Z)
	} else if unit && c.MaxComp() > 1 {
		p.r.fail(o.at(key), "expected a reflectance with components from 0 to 1, got [%v, %v, %v]", c.X, c.Y, c.Z)
	}
	return c
}

func (p *sceneParser) material(o *jobj) material {
	m := material{tex: -1}
	if !o.require("type", `"diffuse", "metal", "dielectric", "emissive" or "pbr"`) {
		return m
	}
	switch typ := o.str("type", ""); typ {
	case "diffuse":
		m.kind = matDiffuse
		m.albedo = p.color(o, "albedo", defaultAlbedo, true)
		if o.has("texture") {
			if !o.has("albedo") {
				m.albedo = white
			}
			m.tex = p.texture(p.main, o.at("texture"), o.str("texture", ""))
		} else {
			o.get("texture")
		}
		if ch := o.sub("checker"); ch != nil {
			m.checker = true
			m.albedo = p.color(ch, "even", Vec{X: 0.9, Y: 0.9, Z: 0.9}, true)
			m.odd = p.color(ch, "odd", Vec{X: 0.1, Y: 0.1, Z: 0.1}, true)
			m.cell = ch.num("size", 1)
			ch.done()
			if !(m.cell > 0) {
				p.r.fail(ch.at("size"), "expected the size of a checker cell > 0, got %v", m.cell)
			}
		}
	case "metal":
		m.kind = matMetal
		m.albedo = p.color(o, "albedo", Vec{X: 0.9, Y: 0.9, Z: 0.9}, true)
		rough := o.num("roughness", 0)
		if rough < 0 || rough > 1 {
			p.r.fail(o.at("roughness"), "expected a roughness from 0 to 1, got %v", rough)
		}
		m.alpha = rough * rough
	case "dielectric":
		m.kind = matDielectric
		m.ior = o.num("ior", 1.5)
		m.albedo = p.color(o, "albedo", white, true)
		if !(m.ior > 0) || m.ior > 10 {
			p.r.fail(o.at("ior"), "expected an index of refraction > 0 and <= 10, got %v", m.ior)
		}
	case "emissive":
		m.kind = matEmissive
		o.require("emission", "the emitted radiance, linear RGB")
		m.emission = p.color(o, "emission", Vec{}, false)
		m.twoSided = o.boolean("twoSided", false)
	case "pbr":
		p.pbrMaterial(o, &m)
	default:
		p.r.fail(o.at("type"), `expected "diffuse", "metal", "dielectric", "emissive" or "pbr", got %q`, typ)
	}
	o.done()
	return m
}

// pbrMaterial reads a "pbr" material: glTF's metallic-roughness model.
func (p *sceneParser) pbrMaterial(o *jobj, m *material) {
	pm := &pbrMaterial{baseTex: noTex, mrTex: noTex, normTex: noTex, emTex: noTex, opacity: 1, normScale: 1, cutoff: -1}
	m.kind, m.pbr = matPBR, pm
	pm.base = p.color(o, "baseColor", defaultAlbedo, true)
	unit := func(key string, def float64) float64 {
		v := o.num(key, def)
		if v < 0 || v > 1 {
			p.r.fail(o.at(key), "expected a number from 0 to 1, got %v", v)
		}
		return v
	}
	pm.metallic = unit("metallic", 0)
	pm.roughness = unit("roughness", 0.5)
	pm.transmission = unit("transmission", 0)
	pm.ior = o.num("ior", 1.5)
	if !(pm.ior >= 1 && pm.ior <= 10) {
		p.r.fail(o.at("ior"), "expected an index of refraction from 1 to 10, got %v", pm.ior)
	}
	pm.f0 = sq((pm.ior - 1) / (pm.ior + 1))
	m.emission = p.color(o, "emission", Vec{}, false)
	m.twoSided = o.boolean("twoSided", false)
	if o.has("texture") {
		if !o.has("baseColor") {
			pm.base = white
		}
		ref := o.str("texture", "")
		if ref == "" {
			p.r.fail(o.at("texture"), "expected a file name")
			return
		}
		name := resolveRef(p.main, ref)
		idx, ok := p.imgIndex[name]
		if !ok {
			data, err := p.src.read(name)
			var img *texImage
			if err == nil {
				img, err = decodeImage8(name, data, p.lim)
			}
			if err != nil {
				if p.r.err == nil {
					p.r.err = &LoadError{File: p.main, Where: o.at("texture"), Err: fmt.Errorf("texture %q: %w", ref, err)}
				}
				return
			}
			if p.imgIndex == nil {
				p.imgIndex = map[string]int32{}
			}
			idx = int32(len(p.sd.images))
			p.imgIndex[name] = idx
			p.sd.images = append(p.sd.images, img)
		}
		pm.baseTex.img = idx
	}
}

// texture loads (once) the texture file ref named in file at where.
func (p *sceneParser) texture(file, where, ref string) int32 {
	if ref == "" {
		p.r.fail(where, "expected a file name")
		return -1
	}
	name := resolveRef(file, ref)
	if i, ok := p.texIndex[name]; ok {
		return i
	}
	t, err := p.loadTexture(name)
	if err != nil {
		if p.r.err == nil {
			p.r.err = &LoadError{File: file, Where: where, Err: fmt.Errorf("texture %q: %w", ref, err)}
		}
		return -1
	}
	i := int32(len(p.sd.textures))
	p.texIndex[name] = i
	p.sd.textures = append(p.sd.textures, t)
	return i
}

func (p *sceneParser) loadTexture(name string) (*texture, error) {
	data, err := p.src.read(name)
	if err != nil {
		return nil, err
	}
	img, err := decodeImage(data, p.lim)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	t := &texture{name: name, w: b.Dx(), h: b.Dy(), pix: make([]float32, 0, b.Dx()*b.Dy()*3)}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			if a > 0 && a < 0xffff {
				r, g, bl = r*0xffff/a, g*0xffff/a, bl*0xffff/a
			}
			t.pix = append(t.pix, srgbToLinear[min(r>>8, 255)], srgbToLinear[min(g>>8, 255)], srgbToLinear[min(bl>>8, 255)])
		}
	}
	return t, nil
}

// maxEnvStrength bounds an environment's strength: far above any real
// sky, low enough that no radiance overflows. maxEnvRotate bounds its
// rotation, in degrees.
const (
	maxEnvStrength = 1e12
	maxEnvRotate   = 1e6
)

// environment reads "environment": an equirectangular .hdr map, its
// strength and its rotation about the up axis.
func (p *sceneParser) environment(o *jobj) {
	o.require("file", "a Radiance .hdr file name")
	ref := o.str("file", "")
	strength := o.num("strength", 1)
	rotate := o.num("rotate", 0)
	o.done()
	switch {
	case p.r.err != nil:
		return
	case ref == "":
		p.r.fail(o.at("file"), "expected a file name")
		return
	case !(strength >= 0 && strength <= maxEnvStrength):
		p.r.fail(o.at("strength"), "expected a strength from 0 to %g, got %v", float64(maxEnvStrength), strength)
		return
	case math.Abs(rotate) > maxEnvRotate:
		p.r.fail(o.at("rotate"), "expected an angle in degrees from -%g to %g, got %v", float64(maxEnvRotate), float64(maxEnvRotate), rotate)
		return
	}
	name := resolveRef(p.main, ref)
	data, err := p.src.read(name)
	if err != nil {
		p.r.err = &LoadError{File: p.main, Where: o.at("file"), Err: fmt.Errorf("environment %q: %w", ref, err)}
		return
	}
	pic, err := decodeHDR(data, p.lim.MaxTexturePixels)
	if err != nil {
		le := &LoadError{File: name, Err: err}
		if he, ok := err.(*hdrError); ok {
			le.Where = fmt.Sprintf("byte %d", he.off)
		}
		p.r.err = le
		return
	}
	p.sd.env = newEnvMap(name, pic, strength, math.Mod(rotate, 360))
}

// decodeImage decodes a PNG or JPEG image, its size checked against
// MaxTexturePixels before any pixel is decoded.
func decodeImage(data []byte, lim Limits) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a PNG or JPEG image: %w", err)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > int64(lim.MaxTexturePixels) {
		return nil, &LimitError{Limit: "MaxTexturePixels", What: fmt.Sprintf("pixels (%dx%d)", cfg.Width, cfg.Height), Value: px, Max: int64(lim.MaxTexturePixels)}
	}
	if cfg.Width == 0 || cfg.Height == 0 {
		return nil, fmt.Errorf("empty image (%dx%d)", cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return img, nil
}

// materialRef resolves a material name read at key of o.
func (p *sceneParser) materialRef(o *jobj, key string) int32 {
	name := o.str(key, "")
	if i, ok := p.matIndex[name]; ok {
		return i
	}
	names := make([]string, 0, len(p.matIndex))
	for n := range p.matIndex {
		names = append(names, strconv.Quote(n))
	}
	slices.Sort(names)
	defined := "none"
	if len(names) > 0 {
		defined = strings.Join(names, ", ")
	}
	p.r.fail(o.at(key), "unknown material %q (the scene defines %s)", name, defined)
	return -1
}

func (p *sceneParser) object(o *jobj, index int) error {
	if !o.require("type", `"sphere", "quad", "plane", "mesh" or "gltf"`) {
		return p.r.err
	}
	sd := p.sd
	switch typ := o.str("type", ""); typ {
	case "sphere":
		o.require("center", "a point")
		o.require("radius", "a number > 0")
		o.require("material", "a material name")
		c := o.vec("center", Vec{})
		rad := o.num("radius", 1)
		mat := p.materialRef(o, "material")
		p.noKeys(o, typ)
		o.done()
		if !(rad > 0) || rad > 1e12 {
			p.r.fail(o.at("radius"), "expected a radius > 0, got %v", rad)
		}
		if p.r.err != nil {
			return p.r.err
		}
		sd.addSphere(c, rad, mat)
	case "quad":
		o.require("corner", "a point")
		o.require("u", "the vector along one edge")
		o.require("v", "the vector along the other edge")
		o.require("material", "a material name")
		c, u, v := o.vec("corner", Vec{}), o.vec("u", Vec{}), o.vec("v", Vec{})
		mat := p.materialRef(o, "material")
		p.noKeys(o, typ)
		o.done()
		cr := u.Cross(v)
		area := cr.Len()
		if p.r.err == nil && !(area > 0 && !math.IsInf(area, 0)) {
			p.r.fail(o.at("v"), "expected \"u\" and \"v\" to be non-zero and not parallel")
		}
		if p.r.err != nil {
			return p.r.err
		}
		sd.addQuad(c, u, v, mat)
	case "plane":
		o.require("point", "a point on the plane")
		o.require("normal", "the plane's normal")
		o.require("material", "a material name")
		pt, n := o.vec("point", Vec{}), o.vec("normal", Vec{Y: 1})
		mat := p.materialRef(o, "material")
		p.noKeys(o, typ)
		o.done()
		if p.r.err == nil && !(n.Len() > 0 && n.Norm().finite()) {
			p.r.fail(o.at("normal"), "expected a non-zero vector")
		}
		if p.r.err != nil {
			return p.r.err
		}
		n = n.Norm()
		f := newFrame(n)
		sd.planes = append(sd.planes, plane{p: pt, n: n, u: f.t, v: f.b, mat: mat})
	case "mesh":
		return p.mesh(o)
	case "gltf":
		return p.gltfObject(o, index)
	default:
		p.r.fail(o.at("type"), `expected "sphere", "quad", "plane", "mesh" or "gltf", got %q`, typ)
	}
	return p.r.err
}
