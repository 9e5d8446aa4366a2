package render

// This file is the public surface other packages build against. The
// implementations behind it live in the rest of the package.

import (
	"context"
	"fmt"
	"image"
	"io"
	"time"
)

// Settings describe the image to render. A zero field takes the scene file's
// value (see Scene.Resolve).
type Settings struct {
	Width    int // pixels
	Height   int // pixels
	SPP      int // samples per pixel
	MaxDepth int // longest path: surface vertices, the light's included (2: direct light only)
}

// Limits bound what a scene may cost to load and what a render of it may
// ask for. They are the one home of every limit a node applies: a node
// refuses what exceeds them (its Config.Limits), and a controller checks the
// same values before it starts, so that it never sends what every node
// would refuse. A zero field means the default of DefaultLimits.
type Limits struct {
	MaxSceneBytes    int64 // scene JSON plus every mesh and texture, in bytes
	MaxTriangles     int   // triangles over all meshes (at most 2^27, whatever is asked)
	MaxTexturePixels int   // width*height of any one texture
	MaxJSONBytes     int64 // the scene JSON file alone: it is decoded into memory several times its size

	MaxImageSide  int // width or height of an image, pixels
	MaxSPP        int // samples per pixel
	MaxDepth      int // Settings.MaxDepth
	MaxTilePixels int // pixels of one tile: one RenderTile call on a node, one TileResult on the wire
}

// Scene is a loaded scene, immutable after loading and safe for concurrent use.
type Scene struct{ sceneData }

// Bundle is a scene file and every file it references (meshes, MTL files,
// textures), so that a scene can be loaded with no file system: this is what
// the controller sends to nodes.
type Bundle struct {
	Main  string            // name of the scene JSON within Files
	Files map[string][]byte // slash-separated paths relative to the scene file's directory
}

// Image is a linear RGB float image, row-major, 3 float32 per pixel.
type Image struct {
	Width, Height int
	Pix           []float32
}

// ReadBundle reads the scene file at path and every file it references. It
// parses them (so a bad scene fails here, with a *LoadError) but builds no
// acceleration structure.
func ReadBundle(path string, lim Limits) (*Bundle, error) {
	_, b, err := readBundle(path, Direct{}, lim)
	return b, err
}

// Hash is the hex SHA-256 of the bundle's names and contents, in name order
// (the main file's name first, every name and content prefixed with its
// length): bundles with equal hashes hold the same files.
func (b *Bundle) Hash() string { return bundleHash(b) }

// LoadBundle parses and builds the scene (BVH included) from the bundle's
// bytes alone. A scene that does not load returns a *LoadError.
func LoadBundle(b *Bundle, lim Limits) (*Scene, error) { return loadBundle(b, lim) }

// LoadFile is ReadBundle followed by LoadBundle. A .gltf or .glb file is
// loaded as LoadDirect loads it with a zero Direct.
func LoadFile(path string, lim Limits) (*Scene, *Bundle, error) {
	return LoadDirect(path, Direct{}, lim)
}

// Direct says how a glTF file rendered on its own (tessera render x.glb) is
// seen. Rendering a .gltf or .glb file on its own is defined as rendering a
// small scene file that the loader writes into the bundle as
// NAME.glb.scene.json (see DirectScene): the glTF file is its one object,
// and each field of Direct is a field of that JSON, so that it reaches
// every node and the bundle's hash covers it.
type Direct struct {
	Camera string // the camera by name; "": the file's first perspective camera, or one that frames the scene
	Width  int    // image width; 0: from the height and the camera's aspect ratio (640 when neither is given)
	Height int    // image height; 0: from the width and the camera's aspect ratio

	// Env is an environment map (a Radiance .hdr) that lights the scene
	// and is what escaping rays see, in place of the white sky of a file
	// without lights: for LoadDirect a path as a command line gives it
	// (absolute, or relative to the working directory), which the scene
	// file names relative to the glTF file; for DirectScene, that name.
	Env         string
	EnvStrength float64 // multiplies Env's radiance; 0: 1
	EnvRotate   float64 // turns Env about the up axis, in degrees, right-handed (as the scene file's "rotate")

	// FPS is the frame rate the file's animations play at: frame f is at
	// time f/FPS. 0 (or DefaultFPS, which the scene file then does not
	// name): DefaultFPS.
	FPS float64
}

