package render

import (
	"fmt"
	"math"
)

// This file reads a glTF file's animations: every channel of every
// animation that moves a node's translation, rotation or scale, as a curve
// of time. All the file's animations play together, from time 0; a node's
// property that two animations both move takes the later animation's.

// gltfChannel is one animated property of one node.
type gltfChannel struct {
	node int
	path gltfPath
	c    curve
}

// gltfPath is the node property a channel moves.
type gltfPath uint8

const (
	pathTranslation gltfPath = iota
	pathRotation
	pathScale
)

// readAnimations decodes the animations (the JSON list raw) into
// d.channels, reading their accessors. It runs after read, once buffers can
// be read.
func (d *gltfDoc) readAnimations(r *jsonReader, raw []any) {
	for ai, av := range raw {
		a := r.object(fmt.Sprintf("animations[%d]", ai), av)
		d.name(a)
		samplers := a.array("samplers")
		channels := a.array("channels")
		a.done()
		if r.err != nil {
			return
		}
		curves := make([]*curve, len(samplers))
		seen := map[[2]int]bool{}
		for ci, cv := range channels {
			c := r.object(a.at(fmt.Sprintf("channels[%d]", ci)), cv)
			d.name(c)
			si := d.index(c, "sampler", len(samplers), "sampler", true)
			t := c.sub("target")
			if t == nil {
				c.require("target", "the node and property it animates")
			}
			c.done()
			if r.err != nil {
				return
			}
			d.name(t)
			node := d.index(t, "node", len(d.nodes), "node", false)
			ps := t.str("path", "")
			t.require("path", `"translation", "rotation", "scale" or "weights"`)
			t.done()
			if r.err != nil {
				return
			}
			var path gltfPath
			switch ps {
			case "translation":
				path = pathTranslation
			case "rotation":
				path = pathRotation
			case "scale":
				path = pathScale
			case "weights":
				d.ignore("animations of morph target weights")
				continue
			default:
				r.fail(t.at("path"), `expected "translation", "rotation", "scale" or "weights", got %q`, ps)
				return
			}
			if node < 0 {
				// Without a node the channel targets what an extension
				// names (KHR_animation_pointer): nothing tessera moves.
				d.ignore("animation channels without a target node")
				continue
			}
			key := [2]int{node, int(path)}
			if seen[key] {
				r.fail(t.path, "node %d's %s is animated twice in this animation", node, ps)
				return
			}
			seen[key] = true
			if d.nodes[node].hasMatrix {
				r.fail(t.at("node"), "node %d has a \"matrix\": an animated node takes \"translation\", \"rotation\" and \"scale\"", node)
				return
			}
			if curves[si] == nil {
				cu, err := d.sampler(r, a.at(fmt.Sprintf("samplers[%d]", si)), samplers[si], path)
				if err != nil || r.err != nil {
					if r.err == nil {
						r.err = err
					}
					return
				}
				curves[si] = cu
			}
			if want := path == pathRotation; curves[si].quat != want {
				r.fail(c.at("sampler"), "sampler %d animates %s values, not a %s", si, map[bool]string{true: "rotation", false: "vector"}[curves[si].quat], ps)
				return
			}
			// A later animation's channel on the same property wins.
			for i := range d.channels {
				if d.channels[i].node == node && d.channels[i].path == path {
					d.channels = append(d.channels[:i], d.channels[i+1:]...)
					break
				}
			}
			d.channels = append(d.channels, gltfChannel{node: node, path: path, c: *curves[si]})
		}
	}
}

// sampler decodes an animation sampler for a property of kind path: its
// key times (input), values (output) and interpolation.
func (d *gltfDoc) sampler(r *jsonReader, where string, v any, path gltfPath) (*curve, error) {
	o := r.object(where, v)
	d.name(o)
	in := d.index(o, "input", len(d.accessors), "accessor", true)
	out := d.index(o, "output", len(d.accessors), "accessor", true)
	ip := o.str("interpolation", "LINEAR")
	o.done()
	if r.err != nil {
		return nil, r.err
	}
	c := &curve{w: 3, quat: path == pathRotation}
	switch ip {
	case "LINEAR":
		c.interp = interpLinear
	case "STEP":
		c.interp = interpStep
	case "CUBICSPLINE":
		c.interp = interpCubic
	default:
		return nil, loadErr(d.file, o.at("interpolation"), `expected "LINEAR", "STEP" or "CUBICSPLINE", got %q`, ip)
	}
	if c.quat {
		c.w = 4
	}
	if a := &d.accessors[in]; a.comp != gltfFloat || a.normalized {
		return nil, loadErr(d.file, o.at("input"), "accessor %d holds component type %d, expected 5126 (key times are floats)", in, a.comp)
	}
	times, _, err := d.accessorFloats(in, o.at("input"), "SCALAR")
	if err != nil {
		return nil, err
	}
	for k := 1; k < len(times); k++ {
		if !(times[k] > times[k-1]) {
			return nil, loadErr(d.file, o.at("input"), "accessor %d: key time %d (%v s) is not after key %d (%v s): times must increase", in, k, times[k], k-1, times[k-1])
		}
	}
	typ := "VEC3"
	if c.quat {
		typ = "VEC4"
	}
	vals, _, err := d.accessorFloats(out, o.at("output"), typ)
	if err != nil {
		return nil, err
	}
	per := 1
	if c.interp == interpCubic {
		per = 3
		if len(times) < 2 {
			return nil, loadErr(d.file, o.at("input"), "a CUBICSPLINE sampler needs at least 2 keys, accessor %d has %d", in, len(times))
		}
	}
	if n := len(vals) / c.w; n != per*len(times) {
		return nil, loadErr(d.file, o.at("output"), "accessor %d has %d values for %d key times (expected %d)", out, n, len(times), per*len(times))
	}
	if c.quat {
		// Rotations are unit quaternions; normalise what rounding (or
		// quantisation to integers) left off unit length. Tangents of a
		// cubic are not rotations and stay as they are.
		for k := range len(times) {
			q := c.valueIn(vals, k)
			l := math.Sqrt(q[0]*q[0] + q[1]*q[1] + q[2]*q[2] + q[3]*q[3])
			if !(l > 0.5 && l < 2) {
				return nil, loadErr(d.file, o.at("output"), "accessor %d: key %d is not a unit quaternion: [%v, %v, %v, %v]", out, k, q[0], q[1], q[2], q[3])
			}
			for i := range q {
				q[i] /= l
			}
		}
	}
	c.at, c.val = times, vals
	return c, nil
}

// valueIn is value for a curve whose values are vals (before they are set).
func (c *curve) valueIn(vals []float64, k int) []float64 {
	if c.interp == interpCubic {
		o := (3*k + 1) * c.w
		return vals[o : o+c.w]
	}
	return vals[k*c.w : (k+1)*c.w]
}
