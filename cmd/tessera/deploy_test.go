package main

// The container image and Kubernetes manifests of deploy/ cannot be run
// here (no container runtime, no cluster): these tests parse them and check
// their structure and that they say what the README promises, and run the
// flags they give tessera through tessera CMD ... -h.
//
// YAML is parsed by yamlDoc below, a parser of the subset the manifests are
// written in (block mappings and sequences, plain and quoted scalars,
// comments, "---" between documents), which refuses anything else with the
// line: the project takes no YAML library for one test (its dependencies
// are few and named), and the manifests stay plain.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// yamlLine is one meaningful line: its indentation and its text.
type yamlLine struct {
	n      int // 1-based
	indent int
	text   string
}

// parseYAML parses a file of the subset into one value per document:
// map[string]any, []any or string.
func parseYAML(src string) ([]any, error) {
	var docs []any
	var cur []yamlLine
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		p := &yamlParser{lines: cur}
		v, err := p.value(cur[0].indent)
		if err != nil {
			return err
		}
		if p.i < len(p.lines) {
			return fmt.Errorf("line %d: unexpected indentation", p.lines[p.i].n)
		}
		docs = append(docs, v)
		cur = nil
		return nil
	}
	for i, raw := range strings.Split(src, "\n") {
		if strings.Contains(raw, "\t") {
			return nil, fmt.Errorf("line %d: a tab (YAML indents with spaces)", i+1)
		}
		text := strings.TrimRight(stripComment(raw), " ")
		if strings.TrimSpace(text) == "" {
			continue
		}
		if text == "---" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		trimmed := strings.TrimLeft(text, " ")
		cur = append(cur, yamlLine{n: i + 1, indent: len(text) - len(trimmed), text: trimmed})
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
}

// stripComment drops a comment: a '#' at the start or after a space,
// outside quotes.
func stripComment(s string) string {
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '#' && (i == 0 || s[i-1] == ' '):
			return s[:i]
		}
	}
	return s
}

type yamlParser struct {
	lines []yamlLine
	i     int
}

// value parses the block starting at the current line, indented by indent.
func (p *yamlParser) value(indent int) (any, error) {
	l := p.lines[p.i]
	if l.indent != indent {
		return nil, fmt.Errorf("line %d: indented %d, want %d", l.n, l.indent, indent)
	}
	if l.text == "-" || strings.HasPrefix(l.text, "- ") {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func (p *yamlParser) sequence(indent int) ([]any, error) {
	var out []any
	for p.i < len(p.lines) && p.lines[p.i].indent == indent && strings.HasPrefix(p.lines[p.i].text+" ", "- ") {
		l := p.lines[p.i]
		rest := strings.TrimPrefix(strings.TrimPrefix(l.text, "-"), " ")
		switch {
		case rest == "":
			p.i++
			if p.i == len(p.lines) || p.lines[p.i].indent <= indent {
				return nil, fmt.Errorf("line %d: empty item", l.n)
			}
			v, err := p.value(p.lines[p.i].indent)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		case isMappingEntry(rest):
			// "- key: value" opens a mapping indented as its first key.
			p.lines[p.i] = yamlLine{n: l.n, indent: indent + 2, text: rest}
			v, err := p.mapping(indent + 2)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		default:
			s, err := scalar(rest, l.n)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			p.i++
		}
	}
	return out, nil
}

func (p *yamlParser) mapping(indent int) (map[string]any, error) {
	out := map[string]any{}
	for p.i < len(p.lines) && p.lines[p.i].indent == indent {
		l := p.lines[p.i]
		if !isMappingEntry(l.text) {
			return nil, fmt.Errorf("line %d: %q is not key: value", l.n, l.text)
		}
		key, rest, _ := strings.Cut(l.text, ":")
		rest = strings.TrimSpace(rest)
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("line %d: key %q twice", l.n, key)
		}
		p.i++
		if rest != "" {
			s, err := scalar(rest, l.n)
			if err != nil {
				return nil, err
			}
			out[key] = s
			continue
		}
		if p.i == len(p.lines) || p.lines[p.i].indent < indent ||
			p.lines[p.i].indent == indent && !strings.HasPrefix(p.lines[p.i].text, "- ") {
			return nil, fmt.Errorf("line %d: key %q without a value", l.n, key)
		}
		v, err := p.value(p.lines[p.i].indent)
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	if p.i < len(p.lines) && p.lines[p.i].indent > indent {
		return nil, fmt.Errorf("line %d: unexpected indentation", p.lines[p.i].n)
	}
	return out, nil
}

// isMappingEntry reports whether s is "key:" or "key: value", a plain key.
func isMappingEntry(s string) bool {
	key, rest, ok := strings.Cut(s, ":")
	if !ok || key == "" || strings.ContainsAny(key, " \"'{}[],&*!|>%@`") || strings.HasPrefix(key, "-") {
		return false
	}
	return rest == "" || rest[0] == ' '
}

// scalar reads a plain or quoted scalar; flow collections, anchors, tags
// and block scalars are outside the subset.
func scalar(s string, line int) (string, error) {
	switch {
	case strings.HasPrefix(s, `"`):
		v, err := strconv.Unquote(s)
		if err != nil {
			return "", fmt.Errorf("line %d: bad double-quoted scalar %s", line, s)
		}
		return v, nil
	case strings.HasPrefix(s, "'"):
		if len(s) < 2 || !strings.HasSuffix(s, "'") {
			return "", fmt.Errorf("line %d: bad single-quoted scalar %s", line, s)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	case strings.ContainsAny(s[:1], "[]{}&*!|>%@`"):
		return "", fmt.Errorf("line %d: %q is outside the YAML subset of the manifests", line, s)
	case strings.Contains(s, ": "):
		return "", fmt.Errorf("line %d: %q: a plain scalar with \": \"", line, s)
	}
	return s, nil
}

func TestYAMLSubset(t *testing.T) {
	docs, err := parseYAML("a: 1\nb:\n  - x\n  - y: \"2\"\n    z: '3'\n# c\n---\n- p # q\n")
	if err != nil {
		t.Fatal(err)
	}
	want := `[map[a:1 b:[x map[y:2 z:3]]] [p]]`
	if got := fmt.Sprint(docs); got != want {
		t.Errorf("parsed %s, want %s", got, want)
	}
	for _, bad := range []string{"a: [1, 2]", "a:\n\tb: 1", "a: 1\na: 2", "a:\n", "a: 1\n  b: 2", "a: &x 1", "- a\nb: 1", "a: b: c"} {
		if _, err := parseYAML(bad); err == nil {
			t.Errorf("%q parsed; want an error", bad)
		}
	}
}

// at walks a parsed document down keys and indexes.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, k := range path {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not a mapping at %q", path, k)
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("%v: no key %q", path, k)
			}
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				t.Fatalf("%v: no item %d", path, k)
			}
			v = s[k]
		}
	}
	return v
}

