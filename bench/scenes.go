package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"tessera/render"
)

// scene is a loaded scene and the bundle sent to nodes.
type scene struct {
	name   string // as the report names it
	scene  *render.Scene
	bundle *render.Bundle
}

// bytes is the size of every file of the bundle.
func (s *scene) bytes() int64 {
	var n int64
	for _, data := range s.bundle.Files {
		n += int64(len(data))
	}
	return n
}

// sceneDirs are the directories where a scene name is looked up.
func (s *settings) sceneDirs() []string {
	if s.SceneDir != "" {
		return []string{s.SceneDir}
	}
	dirs := []string{filepath.Join("testdata", "scenes")}
	if s.Executable != "" {
		dirs = append(dirs, filepath.Join(filepath.Dir(s.Executable), "..", "testdata", "scenes"))
	}
	return dirs
}

// fileIn returns the path of the file name in the first scene directory
// that holds it.
func (s *settings) fileIn(name string) (string, error) {
	dirs := s.sceneDirs()
	for _, dir := range dirs {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: no %s in %s (run from the repository root, or give the scene directory)", ErrBadConfig, name, strings.Join(dirs, " or "))
}

// scenePath resolves a scene name (looked up in the scene directories as
// NAME.json) or a file (anything with a path separator or a .json suffix).
func (s *settings) scenePath(ref string) (string, error) {
	if strings.ContainsRune(ref, filepath.Separator) || strings.ContainsRune(ref, '/') || strings.HasSuffix(ref, ".json") {
		if _, err := os.Stat(ref); err != nil {
			return "", fmt.Errorf("%w: scene %s: %w", ErrBadConfig, ref, err)
		}
		return ref, nil
	}
	dirs := s.sceneDirs()
	for _, dir := range dirs {
		p := filepath.Join(dir, ref+".json")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: scene %q: no %s.json in %s (run from the repository root, or give the scene directory or a scene file)",
		ErrBadConfig, ref, ref, strings.Join(dirs, " or "))
}

// sceneName is how the report names a scene: the file's base name without
// .json.
func sceneName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".json")
}

// loadScene loads a scene found by scenePath.
func loadScene(path string) (*scene, error) {
	sc, b, err := render.LoadFile(path, render.Limits{})
	if err != nil {
		var le *render.LoadError
		if errors.As(err, &le) || errors.Is(err, render.ErrLimit) {
			return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
		}
		return nil, fmt.Errorf("bench: load %s: %w", path, err)
	}
	return &scene{name: sceneName(path), scene: sc, bundle: b}, nil
}

// trivialJSON is the scheduling section's scene: one diffuse sphere, one
// bounce, so that a tile costs next to nothing to render.
const trivialJSON = `{
  "camera": {"from": [0, 0, 3], "to": [0, 0, 0], "up": [0, 1, 0], "fov": 40},
  "image": {"width": 256, "height": 256, "spp": 1, "maxDepth": 1},
  "background": [0.2, 0.3, 0.5],
  "materials": {"grey": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]}},
  "objects": [{"type": "sphere", "center": [0, 0, 0], "radius": 0.5, "material": "grey"}]
}
`

// trivialScene loads trivialJSON.
func trivialScene() (*scene, error) {
	b := &render.Bundle{Main: "trivial.json", Files: map[string][]byte{"trivial.json": []byte(trivialJSON)}}
	sc, err := render.LoadBundle(b, render.Limits{})
	if err != nil {
		return nil, fmt.Errorf("bench: the trivial scene does not load: %w", err)
	}
	return &scene{name: "trivial", scene: sc, bundle: b}, nil
}