// IsGLTF reports whether path names a glTF file (.gltf or .glb), which
// LoadDirect renders on its own.
func IsGLTF(path string) bool { return isGLTF(path) }

// LoadDirect loads the scene at path and builds it. A .gltf or .glb file
// is rendered as the scene DirectScene writes for it and d; for a scene
// file d must be zero (the scene file says all that d could).
func LoadDirect(path string, d Direct, lim Limits) (*Scene, *Bundle, error) {
	sd, b, err := readBundle(path, d, lim)
	if err != nil {
		return nil, nil, err
	}
	sd.finish()
	return &Scene{sceneData: *sd}, b, nil
}

// DirectScene returns the scene file (JSON) that rendering the glTF file
// named gltf (relative to the scene file) on its own stands for, as the
// loader writes it into the bundle. lit says whether the glTF file has
// lights of its own (punctual lights or emissive materials): when it has
// none, the scene is lit by a uniform white sky (background [1, 1, 1]), as
// glTF viewers light a bare model.
func DirectScene(gltf string, d Direct, lit bool) []byte { return directScene(gltf, d, lit) }

// Warnings returns what the loader ignored in the scene's files, one line
// per file (glTF extensions, occlusion textures, alpha blending read as
// cut-outs...). Commands print them; the scene renders without them.
func (s *Scene) Warnings() []string { return s.warnings }

// SceneStats say what a loaded scene holds and what loading it took.
type SceneStats struct {
	Triangles  int           // mesh triangles, as the files give them (degenerate ones included)
	Primitives int           // what the BVH holds: triangles, quads and spheres
	Parse      time.Duration // the scene file and everything it references parsed into primitives
	Build      time.Duration // the BVH and the data intersection and shading read
}

// Stats returns what the scene holds and what loading it took.
func (s *Scene) Stats() SceneStats { return s.stats }

// Frame returns the scene at frame f of its animation, 0 <= f <= MaxFrame:
// its glTF animations played to time f/fps (the scene file's "fps", 24 by
// default; frame 1 of a Blender export is at 1/24 s) and its keyframes
// evaluated at frame f. The scene loaded (the still) shows every node as
// its file has it and draws no frame; a frame's samples are its own (every
// pixel's seed includes f), so frame f renders to the same pixels on every
// node, alone or in a range. A scene without animation gives every frame
// the still's content.
//
// Only what moves is computed for a frame: one in which no mesh moves
// shares the still's primitives and BVH. The last few frames asked for are
// kept, so the workers rendering one frame's tiles share its scene; Frame
// is safe for concurrent use. The error wraps ErrBadSettings for a frame
// out of range or one whose camera is degenerate.
func (s *Scene) Frame(f int) (*Scene, error) {
	if f < 0 || f > MaxFrame {
		return nil, fmt.Errorf("%w: frame %d (expected 0 to %d)", ErrBadSettings, f, MaxFrame)
	}
	still := &s.sceneData
	if s.still != nil {
		still = s.still
	}
	if still.frames == nil {
		fd, err := still.atFrame(f)
		if err != nil {
			return nil, err
		}
		return &Scene{sceneData: *fd}, nil
	}
	return still.frames.frame(still, f)
}

// CheckFrame reports whether frame f can be rendered: in range, and its
// camera not degenerate (looking along its up direction, say). It builds
// nothing, so a controller can check every frame of a range at start; the
// error wraps ErrBadSettings and names the frame.
func (s *Scene) CheckFrame(f int) error {
	if f < 0 || f > MaxFrame {
		return fmt.Errorf("%w: frame %d (expected 0 to %d)", ErrBadSettings, f, MaxFrame)
	}
	still := &s.sceneData
	if s.still != nil {
		still = s.still
	}
	if a := still.anim; a != nil && a.camera != nil {
		if _, err := a.camera.cameraAt(f, a.transforms(f)); err != nil {
			return fmt.Errorf("%w: frame %d: %v", ErrBadSettings, f, err)
		}
	}
	return nil
}

