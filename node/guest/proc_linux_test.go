package guest

import (
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	real := "14229 (cat) R 14224 14224 15803 0 -1 4194304 100 0 0 0 7 3 0 0 20 0 1 0 114154 3133440 418 18446744073709551615 94463712002048"
	for _, tc := range []struct {
		name, in string
		want     procStat
		bad      string
	}{
		{"real", real, procStat{pid: 14229, ppid: 14224, comm: "cat", utime: 7, stime: 3}, ""},
		{"comm with spaces and parens", "5 (a) b (c)) S 4 5 5 0 -1 0 0 0 0 0 11 12 0 0 39 19 1 0", procStat{pid: 5, ppid: 4, comm: "a) b (c)", utime: 11, stime: 12, nice: 19}, ""},
		{"no comm", "5 cat S 4", procStat{}, "no (comm)"},
		{"short", "5 (cat) S 4 5", procStat{}, "fields"},
		{"bad ppid", "5 (cat) S x 5 5 0 -1 0 0 0 0 0 11 12 0 0 20 0 1 0", procStat{}, "ppid"},
		{"bad pid", "x (cat) S 4 5 5 0 -1 0 0 0 0 0 11 12 0 0 20 0 1 0", procStat{}, "pid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tc.in))
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("err = %v, want one saying %q", err, tc.bad)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseMachineStat(t *testing.T) {
	for _, tc := range []struct {
		name, in         string
		total, busy, bad string
	}{
		{"real", "cpu  97368 2294 28324 98190 608 0 229 340 0 0\ncpu0 48912 1149 13603 49730 94 0 65 171 0 0\n", "37m50.13s", "21m22.15s", ""},
		{"old kernel, 4 columns", "cpu 100 0 50 850\n", "10s", "1.5s", ""},
		{"no cpu line", "intr 5 6\n", "", "", "want \"cpu"},
		{"3 columns", "cpu 1 2 3\n", "", "", "at least 4"},
		{"junk column", "cpu 1 2 x 4\n", "", "", "column 3"},
		{"empty", "", "", "", "want \"cpu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMachineStat([]byte(tc.in))
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("err = %v, want one saying %q", err, tc.bad)
				}
				return
			}
			if err != nil || got.Total.String() != tc.total || got.Busy.String() != tc.busy {
				t.Fatalf("got %v / %v (%v), want total %s busy %s", got.Total, got.Busy, err, tc.total, tc.busy)
			}
		})
	}
}

// TestSystemCPU reads the real counters while this process spins: its own
// time grows (however loaded the machine, within a deadline), and the
// machine's busy and total time grow at least as much.
func TestSystemCPU(t *testing.T) {
	src, err := SystemCPU()
	if err != nil {
		t.Fatal(err)
	}
	a, err := src.Read()
	if err != nil {
		t.Fatal(err)
	}
	var b CPUSample
	for deadline := time.Now().Add(20 * time.Second); ; {
		for end := time.Now().Add(10 * time.Millisecond); time.Now().Before(end); {
		}
		if b, err = src.Read(); err != nil {
			t.Fatal(err)
		}
		if b.Own-a.Own >= 50*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spinning for 20 s added %v of own CPU time, want 50 ms", b.Own-a.Own)
		}
	}
	own := b.Own - a.Own
	if busy := b.Busy - a.Busy; busy < own-2*tick {
		t.Errorf("busy %v less than own %v", busy, own)
	}
	if total := b.Total - a.Total; total < own-2*tick {
		t.Errorf("total %v less than own %v", total, own)
	}
}
