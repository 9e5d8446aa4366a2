package guest

// Reading the proc file system, as the kernel writes it.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procFS is the root of a proc file system: "/proc", or a directory a test
// builds.
type procFS string

func (root procFS) read(name ...string) ([]byte, error) {
	return os.ReadFile(filepath.Join(append([]string{string(root)}, name...)...))
}

// procStat holds the fields of /proc/PID/stat this package reads.
type procStat struct {
	pid, ppid    int
	comm         string
	utime, stime uint64 // clock ticks
	nice         int
}

// parseProcStat parses /proc/PID/stat. The command name sits in
// parentheses and may itself hold spaces and parentheses, so the fields
// are counted from the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 1 || close < open {
		return procStat{}, fmt.Errorf("stat %.40q: no (comm)", b)
	}
	var s procStat
	var err error
	if s.pid, err = strconv.Atoi(string(bytes.TrimSpace(b[:open]))); err != nil {
		return procStat{}, fmt.Errorf("stat %.40q: pid: %w", b, err)
	}
	s.comm = string(b[open+1 : close])
	// After ") ": state(3) ppid(4) ... utime(14) stime(15) ... nice(19).
	f := strings.Fields(string(b[close+1:]))
	if len(f) < 17 {
		return procStat{}, fmt.Errorf("stat of %d: %d fields after the command, want at least 17", s.pid, len(f))
	}
	if s.ppid, err = strconv.Atoi(f[1]); err != nil {
		return procStat{}, fmt.Errorf("stat of %d: ppid: %w", s.pid, err)
	}
	if s.utime, err = strconv.ParseUint(f[11], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("stat of %d: utime: %w", s.pid, err)
	}
	if s.stime, err = strconv.ParseUint(f[12], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("stat of %d: stime: %w", s.pid, err)
	}
	if s.nice, err = strconv.Atoi(f[16]); err != nil {
		return procStat{}, fmt.Errorf("stat of %d: nice: %w", s.pid, err)
	}
	return s, nil
}
