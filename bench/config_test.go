package bench

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tessera/render"
)

func TestResolveDefaults(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		spawn     int
		runs      int
		kernel    render.Settings
		render    render.Settings
		schedSide int
	}{
		{name: "zero value: two spawned nodes, three full runs", cfg: Config{Executable: "tessera"},
			spawn: 2, runs: 3, kernel: FullWorkload.Kernel, render: FullWorkload.Render, schedSide: FullWorkload.SchedSide},
		{name: "quick: one run of the quick workload", cfg: Config{Executable: "tessera", Quick: true},
			spawn: 2, runs: 1, kernel: QuickWorkload.Kernel, render: QuickWorkload.Render, schedSide: QuickWorkload.SchedSide},
		{name: "real nodes: nothing spawned", cfg: Config{Executable: "tessera", Nodes: []string{"10.0.0.7:7701"}},
			spawn: 0, runs: 3, kernel: FullWorkload.Kernel, render: FullWorkload.Render, schedSide: FullWorkload.SchedSide},
		{name: "a workload field overrides the preset's, the others stay",
			cfg:   Config{Executable: "tessera", Quick: true, Runs: 5, Workload: Workload{Render: render.Settings{Width: 32, SPP: 1}}},
			spawn: 2, runs: 5, kernel: QuickWorkload.Kernel,
			render: render.Settings{Width: 32, Height: QuickWorkload.Render.Height, SPP: 1}, schedSide: QuickWorkload.SchedSide},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := resolve(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if s.Spawn != tt.spawn || s.Runs != tt.runs || s.Workers != 1 || s.Scene != "cornell" {
				t.Errorf("spawn %d runs %d workers %d scene %q, want spawn %d runs %d workers 1 scene cornell", s.Spawn, s.Runs, s.Workers, s.Scene, tt.spawn, tt.runs)
			}
			if s.work.Kernel != tt.kernel || s.work.Render != tt.render || s.work.SchedSide != tt.schedSide {
				t.Errorf("workload %+v, want kernel %+v render %+v scheduling side %d", s.work, tt.kernel, tt.render, tt.schedSide)
			}
			for _, sec := range Sections {
				if s.sections[sec] == optIn[sec] {
					t.Errorf("section %s selected %v by default, want %v (only the opt-in ones are left out)", sec, s.sections[sec], !optIn[sec])
				}
			}
		})
	}
}

func TestResolveDoesNotWriteTheCallersConfig(t *testing.T) {
	nodes := []string{"10.0.0.7:7701"}
	cfg := Config{Executable: "tessera", Nodes: nodes}
	s, err := resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Nodes[0] = "changed"
	if cfg.Spawn != 0 || cfg.Runs != 0 || cfg.Scene != "" || nodes[0] != "10.0.0.7:7701" {
		t.Errorf("resolve changed the caller's config: %+v, nodes %v", cfg, nodes)
	}
}

func TestResolveRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "negative spawn", cfg: Config{Executable: "t", Spawn: -1}, want: "spawn -1"},
		{name: "spawn with real nodes", cfg: Config{Executable: "t", Spawn: 2, Nodes: []string{"h:1"}}, want: "either spawned nodes or real ones"},
		{name: "negative workers", cfg: Config{Executable: "t", Workers: -2}, want: "workers -2"},
		{name: "negative runs", cfg: Config{Executable: "t", Runs: -1}, want: "runs -1"},
		{name: "negative image size", cfg: Config{Executable: "t", Workload: Workload{Render: render.Settings{Width: -5}}}, want: "render width -5"},
		{name: "unknown section", cfg: Config{Executable: "t", Only: []Section{"kernal"}}, want: `unknown section "kernal"`},
		{name: "nodes needed, no executable", cfg: Config{Only: []Section{SectionKernel, SectionOverhead}}, want: "no Executable: the overhead sections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolve(tt.cfg)
			if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an ErrBadConfig containing %q", err, tt.want)
			}
		})
	}
	if _, err := resolve(Config{Only: []Section{SectionKernel}}); err != nil {
		t.Errorf("the kernel alone needs no executable, got %v", err)
	}
}

func TestParseSections(t *testing.T) {
	got, err := ParseSections(" kernel, discovery ,")
	if err != nil || len(got) != 2 || got[0] != SectionKernel || got[1] != SectionDiscovery {
		t.Errorf("got %v, %v; want [kernel discovery]", got, err)
	}
	if got, err := ParseSections(""); err != nil || len(got) != 0 {
		t.Errorf("empty: got %v, %v; want none", got, err)
	}
	if _, err := ParseSections("kernel,speed"); !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), `"speed"`) {
		t.Errorf("unknown name: got %v, want ErrBadConfig naming it", err)
	}
}

func TestScenePath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mine.json")
	if err := os.WriteFile(file, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := resolve(Config{SceneDir: dir, Only: []Section{SectionKernel}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ref, want, err string
	}{
		{name: "a name in the scene directory", ref: "mine", want: file},
		{name: "a file", ref: file, want: file},
		{name: "a missing name names the directory", ref: "teapot", err: `no teapot.json in ` + dir},
		{name: "a missing file", ref: filepath.Join(dir, "gone.json"), err: "gone.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.scenePath(tt.ref)
			if tt.err != "" {
				if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %q, %v; want an ErrBadConfig containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
