package render

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestHugePages: the array keeps its values, and Linux reports huge pages in
// the mapping that holds it (smaps' AnonHugePages).
func TestHugePages(t *testing.T) {
	s := make([]uint64, 4*hugePage/8)
	for i := range s {
		s[i] = uint64(i) * 0x9e3779b97f4a7c15
	}
	if !hugePages(s) {
		t.Skip("MADV_COLLAPSE refused (kernel before 6.1, huge pages off, or no memory for one)")
	}
	for i := range s {
		if s[i] != uint64(i)*0x9e3779b97f4a7c15 {
			t.Fatalf("element %d changed by the collapse", i)
		}
	}
	addr := uint64(uintptr(unsafe.Pointer(&s[len(s)/2])))
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := strings.Cut(strings.Fields(line)[0], "-"); ok && !strings.HasSuffix(line, ":") {
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				in = a <= addr && addr < b
				continue
			}
		}
		if k, v, ok := strings.Cut(line, ":"); in && ok && k == "AnonHugePages" {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if kb < hugePage/1024 {
				t.Errorf("AnonHugePages of the array's mapping: %d kB, want at least %d", kb, hugePage/1024)
			}
			return
		}
	}
	t.Errorf("no mapping in /proc/self/smaps holds the array (at %#x)", addr)
}
