package bench

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"tessera/render"
)

// ErrBadConfig wraps every error Run returns for an invalid Config (a
// missing scene included), before it measures anything.
var ErrBadConfig = errors.New("bench: bad config")

// Section names a part of the suite. The values are those of -only and of
// the Report's JSON keys.
type Section string

const (
	SectionKernel     Section = "kernel"
	SectionScaling    Section = "scaling"
	SectionOverhead   Section = "overhead"
	SectionScheduling Section = "scheduling"
	SectionDiscovery  Section = "discovery"
	SectionPolite     Section = "polite"
	SectionSecurity   Section = "security"
	SectionMesh       Section = "mesh"
	SectionAnimation  Section = "animation"
	SectionWatchers   Section = "watchers"
	SectionScale      Section = "scale"
)

// Sections lists every section in the order Run executes them.
var Sections = []Section{SectionKernel, SectionScaling, SectionOverhead, SectionScheduling, SectionDiscovery, SectionSecurity, SectionPolite, SectionMesh, SectionAnimation, SectionWatchers, SectionScale}

// optIn are the sections run only when Config.Only names them: each
// loads the machine for minutes with hundreds of simulated peers.
var optIn = map[Section]bool{SectionWatchers: true, SectionScale: true}

// ParseSections parses a comma-separated list of section names.
func ParseSections(s string) ([]Section, error) {
	var out []Section
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(Sections, Section(name)) {
			return nil, fmt.Errorf("%w: unknown section %q (want %s)", ErrBadConfig, name, joinSections(Sections))
		}
		out = append(out, Section(name))
	}
	return out, nil
}

func joinSections(ss []Section) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// KernelScenes are the scenes the kernel section always measures.
var KernelScenes = []string{"cornell", "bunny", "spheres"}

// Config describes a suite. The zero value is valid where Executable is not
// needed (kernel only); every zero field takes the default written beside it.
type Config struct {
	// Executable is the tessera binary whose `node` subcommand the spawned
	// nodes run. Required by every section but kernel.
	Executable string
	// Scene is the scene of the scaling and overhead renders: a name of
	// SceneDir ("cornell") or a JSON file. Default "cornell".
	Scene string
	// SceneDir holds the named scenes (NAME.json). Default: testdata/scenes
	// in the working directory, else ../testdata/scenes beside Executable.
	SceneDir string
	// Spawn is how many node processes the scaling section starts on
	// 127.0.0.1. Default 2 when neither Nodes nor Registry is given, else 0.
	Spawn int
	// Workers is the render goroutines of each spawned node and of the
	// in-process side of the overhead section. Default 1.
	Workers int
	// Nodes (host:port) and the nodes listed by Registry (host:port) are
	// real nodes for the scaling section, in that order, instead of spawned
	// ones. The overhead, scheduling, discovery and security sections always use a
	// node process on loopback.
	Nodes    []string
	Registry []string
	// Token is the room's token, for real nodes and registries; spawned
	// nodes get it too (through $TESSERA_TOKEN, not their command line).
	Token string
	// Runs is how many times each section is repeated. Default 3, or 1 when
	// Quick.
	Runs int
	// Quick selects the small workload (QuickWorkload), which finishes
	// within a minute on two cores.
	Quick bool
	// Workload overrides the sizes of the preset (FullWorkload or
	// QuickWorkload) field by field; zero fields keep the preset's.
	Workload Workload
	// Fake is the scale section's node counts; empty: DefaultFake.
	Fake []int
	// Only restricts the suite to these sections; empty means all of them
	// but watchers and scale, which run only when named.
	Only []Section
	// Version is the software version written into the report's machine.
	Version string
	// Logger receives a progress line per measurement. The zero Logger
	// discards.
	Logger zerolog.Logger
}

// Workload holds the sizes the sections render. A zero field of
// Config.Workload keeps the preset's value.
type Workload struct {
	Kernel    render.Settings // image of the kernel section, per scene
	Render    render.Settings // image of the scaling and overhead renders
	Tile      int             // tile side of the scaling and overhead renders
	SchedSide int             // width and height of the scheduling image
	SchedTile int             // tile side of the scheduling section
	// MeshTriangles is the size of the mesh section's generated mesh (at
	// least this many triangles).
	MeshTriangles int
	// AnimFrames are the frames (1 to AnimFrames) the animation section
	// renders, each of size Anim.
	AnimFrames int
	Anim       render.Settings
}

// FullWorkload is the default: a few seconds per measurement on one core.
var FullWorkload = Workload{
	Kernel:    render.Settings{Width: 256, Height: 256, SPP: 4},
	Render:    render.Settings{Width: 512, Height: 512, SPP: 4},
	Tile:      32,
	SchedSide: 512,
	SchedTile: 4,

	MeshTriangles: 1_000_000,

	AnimFrames: 48, // the issue's: tessera render -frames 1-48 -width 160 -height 100 -spp 16 orbit.glb
	Anim:       render.Settings{Width: 160, Height: 100, SPP: 16},
}

// QuickWorkload is -quick's: the whole suite within a minute on two cores.
var QuickWorkload = Workload{
	Kernel:    render.Settings{Width: 128, Height: 128, SPP: 2},
	Render:    render.Settings{Width: 256, Height: 256, SPP: 2},
	Tile:      32,
	SchedSide: 256,
	SchedTile: 4,

	MeshTriangles: 50_000,

	AnimFrames: 12,
	Anim:       render.Settings{Width: 80, Height: 50, SPP: 4},
}

