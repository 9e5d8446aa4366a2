package bench

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"tessera/render"
)

// TestRunKernel runs the kernel section alone, in-process, on tiny images
// of the repository's scenes plus a fourth given as a file.
func TestRunKernel(t *testing.T) {
	rep, err := Run(context.Background(), Config{
		SceneDir: "../testdata/scenes",
		Scene:    "../testdata/scenes/cornell.json", // the same file as the name: measured once
		Only:     []Section{SectionKernel},
		Runs:     2,
		Workload: Workload{Kernel: render.Settings{Width: 16, Height: 12, SPP: 1}},
		Version:  "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Kernel) != len(KernelScenes) {
		t.Fatalf("%d kernel results, want one per scene of %v: %+v", len(rep.Kernel), KernelScenes, rep.Kernel)
	}
	for i, k := range rep.Kernel {
		if k.Scene != KernelScenes[i] {
			t.Errorf("result %d is for %q, want %q", i, k.Scene, KernelScenes[i])
		}
		if k.RaysPerSecondPerCore <= 0 || k.SamplesPerSecond <= 0 || k.RaysPerSample < 1 {
			t.Errorf("%s: %+v, want positive rates and at least one ray per sample", k.Scene, k)
		}
		if k.RaysPerCPUSecond < 0 {
			t.Errorf("%s: %v rays per CPU-second", k.Scene, k.RaysPerCPUSecond)
		}
	}
	if rep.Scaling == nil || len(rep.Scaling) != 0 || rep.Overhead != nil || rep.Scheduling != nil || rep.Discovery != nil {
		t.Errorf("sections that did not run should be empty or null: %+v", rep)
	}
	m := rep.Machine
	if m.CPUs != runtime.NumCPU() || m.GOOS != runtime.GOOS || m.GOARCH != runtime.GOARCH || m.Version != "test" || m.GoVersion != runtime.Version() {
		t.Errorf("machine %+v does not describe this one", m)
	}
	if rep.Method.Runs != 2 || rep.Method.Work.Kernel != "16x12x1" || rep.Method.Scene != "cornell" {
		t.Errorf("method %+v, want 2 runs of 16x12x1 kernel images, scene cornell", rep.Method)
	}
}

func TestRunAddsAnotherSceneToTheKernel(t *testing.T) {
	rep, err := Run(context.Background(), Config{
		SceneDir: "../testdata/scenes",
		Scene:    "testdata/trivial.json",
		Only:     []Section{SectionKernel},
		Workload: Workload{Kernel: render.Settings{Width: 8, Height: 8, SPP: 1}},
		Quick:    true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rep.Kernel); n != len(KernelScenes)+1 || rep.Kernel[n-1].Scene != "trivial" {
		t.Fatalf("kernel results %+v, want the standard scenes then trivial", rep.Kernel)
	}
}

func TestRunRefusesBadScenes(t *testing.T) {
	tests := []struct {
		name  string
		scene string
		want  string
	}{
		{name: "unknown name", scene: "teapot", want: `scene "teapot": no teapot.json`},
		{name: "a scene that does not load names the file and the place", scene: "testdata/bad.json", want: "bad.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), Config{SceneDir: "../testdata/scenes", Scene: tt.scene, Only: []Section{SectionKernel}})
			if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an ErrBadConfig containing %q", err, tt.want)
			}
		})
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Config{SceneDir: "../testdata/scenes", Only: []Section{SectionKernel}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the context's cancellation", err)
	}
}