// Animated reports whether anything in the scene moves from frame to
// frame: its camera, a mesh or a light.
func (s *Scene) Animated() bool { return s.anim != nil }

// Settings returns the scene file's own image settings, defaults applied.
func (s *Scene) Settings() Settings { return s.settings }

// Resolve returns set with every zero field taken from the scene's settings.
func (s *Scene) Resolve(set Settings) Settings {
	if set.Width == 0 {
		set.Width = s.settings.Width
	}
	if set.Height == 0 {
		set.Height = s.settings.Height
	}
	if set.SPP == 0 {
		set.SPP = s.settings.SPP
	}
	if set.MaxDepth == 0 {
		set.MaxDepth = s.settings.MaxDepth
	}
	return set
}

// WithDefaults returns lim with every zero field set to its default (see
// DefaultLimits): the limits in force.
func (lim Limits) WithDefaults() Limits { return lim.withDefaults() }

// CheckSettings reports whether resolved settings can be rendered within
// lim. The error wraps ErrBadSettings and says which field is out of range;
// for a value over a limit it also wraps a *LimitError that names it
// (errors.Is(err, ErrLimit)).
func (lim Limits) CheckSettings(set Settings) error {
	lim = lim.withDefaults()
	over := func(name, what string, v, most int) error {
		return fmt.Errorf("%w: %w", ErrBadSettings, &LimitError{Limit: name, What: what, Value: int64(v), Max: int64(most)})
	}
	switch {
	case set.Width < 1 || set.Height < 1:
		return fmt.Errorf("%w: image size %dx%d (expected at least 1 pixel a side)", ErrBadSettings, set.Width, set.Height)
	case set.Width > lim.MaxImageSide:
		return over("MaxImageSide", "pixels of image width", set.Width, lim.MaxImageSide)
	case set.Height > lim.MaxImageSide:
		return over("MaxImageSide", "pixels of image height", set.Height, lim.MaxImageSide)
	case set.SPP < 1:
		return fmt.Errorf("%w: %d samples per pixel (expected at least 1)", ErrBadSettings, set.SPP)
	case set.SPP > lim.MaxSPP:
		return over("MaxSPP", "samples per pixel", set.SPP, lim.MaxSPP)
	case set.MaxDepth < 1:
		return fmt.Errorf("%w: maximum depth %d (expected at least 1)", ErrBadSettings, set.MaxDepth)
	case set.MaxDepth > lim.MaxDepth:
		return over("MaxDepth", "path vertices (maximum depth)", set.MaxDepth, lim.MaxDepth)
	}
	return nil
}

// CheckTile reports whether the tile r of an image rendered with set can be
// rendered within lim: the settings (CheckSettings), a rectangle inside the
// image (ErrBadTile), and at most MaxTilePixels pixels (a *LimitError).
func (lim Limits) CheckTile(set Settings, r image.Rectangle) error {
	if err := lim.CheckSettings(set); err != nil {
		return err
	}
	if r.Empty() || !r.In(image.Rect(0, 0, set.Width, set.Height)) {
		return fmt.Errorf("%w: rectangle %v is empty or outside the %dx%d image", ErrBadTile, r, set.Width, set.Height)
	}
	if px, most := r.Dx()*r.Dy(), lim.withDefaults().MaxTilePixels; px > most {
		return fmt.Errorf("%w: %w", ErrBadTile, &LimitError{Limit: "MaxTilePixels", What: fmt.Sprintf("pixels in a %dx%d tile", r.Dx(), r.Dy()), Value: int64(px), Max: int64(most)})
	}
	return nil
}

