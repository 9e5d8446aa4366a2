package guest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeProc builds a proc tree: the switch, then for each process its stat
// and autogroup. self is a directory of its own (the real one is a link).
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T, enabled string) fakeProc {
	t.Helper()
	f := fakeProc{t: t, root: t.TempDir()}
	if enabled != "" {
		f.write("sys/kernel/sched_autogroup_enabled", enabled+"\n")
	}
	return f
}

func (f fakeProc) write(name, data string) {
	f.t.Helper()
	p := filepath.Join(f.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// proc adds process pid (its directory named dir: "self" or the pid).
func (f fakeProc) proc(dir string, pid, ppid int, comm, group string, nice int) {
	f.t.Helper()
	f.write(dir+"/stat", fmt.Sprintf("%d (%s) S %d %d %d 0 -1 4194304 100 0 0 0 7 3 0 0 20 0 1 0 114154 3133440 418\n", pid, comm, ppid, pid, pid))
	f.write(dir+"/autogroup", fmt.Sprintf("%s nice %d\n", group, nice))
}

func (f fakeProc) read(name string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.root, name))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func TestLowerAutogroup(t *testing.T) {
	// A node (pid 100) started by a shell (50) started by a terminal (10),
	// all three in autogroup 7, the desktop (200) in autogroup 3.
	family := func(f fakeProc) {
		f.proc("self", 100, 50, "tessera", "/autogroup-7", 0)
		f.proc("100", 100, 50, "tessera", "/autogroup-7", 0)
		f.proc("50", 50, 10, "bash", "/autogroup-7", 0)
		f.proc("10", 10, 1, "xterm", "/autogroup-7", 0)
		f.proc("1", 1, 0, "systemd", "/autogroup-1", 0)
		f.proc("200", 200, 1, "firefox", "/autogroup-3", 0)
	}
	t.Run("alone in its session: lowered", func(t *testing.T) {
		f := newFakeProc(t, "1")
		family(f)
		r, err := lowerAutogroup(procFS(f.root), 19)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.read("self/autogroup"); got != "19" {
			t.Errorf("self/autogroup = %q, want 19 written", got)
		}
		if !strings.Contains(r.Done, "/autogroup-7") || r.Warning != "" {
			t.Errorf("report %+v: want Done naming the group, no warning", r)
		}
	})
	t.Run("sharing its session: left alone", func(t *testing.T) {
		f := newFakeProc(t, "1")
		family(f)
		f.proc("60", 60, 50, "vim (my file)", "/autogroup-7", 0) // a job beside the node
		f.proc("61", 61, 50, "make", "/autogroup-7", 0)
		f.proc("62", 62, 50, "cc", "/autogroup-7", 0)
		f.proc("63", 63, 50, "ld", "/autogroup-7", 0)
		r, err := lowerAutogroup(procFS(f.root), 19)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.read("self/autogroup"); !strings.HasPrefix(got, "/autogroup-7 nice 0") {
			t.Errorf("self/autogroup = %q, want it untouched", got)
		}
		for _, want := range []string{"vim (my file) (pid 60)", "make (pid 61)", "cc (pid 62)", "1 more", "setsid"} {
			if !strings.Contains(r.Warning, want) {
				t.Errorf("warning %q lacks %q", r.Warning, want)
			}
		}
		if r.Done != "" {
			t.Errorf("Done = %q, want nothing done", r.Done)
		}
	})
	t.Run("autogroups off: nothing to do", func(t *testing.T) {
		f := newFakeProc(t, "0")
		family(f)
		if r, err := lowerAutogroup(procFS(f.root), 19); err != nil || r != (ProcessReport{}) {
			t.Errorf("got %+v, %v; want nothing", r, err)
		}
	})
	t.Run("no autogroup support", func(t *testing.T) {
		f := newFakeProc(t, "")
		family(f)
		if r, err := lowerAutogroup(procFS(f.root), 19); err != nil || r != (ProcessReport{}) {
			t.Errorf("got %+v, %v; want nothing", r, err)
		}
	})
	t.Run("already lower", func(t *testing.T) {
		f := newFakeProc(t, "1")
		family(f)
		f.proc("self", 100, 50, "tessera", "/autogroup-7", 19)
		if r, err := lowerAutogroup(procFS(f.root), 10); err != nil || r != (ProcessReport{}) {
			t.Errorf("got %+v, %v; want nothing", r, err)
		}
		if got := f.read("self/autogroup"); !strings.HasPrefix(got, "/autogroup-7 nice 19") {
			t.Errorf("self/autogroup = %q, want it untouched", got)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		f := newFakeProc(t, "1")
		family(f)
		f.write("self/autogroup", "nonsense\n")
		if _, err := lowerAutogroup(procFS(f.root), 19); err == nil || !strings.Contains(err.Error(), "nonsense") {
			t.Errorf("err = %v, want one quoting the bad line", err)
		}
	})
}
