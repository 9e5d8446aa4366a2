package render

import "math"

// cameraSpec is the camera as the scene file describes it.
type cameraSpec struct {
	from, to, up  Vec
	fov           float64 // vertical field of view, degrees
	aperture      float64 // lens diameter; 0 is a pinhole
	focusDistance float64 // 0: the distance from "from" to "to"
}

// camera generates primary rays for one image size.
type camera struct {
	origin             Vec
	forward, right, up Vec // unit vectors
	halfW, halfH       float64
	invW, invH         float64
	lensRadius, focus  float64
}

func (c *cameraSpec) view(width, height int) camera {
	forward := c.to.Sub(c.from).Norm()
	right := forward.Cross(c.up).Norm()
	up := right.Cross(forward)
	halfH := math.Tan(c.fov * math.Pi / 360)
	focus := c.focusDistance
	if focus <= 0 {
		focus = c.to.Sub(c.from).Len()
	}
	return camera{
		origin:  c.from,
		forward: forward, right: right, up: up,
		halfH: halfH, halfW: halfH * float64(width) / float64(height),
		invW: 1 / float64(width), invH: 1 / float64(height),
		lensRadius: c.aperture / 2, focus: focus,
	}
}

// ray returns the ray through image position (px, py) in pixels from the
// top left, through lens position (lu, lv) in [0,1)².
func (c *camera) ray(px, py, lu, lv float64) Ray {
	sx := (2*px*c.invW - 1) * c.halfW
	sy := (1 - 2*py*c.invH) * c.halfH
	d := c.forward.AddScaled(c.right, sx).AddScaled(c.up, sy)
	if c.lensRadius == 0 {
		return Ray{Origin: c.origin, Dir: d.Norm()}
	}
	// Thin lens: every ray through this image point meets at the plane of
	// focus, at distance focus along forward.
	target := c.origin.AddScaled(d, c.focus)
	dx, dy := concentricDisk(lu, lv)
	o := c.origin.AddScaled(c.right, dx*c.lensRadius).AddScaled(c.up, dy*c.lensRadius)
	return Ray{Origin: o, Dir: target.Sub(o).Norm()}
}
