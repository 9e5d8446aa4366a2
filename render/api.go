package render

// This file is the public surface other packages build against. The
// implementations behind it live in the rest of the package.

import (
	"context"
	"errors"
	"image"
	"io"
)

// Settings describe the image to render. A zero field takes the scene file's
// value (see Scene.Resolve).
type Settings struct {
	Width    int // pixels
	Height   int // pixels
	SPP      int // samples per pixel
	MaxDepth int // longest path, in bounces
}

// Limits bound what a scene may cost to load. A zero field means the default
// of DefaultLimits.
type Limits struct {
	MaxSceneBytes    int64 // scene JSON plus every mesh and texture, in bytes
	MaxTriangles     int   // triangles over all meshes
	MaxTexturePixels int   // width*height of any one texture
}

// Scene is a loaded scene, immutable after loading and safe for concurrent use.
type Scene struct{}

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

var errNotYet = errors.New("render: not implemented yet")

// ReadBundle reads the scene file at path and every file it references.
func ReadBundle(path string, lim Limits) (*Bundle, error) { return nil, errNotYet }

// Hash is the hex SHA-256 of the bundle's names and contents, in name order.
func (b *Bundle) Hash() string { return "" }

// LoadBundle parses and builds the scene (BVH included).
func LoadBundle(b *Bundle, lim Limits) (*Scene, error) { return nil, errNotYet }

// LoadFile is ReadBundle followed by LoadBundle.
func LoadFile(path string, lim Limits) (*Scene, *Bundle, error) { return nil, nil, errNotYet }

// Settings returns the scene file's own image settings, defaults applied.
func (s *Scene) Settings() Settings { return Settings{} }

// Resolve returns set with every zero field taken from the scene's settings.
func (s *Scene) Resolve(set Settings) Settings { return set }

// RenderTile renders rectangle r of the image described by set (resolved)
// into dst, which must hold r.Dx()*r.Dy()*3 float32: linear RGB, row-major.
// It returns the number of rays cast (camera, bounce and shadow rays).
func (s *Scene) RenderTile(ctx context.Context, set Settings, r image.Rectangle, dst []float32) (rays uint64, err error) {
	return 0, errNotYet
}

// NewImage returns a black image.
func NewImage(w, h int) *Image { return &Image{Width: w, Height: h, Pix: make([]float32, w*h*3)} }

// SetTile copies a tile's pixels (as RenderTile writes them) into the image.
func (m *Image) SetTile(r image.Rectangle, pix []float32) {}

// Tile returns a copy of the pixels of r.
func (m *Image) Tile(r image.Rectangle) []float32 { return nil }

// SRGB converts to 8-bit sRGB, as the PNG output does.
func (m *Image) SRGB() *image.NRGBA { return nil }

// WritePNG writes 8-bit sRGB PNG.
func (m *Image) WritePNG(w io.Writer) error { return errNotYet }

// WritePFM writes a Portable Float Map (linear RGB).
func (m *Image) WritePFM(w io.Writer) error { return errNotYet }

// Save writes the image to path, PNG or PFM by the extension.
func (m *Image) Save(path string) error { return errNotYet }
