package render

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Keyframes in a scene file: the camera's "from", "to" and "fov", and a
// mesh or glTF object's "translate", "rotate" and "scale", given at frame
// numbers and straight lines between them:
//
//	"keys": [{"frame": 1, "from": [0, 1, 3.5]}, {"frame": 48, "from": [3, 1, 2], "fov": 30}]
//
// Each key gives some of the properties; a property is a curve through the
// keys that give it, held before the first and after the last, and a
// property no key gives keeps the object's own value. Rotations are Euler
// angles in degrees, each angle a straight line (as Blender's Euler
// curves), so [0, 0, 0] to [0, 720, 0] turns twice.

// keyProp is a property keyframes may give.
type keyProp struct {
	name  string
	w     int  // numbers: 1 or 3
	scale bool // a number stands for three equal ones, and none may be 0
}

var (
	cameraKeyProps = []keyProp{{name: "from", w: 3}, {name: "to", w: 3}, {name: "fov", w: 1}}
	objectKeyProps = []keyProp{{name: "translate", w: 3}, {name: "rotate", w: 3}, {name: "scale", w: 3, scale: true}}
)

// keyframes reads o's optional "keys" for the properties props. It returns
// the curve of each property some key gives (nil when o has no keys).
func (p *sceneParser) keyframes(o *jobj, props []keyProp) map[string]*curve {
	r := p.r
	list := o.array("keys")
	if len(list) == 0 || r.err != nil {
		if o.has("keys") && r.err == nil {
			r.fail(o.at("keys"), "expected an array of keys, got an empty one")
		}
		return nil
	}
	names := make([]string, len(props))
	for i, kp := range props {
		names[i] = fmt.Sprintf("%q", kp.name)
	}
	out := map[string]*curve{}
	prev := 0.0
	for i, v := range list {
		k := r.object(fmt.Sprintf("%s[%d]", o.at("keys"), i), v)
		k.require("frame", "the frame number of the key")
		f := k.num("frame", 0)
		if r.err != nil {
			return nil
		}
		if i > 0 && !(f > prev) {
			r.fail(k.at("frame"), "frame %v is not after the previous key's %v: keys go in increasing frames", f, prev)
			return nil
		}
		prev = f
		gives := false
		for _, kp := range props {
			if !k.has(kp.name) {
				continue
			}
			gives = true
			val := p.keyValue(k, kp)
			if r.err != nil {
				return nil
			}
			c := out[kp.name]
			if c == nil {
				c = &curve{w: kp.w, interp: interpLinear}
				out[kp.name] = c
			}
			c.at = append(c.at, f)
			c.val = append(c.val, val...)
		}
		k.done()
		if r.err == nil && !gives {
			r.fail(k.path, "the key gives none of %s", strings.Join(names, ", "))
		}
		if r.err != nil {
			return nil
		}
	}
	return out
}

// keyValue reads property kp of a key.
func (p *sceneParser) keyValue(k *jobj, kp keyProp) []float64 {
	if kp.w == 1 {
		return []float64{k.num(kp.name, 0)}
	}
	var v Vec
	if raw, _ := k.get(kp.name); kp.scale {
		if _, isNum := raw.(json.Number); isNum {
			s := k.num(kp.name, 1)
			v = Vec{X: s, Y: s, Z: s}
		} else {
			v = k.vec(kp.name, white)
		}
		if p.r.err == nil && (v.X == 0 || v.Y == 0 || v.Z == 0) {
			p.r.fail(k.at(kp.name), "expected a non-zero scale, got [%v, %v, %v]", v.X, v.Y, v.Z)
		}
	} else {
		v = k.vec(kp.name, Vec{})
	}
	return []float64{v.X, v.Y, v.Z}
}

// objectKeys reads a mesh or glTF object's keyframes; nil when it has none.
func (p *sceneParser) objectKeys(o *jobj) *trsKeys {
	cs := p.keyframes(o, objectKeyProps)
	if cs == nil {
		return nil
	}
	return &trsKeys{translate: cs["translate"], rotate: cs["rotate"], scale: cs["scale"]}
}

// first returns the value of a curve's first key as a vector.
func (c *curve) first() Vec {
	v := c.value(0)
	return Vec{X: v[0], Y: v[1], Z: v[2]}
}

// noKeys refuses "keys" on an object that keyframes cannot move.
func (p *sceneParser) noKeys(o *jobj, typ string) {
	if o.has("keys") {
		o.get("keys")
		p.r.fail(o.at("keys"), "a %s cannot move: keyframes move mesh and gltf objects (translate, rotate, scale) and the camera (from, to, fov)", typ)
	}
}
