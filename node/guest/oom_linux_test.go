package guest

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestRaiseOOMScore raises the score of a child process (this test binary
// again), not of the test process, and reads it from outside.
func TestRaiseOOMScore(t *testing.T) {
	if os.Getenv("GUEST_OOM_CHILD") == "1" {
		got, err := RaiseOOMScore()
		if err != nil {
			t.Fatal(err)
		}
		again, err := RaiseOOMScore()
		if err != nil || again != got {
			t.Fatalf("second call: %d, %v; want %d", again, err, got)
		}
		b, err := os.ReadFile("/proc/self/oom_score_adj")
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("returned " + strconv.Itoa(got) + ", kernel has " + strings.TrimSpace(string(b)) + "\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestRaiseOOMScore$", "-test.v")
	cmd.Env = append(os.Environ(), "GUEST_OOM_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "returned 1000, kernel has 1000\n") {
		t.Fatalf("child reports %q, want 1000 returned and in the kernel", out)
	}
	b, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(b)) == "1000" {
		t.Skip("this test process runs at 1000 already; the child proved nothing new")
	}
}
