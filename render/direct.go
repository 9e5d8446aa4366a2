package render

import (
	"encoding/json"
	"fmt"
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
	bg := ""
	if !lit {
		bg = ",\n  \"background\": [1, 1, 1]"
	}
	return fmt.Appendf(nil, "{\n  \"camera\": %s%s%s,\n  \"objects\": [{\"type\": \"gltf\", \"file\": %s}]\n}\n", cam, img, bg, q(gltf))
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