// merge returns w with every zero field taken from preset.
func (w Workload) merge(preset Workload) Workload {
	pick := func(v, d int) int {
		if v != 0 {
			return v
		}
		return d
	}
	w.Kernel = render.Settings{
		Width: pick(w.Kernel.Width, preset.Kernel.Width), Height: pick(w.Kernel.Height, preset.Kernel.Height),
		SPP: pick(w.Kernel.SPP, preset.Kernel.SPP), MaxDepth: pick(w.Kernel.MaxDepth, preset.Kernel.MaxDepth),
	}
	w.Render = render.Settings{
		Width: pick(w.Render.Width, preset.Render.Width), Height: pick(w.Render.Height, preset.Render.Height),
		SPP: pick(w.Render.SPP, preset.Render.SPP), MaxDepth: pick(w.Render.MaxDepth, preset.Render.MaxDepth),
	}
	w.Tile = pick(w.Tile, preset.Tile)
	w.SchedSide = pick(w.SchedSide, preset.SchedSide)
	w.SchedTile = pick(w.SchedTile, preset.SchedTile)
	w.MeshTriangles = pick(w.MeshTriangles, preset.MeshTriangles)
	w.AnimFrames = pick(w.AnimFrames, preset.AnimFrames)
	w.Anim = render.Settings{
		Width: pick(w.Anim.Width, preset.Anim.Width), Height: pick(w.Anim.Height, preset.Anim.Height),
		SPP: pick(w.Anim.SPP, preset.Anim.SPP), MaxDepth: pick(w.Anim.MaxDepth, preset.Anim.MaxDepth),
	}
	return w
}

// check validates a merged workload.
func (w Workload) check() error {
	for _, v := range []struct {
		name string
		val  int
	}{
		{"kernel width", w.Kernel.Width}, {"kernel height", w.Kernel.Height}, {"kernel spp", w.Kernel.SPP},
		{"render width", w.Render.Width}, {"render height", w.Render.Height}, {"render spp", w.Render.SPP},
		{"tile", w.Tile}, {"scheduling image side", w.SchedSide}, {"scheduling tile", w.SchedTile},
		{"mesh triangles", w.MeshTriangles},
		{"animation frames", w.AnimFrames}, {"animation width", w.Anim.Width}, {"animation height", w.Anim.Height}, {"animation spp", w.Anim.SPP},
	} {
		if v.val < 1 {
			return fmt.Errorf("%w: %s %d, want at least 1", ErrBadConfig, v.name, v.val)
		}
	}
	if w.Kernel.MaxDepth < 0 || w.Render.MaxDepth < 0 {
		return fmt.Errorf("%w: negative maximum depth", ErrBadConfig)
	}
	return nil
}

// Process-stopping and polling timings.
const (
	nodeStartTimeout = 15 * time.Second // a spawned node prints its address within this
	nodeStopGrace    = 5 * time.Second  // after SIGINT, a spawned node is killed after this
	discoveryTimeout = 15 * time.Second // a spawned node is listed by the registry within this
	discoveryPoll    = 2 * time.Millisecond
)

// settings is a Config with its defaults filled in, private to Run.
type settings struct {
	Config
	work         Workload
	sections     map[Section]bool
	stopGrace    time.Duration // nodeStopGrace; tests shorten it
	startTimeout time.Duration // nodeStartTimeout; tests shorten it
}

// resolve checks cfg and fills its defaults on a copy.
func resolve(cfg Config) (*settings, error) {
	s := &settings{Config: cfg, stopGrace: nodeStopGrace, startTimeout: nodeStartTimeout}
	s.Nodes = slices.Clone(cfg.Nodes)
	s.Registry = slices.Clone(cfg.Registry)
	if s.Scene == "" {
		s.Scene = "cornell"
	}
	remote := len(s.Nodes) > 0 || len(s.Registry) > 0
	switch {
	case s.Spawn < 0:
		return nil, fmt.Errorf("%w: spawn %d, want 0 or more", ErrBadConfig, s.Spawn)
	case s.Spawn > 0 && remote:
		return nil, fmt.Errorf("%w: spawn %d with real nodes: the scaling section uses either spawned nodes or real ones", ErrBadConfig, s.Spawn)
	case s.Spawn == 0 && !remote:
		s.Spawn = 2
	}
	if s.Workers < 0 {
		return nil, fmt.Errorf("%w: workers %d, want 1 or more", ErrBadConfig, s.Workers)
	}
	if s.Workers == 0 {
		s.Workers = 1
	}
	if s.Runs < 0 {
		return nil, fmt.Errorf("%w: runs %d, want 1 or more", ErrBadConfig, s.Runs)
	}
	if s.Runs == 0 {
		s.Runs = 3
		if s.Quick {
			s.Runs = 1
		}
	}
	preset := FullWorkload
	if s.Quick {
		preset = QuickWorkload
	}
	s.work = cfg.Workload.merge(preset)
	if err := s.work.check(); err != nil {
		return nil, err
	}
	s.sections = make(map[Section]bool)
	for _, sec := range cfg.Only {
		if !slices.Contains(Sections, sec) {
			return nil, fmt.Errorf("%w: unknown section %q (want %s)", ErrBadConfig, sec, joinSections(Sections))
		}
		s.sections[sec] = true
	}
	if len(s.sections) == 0 {
		for _, sec := range Sections {
			s.sections[sec] = !optIn[sec]
		}
	}
	if s.Executable == "" && s.needsNodes() {
		return nil, fmt.Errorf("%w: no Executable: the %s sections start node processes", ErrBadConfig, joinSections(s.nodeSections()))
	}
	return s, nil
}

// nodeSections are the selected sections that start node processes.
func (s *settings) nodeSections() []Section {
	var out []Section
	for _, sec := range Sections[1:] {
		if s.sections[sec] && !(sec == SectionScaling && s.Spawn == 0) {
			out = append(out, sec)
		}
	}
	return out
}

func (s *settings) needsNodes() bool { return len(s.nodeSections()) > 0 }
