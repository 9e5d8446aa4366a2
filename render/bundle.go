package render

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
)

// A scene names the files it references (meshes, MTL files, textures) by
// paths relative to the file that references them. A Bundle keys every file
// by its path relative to the scene file's directory, cleaned and with
// slashes: "cornell.json", "../meshes/bunny.obj". References may climb out
// of the scene's directory with "..", and absolute paths are accepted and
// kept as they are ("/home/me/bunny.obj"): a bundle is loaded from its own
// bytes only, so a name never reaches a node's file system.

// resolveRef returns the bundle name of ref as referenced from file from.
func resolveRef(from, ref string) string {
	if path.IsAbs(ref) {
		return path.Clean(ref)
	}
	return path.Clean(path.Join(path.Dir(from), ref))
}

// source supplies the bytes of the files a scene references.
type source interface {
	// read returns the content of the named file (a bundle name). The
	// error wraps fs.ErrNotExist for a missing file and ErrLimit for one
	// that would exceed Limits.MaxSceneBytes.
	read(name string) ([]byte, error)
}

// bundleSource reads from a Bundle's map.
type bundleSource struct{ b *Bundle }

func (s bundleSource) read(name string) ([]byte, error) {
	data, ok := s.b.Files[name]
	if !ok {
		return nil, fmt.Errorf("not in the scene bundle: %w", fs.ErrNotExist)
	}
	return data, nil
}

// diskSource reads files relative to a directory, records them, and keeps
// their total within a byte limit.
type diskSource struct {
	dir   string
	max   int64
	total int64
	files map[string][]byte
}

func (s *diskSource) read(name string) ([]byte, error) {
	if data, ok := s.files[name]; ok {
		return data, nil
	}
	p := filepath.FromSlash(name)
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.dir, p)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	left := s.max - s.total
	// Read into a buffer of the file's size (one byte more, to see past the
	// limit), not one ReadAll regrows: a big mesh would leave its half-read
	// copies to the collector.
	size := int64(512)
	if st, err := f.Stat(); err == nil && st.Size() < left {
		size = st.Size() + 1
	}
	data, err := readAll(io.LimitReader(f, left+1), make([]byte, 0, size))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > left {
		size := s.total + int64(len(data))
		if st, err := f.Stat(); err == nil {
			size = s.total + st.Size()
		}
		return nil, &LimitError{Limit: "MaxSceneBytes", What: "bytes of scene files", Value: size, Max: s.max}
	}
	s.total += int64(len(data))
	s.files[name] = data
	return data, nil
}

// readAll is io.ReadAll into buf, which it grows only when it is full.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// readBundle loads the scene at path from disk (without building its BVH)
// and returns it with the bundle of every file it read. A glTF file is
// rendered as the scene directScene writes for it and d.
func readBundle(p string, d Direct, lim Limits) (*sceneData, *Bundle, error) {
	lim = lim.withDefaults()
	src := &diskSource{dir: filepath.Dir(p), max: lim.MaxSceneBytes, files: map[string][]byte{}}
	main := filepath.Base(p)
	if isGLTF(main) {
		if err := checkDirectEnv(d); err != nil {
			return nil, nil, err
		}
		if d.Env != "" {
			d.Env = envRef(p, d.Env)
		}
		doc, err := parseGLTF(src, main, lim)
		if err != nil {
			return nil, nil, err
		}
		js := directScene(main, d, doc.lit())
		main += directSuffix
		src.files[main] = js
		src.total += int64(len(js))
	} else if d != (Direct{}) {
		return nil, nil, fmt.Errorf("%w: %s: -camera, -env and the like apply to a .gltf or .glb file rendered on its own", ErrBadSettings, main)
	}
	sd, err := parseScene(src, main, lim)
	if err != nil {
		return nil, nil, err
	}
	return sd, &Bundle{Main: main, Files: src.files}, nil
}

// loadBundle parses the bundle's scene and builds it.
func loadBundle(b *Bundle, lim Limits) (*Scene, error) {
	lim = lim.withDefaults()
	if b == nil || b.Files == nil {
		return nil, errors.New("render: empty scene bundle")
	}
	var total int64
	for _, data := range b.Files {
		total += int64(len(data))
	}
	if total > lim.MaxSceneBytes {
		return nil, &LoadError{File: b.Main, Err: &LimitError{Limit: "MaxSceneBytes", What: "bytes of scene files", Value: total, Max: lim.MaxSceneBytes}}
	}
	sd, err := parseScene(bundleSource{b: b}, b.Main, lim)
	if err != nil {
		return nil, err
	}
	sd.finish()
	return &Scene{sceneData: *sd}, nil
}

// bundleHash is the hex SHA-256 of the main name and of every file's name
// and content in name order, each prefixed with its length.
func bundleHash(b *Bundle) string {
	h := sha256.New()
	var n [8]byte
	put := func(p []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	put([]byte(b.Main))
	names := make([]string, 0, len(b.Files))
	for name := range b.Files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		put([]byte(name))
		put(b.Files[name])
	}
	return hex.EncodeToString(h.Sum(nil))
}
