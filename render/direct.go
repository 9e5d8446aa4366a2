package render

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
)

// directSuffix names the scene file written for a glTF file rendered on
// its own: stilllife.glb is rendered as stilllife.glb.scene.json.
const directSuffix = ".scene.json"

// directScene writes the scene file that rendering gltf on its own stands
// for (see Direct). Fields are written in a fixed order, so that equal
// inputs give equal bytes and equal bundle hashes.
func directScene(gltf string, d Direct, lit bool) []byte {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	cam := `{"object": 0}`
	if d.Camera != "" {
		cam = fmt.Sprintf(`{"object": 0, "name": %s}`, q(d.Camera))
	}
	img := ""
	switch {
	case d.Width > 0 && d.Height > 0:
		img = fmt.Sprintf(",\n  \"image\": {\"width\": %d, \"height\": %d}", d.Width, d.Height)
	case d.Width > 0:
		img = fmt.Sprintf(",\n  \"image\": {\"width\": %d}", d.Width)
	case d.Height > 0:
		img = fmt.Sprintf(",\n  \"image\": {\"height\": %d}", d.Height)
	}
	fps := ""
	if d.FPS != 0 && d.FPS != DefaultFPS {
		fps = fmt.Sprintf(",\n  \"fps\": %s", strconv.FormatFloat(d.FPS, 'g', -1, 64))
	}
	bg := ""
	switch {
	case d.Env != "":
		k := d.EnvStrength
		if k == 0 {
			k = 1
		}
		num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
		bg = fmt.Sprintf(",\n  \"environment\": {\"file\": %s, \"strength\": %s, \"rotate\": %s}", q(d.Env), num(k), num(d.EnvRotate))
	case !lit:
		bg = ",\n  \"background\": [1, 1, 1]"
	}
	return fmt.Appendf(nil, "{\n  \"camera\": %s%s%s%s,\n  \"objects\": [{\"type\": \"gltf\", \"file\": %s}]\n}\n", cam, img, fps, bg, q(gltf))
}

// checkDirectEnv reports whether d's environment settings can be written
// into a scene file: numbers the scene file accepts.
func checkDirectEnv(d Direct) error {
	switch {
	case d.Env == "" && (d.EnvStrength != 0 || d.EnvRotate != 0):
		return fmt.Errorf("%w: an environment's strength or rotation without an environment map", ErrBadSettings)
	case !(d.EnvStrength >= 0 && d.EnvStrength <= maxEnvStrength):
		return fmt.Errorf("%w: environment strength %v (expected 0 to %g)", ErrBadSettings, d.EnvStrength, float64(maxEnvStrength))
	case d.FPS != 0 && !(d.FPS > 0 && d.FPS <= maxFPS):
		return fmt.Errorf("%w: %v frames per second (expected more than 0, at most %d)", ErrBadSettings, d.FPS, maxFPS)
	case !(math.Abs(d.EnvRotate) <= maxEnvRotate):
		return fmt.Errorf("%w: environment rotation %v degrees (expected -%g to %g)", ErrBadSettings, d.EnvRotate, float64(maxEnvRotate), float64(maxEnvRotate))
	}
	return nil
}

// envRef names the environment map env (a path as a command line gives
// it) as the scene file written beside the glTF file at gltfPath refers to
// it: relative to the glTF file's directory, so that the bundle names no
// more of the disk than it must; absolute where no relative path exists.
func envRef(gltfPath, env string) string {
	dir, err1 := filepath.Abs(filepath.Dir(gltfPath))
	abs, err2 := filepath.Abs(env)
	if err1 != nil || err2 != nil {
		return filepath.ToSlash(env)
	}
	if rel, err := filepath.Rel(dir, abs); err == nil {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(abs)
}

// lit reports whether the document has a light: a punctual light on a node
// or a material that emits more than radiance 1 (factor × strength). An
// emissive factor alone, at most 1, marks labels and dials more often than
// it makes lamps.
func (d *gltfDoc) lit() bool {
	for i := range d.nodes {
		if d.nodes[i].light >= 0 && d.lights[d.nodes[i].light].intensity > 0 {
			return true
		}
	}
	for i := range d.materials {
		if m := &d.materials[i]; m.emissive.MaxComp()*m.strength > 1 {
			return true
		}
	}
	return false
}
