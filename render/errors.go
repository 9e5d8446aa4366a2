package render

import (
	"errors"
	"fmt"
)

// LoadError is a scene that does not load because of its content: a syntax
// error, a missing or unknown reference, a value out of range, a limit hit.
// Commands report it as bad input. File is the file's name within the
// bundle (relative to the scene file's directory), Where the JSON path
// ("objects[3].material") or the line ("line 12"), when known.
type LoadError struct {
	File  string
	Where string
	Err   error
}

func (e *LoadError) Error() string {
	if e.Where == "" {
		return fmt.Sprintf("render: %s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("render: %s: %s: %v", e.File, e.Where, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// loadErr returns a *LoadError with a formatted message.
func loadErr(file, where, format string, args ...any) *LoadError {
	return &LoadError{File: file, Where: where, Err: fmt.Errorf(format, args...)}
}

// ErrLimit is matched (with errors.Is) by every error that reports a Limits
// field exceeded.
var ErrLimit = errors.New("render: limit exceeded")

// LimitError says which limit of Limits was exceeded, and by what.
type LimitError struct {
	Limit string // the Limits field, e.g. "MaxTriangles"
	What  string // what was counted, e.g. "triangles"
	Value int64  // what the input needs (at least)
	Max   int64  // the limit in force
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%d %s exceed limit %s=%d", e.Value, e.What, e.Limit, e.Max)
}

// Is makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// ErrBadSettings is returned for settings that cannot be rendered (a zero
// or negative size, sample count or depth after resolution, or one above
// Limits).
var ErrBadSettings = errors.New("render: bad settings")

// ErrBadTile is returned by RenderTile for a rectangle that is empty or
// outside the image, or a destination of the wrong length.
var ErrBadTile = errors.New("render: bad tile")

// DefaultLimits are the limits used for a zero field of Limits: enough for
// a detailed classroom scene, small enough that a hostile scene cannot take
// a node's memory (a scene at every limit needs a few GiB).
var DefaultLimits = Limits{
	MaxSceneBytes:    256 << 20, // 256 MiB: scene JSON, meshes, MTL files and textures together
	MaxTriangles:     5_000_000,
	MaxTexturePixels: 64 << 20, // 64 Mi texels: an 8192x8192 texture
	MaxJSONBytes:     16 << 20, // 16 MiB of JSON: about 100,000 objects

	MaxImageSide:  1 << 15, // 32768 pixels: a float image of 32768x32768 is 12 GiB
	MaxSPP:        1 << 16, // 65536: a job's time on a node is bounded too
	MaxDepth:      1024,
	MaxTilePixels: 1 << 20, // 1 Mi pixels: a 12 MiB result, well inside a frame (protocol.DefaultMaxFrame)
}

// maxTriangles is the most triangles any Limits allows: the BVH builder
// keeps a primitive's index in 30 bits and its traversal stack is sized for
// a tree over at most 2^27 primitives (bvhMaxDepth).
const maxTriangles = 1 << 27

// withDefaults returns lim with every zero (or negative) field set to its default.
func (lim Limits) withDefaults() Limits {
	if lim.MaxSceneBytes <= 0 {
		lim.MaxSceneBytes = DefaultLimits.MaxSceneBytes
	}
	if lim.MaxTriangles <= 0 {
		lim.MaxTriangles = DefaultLimits.MaxTriangles
	}
	lim.MaxTriangles = min(lim.MaxTriangles, maxTriangles)
	if lim.MaxTexturePixels <= 0 {
		lim.MaxTexturePixels = DefaultLimits.MaxTexturePixels
	}
	if lim.MaxJSONBytes <= 0 {
		lim.MaxJSONBytes = DefaultLimits.MaxJSONBytes
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&lim.MaxImageSide, DefaultLimits.MaxImageSide)
	def(&lim.MaxSPP, DefaultLimits.MaxSPP)
	def(&lim.MaxDepth, DefaultLimits.MaxDepth)
	def(&lim.MaxTilePixels, DefaultLimits.MaxTilePixels)
	return lim
}

// asLoadError is errors.As for a *LoadError.
func asLoadError(err error, le **LoadError) bool { return errors.As(err, le) }
