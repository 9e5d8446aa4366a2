package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The scene file is decoded into generic values first and then read field by
// field, so that every error can name its JSON path (objects[3].material)
// and unknown fields (a typo such as "radious") are refused, not ignored.

// decodeJSON parses data into generic values, numbers as json.Number. A
// syntax error names its line and column.
func decodeJSON(file string, data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonSyntaxErr(file, data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		off := dec.InputOffset()
		return nil, loadErr(file, lineCol(data, off), "unexpected data after the JSON value")
	}
	return v, nil
}

func jsonSyntaxErr(file string, data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset counts the offending byte: point at it.
		return loadErr(file, lineCol(data, se.Offset-1), "malformed JSON: %s", se.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return loadErr(file, lineCol(data, int64(len(data))), "malformed JSON: unexpected end of file")
	}
	return loadErr(file, "", "malformed JSON: %v", err)
}

// lineCol formats a byte offset as "line L, column C" (both from 1).
func lineCol(data []byte, off int64) string {
	off = max(0, min(off, int64(len(data))))
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return fmt.Sprintf("line %d, column %d", line, col)
}

// jsonReader reads a decoded document and keeps the first error.
type jsonReader struct {
	file string
	err  error
}

func (r *jsonReader) fail(path, format string, args ...any) {
	if r.err == nil {
		r.err = loadErr(r.file, path, format, args...)
	}
}

// jobj is a JSON object being read: it remembers which keys were read so
// that done can refuse the others.
type jobj struct {
	r    *jsonReader
	path string
	m    map[string]any
	used map[string]bool
}

// object returns v as an object at path (an empty one after an error).
func (r *jsonReader) object(path string, v any) *jobj {
	m, ok := v.(map[string]any)
	if !ok {
		r.fail(path, "expected an object, got %s", describe(v))
		m = map[string]any{}
	}
	return &jobj{r: r, path: path, m: m, used: map[string]bool{}}
}

// at returns the path of key within o.
func (o *jobj) at(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

func (o *jobj) get(key string) (any, bool) {
	o.used[key] = true
	v, ok := o.m[key]
	return v, ok
}

func (o *jobj) has(key string) bool { _, ok := o.m[key]; return ok }

// describe names a JSON value's type for error messages, quoting short values.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return "the number " + v.String()
	case string:
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return "the string " + strconv.Quote(v)
	case []any:
		return fmt.Sprintf("an array of %d", len(v))
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// number converts v to a finite float64.
func (r *jsonReader) number(path string, v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		r.fail(path, "expected a number, got %s", describe(v))
		return 0, false
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		r.fail(path, "expected a finite number, got %s", n)
		return 0, false
	}
	return f, true
}

// num reads an optional number.
func (o *jobj) num(key string, def float64) float64 {
	f, _ := o.number(key, def)
	return f
}

// number reads an optional number; ok is false when it is absent or bad.
func (o *jobj) number(key string, def float64) (f float64, ok bool) {
	v, ok := o.get(key)
	if !ok {
		return def, false
	}
	if f, ok = o.r.number(o.at(key), v); !ok {
		return def, false
	}
	return f, true
}

// int reads an optional integer.
func (o *jobj) int(key string, def int) int {
	f, ok := o.number(key, float64(def))
	if !ok {
		return def
	}
	if f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
		o.r.fail(o.at(key), "expected an integer, got %v", f)
		return def
	}
	return int(f)
}

// str reads an optional string.
func (o *jobj) str(key, def string) string { return optional(o, key, def, "a string") }

// boolean reads an optional boolean.
func (o *jobj) boolean(key string, def bool) bool { return optional(o, key, def, "true or false") }

// optional reads an optional value of JSON type T (string or bool); want
// says what was expected in the error.
func optional[T any](o *jobj, key string, def T, want string) T {
	v, ok := o.get(key)
	if !ok {
		return def
	}
	t, ok := v.(T)
	if !ok {
		o.r.fail(o.at(key), "expected %s, got %s", want, describe(v))
		return def
	}
	return t
}

// vec reads an optional array of three numbers.
func (o *jobj) vec(key string, def Vec) Vec {
	v, ok := o.get(key)
	if !ok {
		return def
	}
	a, ok := v.([]any)
	if !ok || len(a) != 3 {
		o.r.fail(o.at(key), "expected an array of 3 numbers, got %s", describe(v))
		return def
	}
	var f [3]float64
	for i := range a {
		n, ok := o.r.number(fmt.Sprintf("%s[%d]", o.at(key), i), a[i])
		if !ok {
			return def
		}
		f[i] = n
	}
	return Vec{X: f[0], Y: f[1], Z: f[2]}
}

// sub reads an optional nested object; nil when absent.
func (o *jobj) sub(key string) *jobj {
	v, ok := o.get(key)
	if !ok {
		return nil
	}
	return o.r.object(o.at(key), v)
}

// array reads an optional array.
func (o *jobj) array(key string) []any {
	v, ok := o.get(key)
	if !ok {
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		o.r.fail(o.at(key), "expected an array, got %s", describe(v))
	}
	return a
}

// require fails unless key is present.
func (o *jobj) require(key, what string) bool {
	if !o.has(key) {
		o.r.fail(o.path, "missing field %q (%s)", key, what)
		return false
	}
	return true
}

// done refuses every key that was not read.
func (o *jobj) done() {
	var unknown []string
	for k := range o.m {
		if !o.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return
	}
	slices.Sort(unknown)
	known := make([]string, 0, len(o.used))
	for k := range o.used {
		known = append(known, strconv.Quote(k))
	}
	slices.Sort(known)
	o.r.fail(o.at(unknown[0]), "unknown field %q (expected one of %s)", unknown[0], strings.Join(known, ", "))
}
