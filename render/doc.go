// Package render is tessera's path tracer: vector math, camera, shapes, a
// flattened SAH bounding volume hierarchy, materials, scene loading from JSON
// and Wavefront OBJ/MTL, and image output (PNG and PFM).
//
// The contract that makes distributed rendering exact: the value of a pixel
// depends only on the scene, the Settings and the pixel's coordinates. Every
// sample is seeded from (x, y, sample index), so a pixel comes out the same
// whether its tile is 1x1, 32x32 or the whole image, whichever worker or node
// renders it, and in whatever order tiles finish.
//
// render imports nothing of tessera and does no networking.
package render