func str(t *testing.T, v any, path ...any) string {
	t.Helper()
	s, ok := at(t, v, path...).(string)
	if !ok {
		t.Fatalf("%v: not a scalar", path)
	}
	return s
}

func strs(t *testing.T, v any, path ...any) []string {
	t.Helper()
	l, ok := at(t, v, path...).([]any)
	if !ok {
		t.Fatalf("%v: not a sequence", path)
	}
	var out []string
	for _, x := range l {
		s, ok := x.(string)
		if !ok {
			t.Fatalf("%v: an item is not a scalar", path)
		}
		out = append(out, s)
	}
	return out
}

// TestKubernetesManifests parses deploy/kubernetes and checks what the
// README says of it: a namespace; the registry as a Deployment of one
// replica behind a Service, its selector matching the pods; the nodes as a
// DaemonSet with a CPU limit that becomes -workers, registering the
// machine's address with that Service; no root, no privilege escalation;
// and every tessera command line valid for tessera's flags.
func TestKubernetesManifests(t *testing.T) {
	files, err := filepath.Glob("../../deploy/kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes (%v)", err)
	}
	byKind := map[string]any{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := parseYAML(string(src))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, d := range docs {
			kind := str(t, d, "kind")
			if str(t, d, "apiVersion") == "" || str(t, d, "metadata", "name") == "" {
				t.Errorf("%s: a %s without apiVersion or name", f, kind)
			}
			if kind != "Namespace" && str(t, d, "metadata", "namespace") != "tessera" {
				t.Errorf("%s: %s not in namespace tessera", f, kind)
			}
			if byKind[kind] != nil {
				t.Errorf("%s: a second %s", f, kind)
			}
			byKind[kind] = d
		}
	}
	for _, kind := range []string{"Namespace", "Deployment", "Service", "DaemonSet"} {
		if byKind[kind] == nil {
			t.Fatalf("no %s in deploy/kubernetes", kind)
		}
	}
	dep, svc, ds := byKind["Deployment"], byKind["Service"], byKind["DaemonSet"]

	// Workloads: selectors match their pods' labels; the containers run
	// the image's tessera unprivileged, with a command line tessera takes.
	check := func(w any, role string) map[string]any {
		t.Helper()
		sel := at(t, w, "spec", "selector", "matchLabels").(map[string]any)
		labels := at(t, w, "spec", "template", "metadata", "labels").(map[string]any)
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("%s: selector %s=%v does not match the pod's labels %v", role, k, v, labels)
			}
		}
		if str(t, w, "spec", "template", "spec", "securityContext", "runAsNonRoot") != "true" {
			t.Errorf("%s: pods may run as root", role)
		}
		c := at(t, w, "spec", "template", "spec", "containers", 0).(map[string]any)
		if !strings.HasPrefix(str(t, c, "image"), "tessera:") {
			t.Errorf("%s: image %q, want the tessera image", role, c["image"])
		}
		if str(t, c, "securityContext", "allowPrivilegeEscalation") != "false" || !slices.Contains(strs(t, c, "securityContext", "capabilities", "drop"), "ALL") {
			t.Errorf("%s: privilege escalation or capabilities left", role)
		}
		args := strs(t, c, "args")
		if len(args) == 0 || args[0] != role {
			t.Fatalf("%s: args %v, want tessera %s ...", role, args, role)
		}
		// Kubernetes expands $(VAR) from the container's env: each must
		// be defined there; the flags must be tessera's.
		env := map[string]bool{}
		if e, ok := c["env"].([]any); ok {
			for _, x := range e {
				env[str(t, x, "name")] = true
			}
		}
		var cmd []string
		for _, a := range args {
			for _, v := range []string{"TESSERA_HOST_IP", "TESSERA_CPUS", "TESSERA_MACHINE"} {
				if strings.Contains(a, "$("+v+")") && !env[v] {
					t.Errorf("%s: args use $(%s), which its env does not define", role, v)
				}
			}
			a = strings.NewReplacer("$(TESSERA_HOST_IP)", "10.0.0.7", "$(TESSERA_CPUS)", "4", "$(TESSERA_MACHINE)", "pc-07").Replace(a)
			if strings.Contains(a, "$(") {
				t.Errorf("%s: argument %q uses an unknown variable", role, a)
			}
			cmd = append(cmd, a)
		}
		if out, err := exec.Command(tesseraBinary(t), append(cmd, "-h")...).CombinedOutput(); err != nil {
			t.Errorf("%s: tessera %s -h: %v\n%s", role, strings.Join(cmd, " "), err, out)
		}
		return c
	}

	if str(t, dep, "spec", "replicas") != "1" {
		t.Errorf("registry: %v replicas, want 1 (its list is in memory)", at(t, dep, "spec", "replicas"))
	}
	reg := check(dep, "registry")
	regPort := str(t, reg, "ports", 0, "containerPort")
	if regPort != "7700" || !slices.Contains(strs(t, reg, "args"), ":"+regPort) {
		t.Errorf("registry listens on %v, its container port is %s", strs(t, reg, "args"), regPort)
	}

	// The Service selects the registry's pods and forwards to its port.
	for k, v := range at(t, svc, "spec", "selector").(map[string]any) {
		if at(t, dep, "spec", "template", "metadata", "labels").(map[string]any)[k] != v {
			t.Errorf("service selector %s=%v does not select the registry's pods", k, v)
		}
	}
	if tp := str(t, svc, "spec", "ports", 0, "targetPort"); tp != str(t, reg, "ports", 0, "name") && tp != regPort {
		t.Errorf("service targetPort %s is not the registry's port", tp)
	}
	svcAddr := fmt.Sprintf("%s.%s.svc.cluster.local:%s", str(t, svc, "metadata", "name"), str(t, svc, "metadata", "namespace"), str(t, svc, "spec", "ports", 0, "port"))

	// The nodes: one per machine, on its network, registered with the
	// Service, workers from the CPU limit.
	node := check(ds, "node")
	args := strs(t, node, "args")
	flag := func(name string) string {
		i := slices.Index(args, name)
		if i < 0 || i+1 == len(args) {
			t.Fatalf("node: no %s in %v", name, args)
		}
		return args[i+1]
	}
	if flag("-registry") != svcAddr {
		t.Errorf("node: -registry %s, want the registry's Service %s", flag("-registry"), svcAddr)
	}
	if flag("-workers") != "$(TESSERA_CPUS)" || str(t, node, "resources", "limits", "cpu") == "" {
		t.Errorf("node: -workers %s, want $(TESSERA_CPUS) from a CPU limit", flag("-workers"))
	}
	for _, e := range at(t, node, "env").([]any) {
		if str(t, e, "name") == "TESSERA_CPUS" && str(t, e, "valueFrom", "resourceFieldRef", "resource") != "limits.cpu" {
			t.Error("node: TESSERA_CPUS is not its CPU limit")
		}
	}
	if str(t, ds, "spec", "template", "spec", "hostNetwork") != "true" || !strings.HasPrefix(flag("-advertise"), "$(TESSERA_HOST_IP):") {
		t.Error("node: not on the machine's network, or not advertising the machine's address")
	}
}

// TestDockerfile checks deploy/Dockerfile: a static tessera (no cgo) built
// from this module, copied alone onto an empty base and run unprivileged.
func TestDockerfile(t *testing.T) {
	src, err := os.ReadFile("../../deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	var build, user, entry string
	for line := range strings.Lines(string(src)) {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, f[1])
		case "RUN":
			if strings.Contains(line, "go build") {
				build = line
			}
		case "USER":
			user = f[1]
		case "ENTRYPOINT":
			entry = strings.Join(f[1:], " ")
		}
	}
	if len(froms) != 2 || froms[len(froms)-1] != "scratch" {
		t.Errorf("stages FROM %v, want a build stage and scratch", froms)
	}
	if !strings.Contains(build, "CGO_ENABLED=0") || !strings.Contains(build, "./cmd/tessera") {
		t.Errorf("build line %q: want a static build of ./cmd/tessera", build)
	}
	if user == "" || strings.HasPrefix(user, "0") || user == "root" {
		t.Errorf("USER %q: want an unprivileged user", user)
	}
	if entry != `["/tessera"]` {
		t.Errorf("ENTRYPOINT %s, want the binary", entry)
	}
}
