package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnitVerifies checks contrib/tessera-node.service with
// systemd-analyze verify (which needs the ExecStart binary to exist: the
// unit is copied with it pointing at the binary under test), and that it
// says what the README promises: restarted always, nice 19, the idle CPU
// policy, no root.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("TESSERA_CI") != "" {
			t.Fatal("systemd-analyze not found (CI installs systemd)")
		}
		t.Skip("systemd-analyze not found; install systemd to check the unit")
	}
	unit, err := os.ReadFile("../../contrib/tessera-node.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nRestart=always\n", "\nNice=19\n", "\nCPUSchedulingPolicy=idle\n", "\nDynamicUser=yes\n", "\nExecStart=/usr/local/bin/tessera node "} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
	for _, bad := range []string{"\nUser=root", "\nUser=0"} {
		if strings.Contains(string(unit), bad) {
			t.Errorf("the unit runs as root (%q)", strings.TrimSpace(bad))
		}
	}
	path := filepath.Join(t.TempDir(), "tessera-node.service")
	copied := strings.ReplaceAll(string(unit), "/usr/local/bin/tessera", tesseraBinary(t))
	if err := os.WriteFile(path, []byte(copied), 0o644); err != nil {
		t.Fatal(err)
	}
	// verify exits 0 on unknown keys and bad values too, after a line on
	// stderr naming the file: any output is a failure.
	out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// verify does not read the command line: the flags of ExecStart must
	// be flags of tessera node (parsed up to -h, which exits 0).
	for line := range strings.Lines(string(unit)) {
		cmdline, ok := strings.CutPrefix(strings.TrimSpace(line), "ExecStart=/usr/local/bin/tessera ")
		if !ok {
			continue
		}
		args := append(strings.Fields(strings.ReplaceAll(cmdline, "%%", "%")), "-h")
		if out, err := exec.Command(tesseraBinary(t), args...).CombinedOutput(); err != nil {
			t.Errorf("tessera %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
