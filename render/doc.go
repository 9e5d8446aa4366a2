// Package render is tessera's path tracer: vector math, camera, shapes, a
// 4-wide bounding volume hierarchy (collapsed from a binned SAH tree; with
// GOEXPERIMENT=simd on amd64 its box test runs four boxes at once in AVX,
// with the same results bit for bit as the scalar test every build keeps),
// materials, scene loading from JSON, Wavefront OBJ/MTL, glTF 2.0 (.gltf and
// .glb) and Radiance .hdr environment maps, and image output (PNG and PFM).
//
// The contract that makes distributed rendering exact: the value of a pixel
// depends only on the scene, the Settings and the pixel's coordinates (and
// an animation's frame). Every sample is seeded from (x, y, sample index)
// and the frame (pixelKey, the one place the frame enters), so a pixel comes out the same
// whether its tile is 1x1, 32x32 or the whole image, whichever worker or node
// renders it, and in whatever order tiles finish (on one CPU architecture:
// another may round differently).
//
// Progressive rendering (progressive.go): a sample's value depends on the
// pixel and its index alone, so any range of a pixel's samples can be
// rendered anywhere (RenderPass: the sums of samples [a, b) of the pixels a
// mask selects). A render of N samples is the passes PassEnds(N) (4, then
// doubling, the last ending at N); a pixel's value is its passes' sums,
// each rounded to float32, added in pass order and divided by its samples,
// and RenderTile sums its samples in the same passes, so that a
// progressive render stopped after the passes ending at N is bit for bit
// RenderTile of N. Film holds a progressive render's sums and decides, by
// a fixed rule of the pixels alone (Cycles' error estimate of all samples
// against the last pass, a 3x3 box), which pixels take the next pass.
//
// A scene travels as a Bundle: the scene file and every file it references,
// keyed by path relative to the scene file's directory. ReadBundle gathers
// one from disk, LoadBundle builds a Scene from the bytes alone, and Hash
// names the content.
//
// A glTF file rendered on its own (LoadDirect, tessera render x.glb) is
// defined as the scene file DirectScene writes: one "gltf" object naming the
// file, the camera taken from it by name ("camera": {"object": 0, "name":
// ...}), the image size. The loader puts that JSON into the bundle as
// x.glb.scene.json, the bundle's main file, so that every field of Direct
// reaches every node and the bundle's hash covers it: a new option for
// glTF files rendered on their own (an environment, say) is a new field of
// Direct written into that JSON, and nodes need nothing new.
//
// glTF (gltf.go reads a document, gltfscene.go places it): the default
// scene's node hierarchy is kept as the file has it (each node's TRS or
// matrix and its children; gltfNode.local) and composed while placing, a
// mesh's vertex data is decoded once for all its instances, and every mesh
// triangle, OBJ's as glTF's, enters the scene through addMesh.
//
// Animations (anim.go: curves; gltfanim.go: a glTF file's channels;
// keys.go: a scene file's keyframes; frame.go: what moves and the scene at
// a frame): the Scene loaded is the still, every node as its file has it;
// Scene.Frame(f) is the scene at frame f, glTF animations played to time
// f/fps and keyframes at frame f, with samples of its own. A frame in which
// no mesh moves shares the still's primitives and BVH; one in which meshes
// move places their triangles again under a two-level BVH (frametree.go):
// the trees of what never moves and of each mover, built once, the movers'
// refitted at the frame, and a small top level over them.
//
// A Scene is immutable and safe for concurrent use:
// RenderTile may run on any number of goroutines at once, and allocates
// nothing; Tiles cuts an image into tiles.
//
// Errors: a scene that does not load returns a *LoadError naming the file
// and the place (JSON path such as objects[3].material, OBJ/MTL line, or
// byte offset in a .hdr file);
// one that exceeds Limits wraps a *LimitError (errors.Is(err, ErrLimit)).
// Settings that cannot be rendered return ErrBadSettings, a bad rectangle
// ErrBadTile. The package never prints and never panics on bad input.
//
// Integrator: unidirectional path tracing with next-event estimation of
// every emissive sphere, quad and triangle, of punctual lights (glTF's
// KHR_lights_punctual, in Blender's units: lights.go) and of the
// environment map, combined with BSDF sampling by multiple importance
// sampling (power heuristic), and Russian roulette from the third vertex
// on for paths whose throughput falls below a quarter. One loop traces
// every scene; what glTF brings (the metallic-roughness BSDF of pbr.go,
// alpha cut-outs that rays pass through, glass that shadow rays towards
// punctual lights pass through) costs the others a few predictable
// branches. Shadow rays are aimed from their moved-off origin at the point
// they sample. Settings.MaxDepth counts the surface vertices of a path,
// the light's included: 1 shows only lights, 2 direct lighting. Escaping
// rays see the scene's background, a uniform radiance, or its environment:
// an equirectangular Radiance .hdr map (hdr.go reads it), oriented as
// Blender's Environment Texture node and importance sampled by luminance
// times sin θ (envmap.go says how).
//
// Sampling (sampler.go): every number of a path (pixel position, lens,
// and at each vertex the light choice, the point on the light, the BSDF
// lobe and direction, Russian roulette) is its own dimension of a
// randomised Sobol sequence, padded: an Owen-scrambled index and a digital
// shift per (pixel, dimension), so that sample i of a pixel depends on
// (pixel, i) alone. Lights (arealight.go, lighttree.go): rectangles and
// triangles are sampled by the solid angle they subtend where it is large
// (a sphere by its cone), warped towards the cosine at the shading point,
// and by area elsewhere; two triangles of a mesh that make a rectangle are
// one light; the light to sample is chosen by its estimated contribution
// at the shading point through a tree of light bounds.
//
// render imports nothing of tessera and does no networking.
package render