// RenderTile renders rectangle r of the image described by set (resolved)
// into dst, which must hold r.Dx()*r.Dy()*3 float32: linear RGB, row-major.
// It returns the number of rays cast (camera, bounce and shadow rays). Each
// pixel is the passes of PassEnds(set.SPP) added up as a Film adds them,
// so that a progressive render stopped after the passes ending at N
// samples gives RenderTile's pixels of N samples, bit for bit.
//
// A pixel's value depends only on the scene, set and its coordinates, never
// on r. RenderTile checks ctx between rows and returns ctx.Err() when it is
// done. It allocates nothing.
func (s *Scene) RenderTile(ctx context.Context, set Settings, r image.Rectangle, dst []float32) (rays uint64, err error) {
	set = s.Resolve(set)
	if err := s.lim.CheckSettings(set); err != nil {
		return 0, err
	}
	if r.Empty() || !r.In(image.Rect(0, 0, set.Width, set.Height)) {
		return 0, fmt.Errorf("%w: rectangle %v is empty or outside the %dx%d image", ErrBadTile, r, set.Width, set.Height)
	}
	if want := r.Dx() * r.Dy() * 3; len(dst) != want {
		return 0, fmt.Errorf("%w: destination holds %d float32, rectangle %v needs %d", ErrBadTile, len(dst), r, want)
	}
	return s.renderTile(ctx, set, r, dst)
}

// RenderPass renders one pass of a progressive render (see PassEnds and
// Film): samples [p.From, p.To) of the pixels of rectangle r that p.Mask
// selects, into dst, which must hold 3 float32 for each of them: per pixel
// selected, in row-major order, the sum of those samples (linear RGB, summed
// in float64 in sample order and rounded once to float32). It returns the
// number of rays cast.
//
// A pixel's sums depend only on the scene, set.Width, set.Height,
// set.MaxDepth, its coordinates and the samples asked for (set.SPP, the
// most samples of the render, only bounds p.To). A Film given the passes
// of PassEnds(N) holds RenderTile's pixels of N samples, bit for bit.
// RenderPass checks ctx between rows and allocates nothing.
func (s *Scene) RenderPass(ctx context.Context, set Settings, r image.Rectangle, p Pass, dst []float32) (rays uint64, err error) {
	set = s.Resolve(set)
	if err := s.lim.CheckSettings(set); err != nil {
		return 0, err
	}
	if r.Empty() || !r.In(image.Rect(0, 0, set.Width, set.Height)) {
		return 0, fmt.Errorf("%w: rectangle %v is empty or outside the %dx%d image", ErrBadTile, r, set.Width, set.Height)
	}
	n := r.Dx() * r.Dy()
	if err := p.Check(set, n); err != nil {
		return 0, err
	}
	if want := 3 * p.Selected(n); len(dst) != want {
		return 0, fmt.Errorf("%w: destination holds %d float32, the pass of rectangle %v needs %d", ErrBadTile, len(dst), r, want)
	}
	return s.renderPass(ctx, set, r, p, dst)
}

// NewImage returns a black image.
func NewImage(w, h int) *Image { return &Image{Width: w, Height: h, Pix: make([]float32, w*h*3)} }

// SetTile copies a tile's pixels (as RenderTile writes them) into the image.
// The part of r outside the image is ignored.
func (m *Image) SetTile(r image.Rectangle, pix []float32) { m.copyTile(r, pix, true) }

// Tile returns a copy of the pixels of r (black outside the image).
func (m *Image) Tile(r image.Rectangle) []float32 {
	pix := make([]float32, max(0, r.Dx()*r.Dy()*3))
	m.copyTile(r, pix, false)
	return pix
}

// SRGB converts to 8-bit sRGB, as the PNG output does.
func (m *Image) SRGB() *image.NRGBA { return m.srgb() }

// WritePNG writes 8-bit sRGB PNG.
func (m *Image) WritePNG(w io.Writer) error { return m.writePNG(w) }

// WritePFM writes a Portable Float Map (linear RGB).
func (m *Image) WritePFM(w io.Writer) error { return m.writePFM(w) }

// Save writes the image to path, PNG or PFM by the extension, atomically:
// a temporary file beside it (.NAME.tmp-*) flushed to the disk and renamed,
// so that a reader, a crash or a power cut never leaves half an image under
// the name.
func (m *Image) Save(path string) error { return m.save(path) }
