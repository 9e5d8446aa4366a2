package guest

// Linux's autogroup scheduling: with it on (sched_autogroup_enabled, the
// default of most desktop kernels), every session (setsid) gets a group and
// the CPU is shared between groups first, whatever the nice value or
// policy of the threads inside. Measured on the team's 2-core machine:
// beside two SCHED_IDLE, nice-19 busy loops started in another session,
// two busy loops keep 30% of their speed alone, the same as beside two
// normal ones; with that session's group at nice 19 they keep 90%.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// autogroup is one line of /proc/PID/autogroup: "/autogroup-12 nice 0".
type autogroup struct {
	name string
	nice int
}

func parseAutogroup(b []byte) (autogroup, error) {
	f := strings.Fields(string(b))
	if len(f) != 3 || f[1] != "nice" {
		return autogroup{}, fmt.Errorf("autogroup %q: want \"/autogroup-N nice X\"", bytes.TrimSpace(b))
	}
	nice, err := strconv.Atoi(f[2])
	if err != nil {
		return autogroup{}, fmt.Errorf("autogroup %q: %w", bytes.TrimSpace(b), err)
	}
	return autogroup{name: f[0], nice: nice}, nil
}

// lowerAutogroup raises the nice value of this process's autogroup to
// nice when the group holds nothing but this process and its ancestors
// (the terminal's shell, a service manager): then it only slows down the
// node. Otherwise the group is left alone and the report says why.
func lowerAutogroup(root procFS, nice int) (ProcessReport, error) {
	on, err := root.read("sys", "kernel", "sched_autogroup_enabled")
	if err != nil || string(bytes.TrimSpace(on)) != "1" {
		return ProcessReport{}, nil // no autogroups: policy and nice act machine-wide
	}
	b, err := root.read("self", "autogroup")
	if err != nil {
		return ProcessReport{}, nil // a kernel without CONFIG_SCHED_AUTOGROUP
	}
	mine, err := parseAutogroup(b)
	if err != nil {
		return ProcessReport{}, fmt.Errorf("guest: %s/self/autogroup: %w", root, err)
	}
	if mine.nice >= nice {
		return ProcessReport{}, nil
	}
	b, err = root.read("self", "stat")
	if err != nil {
		return ProcessReport{}, fmt.Errorf("guest: %w", err)
	}
	self, err := parseProcStat(b)
	if err != nil {
		return ProcessReport{}, fmt.Errorf("guest: %s/self/stat: %w", root, err)
	}
	mates, err := groupMates(root, self, mine.name)
	if err != nil {
		return ProcessReport{}, err
	}
	if len(mates) > 0 {
		return ProcessReport{Warning: fmt.Sprintf("the kernel shares the CPU between sessions first (autogroup scheduling), "+
			"and this node's session %s also runs %s: the rendering threads give way only to programs of that session. "+
			"Start the node in a session of its own (setsid tessera node, or the systemd unit of contrib/) so that it gives way to every program",
			mine.name, strings.Join(mates, ", "))}, nil
	}
	if err := os.WriteFile(filepath.Join(string(root), "self", "autogroup"), []byte(strconv.Itoa(nice)), 0); err != nil {
		return ProcessReport{}, fmt.Errorf("guest: lower the session's autogroup %s to nice %d: %w", mine.name, nice, err)
	}
	return ProcessReport{Done: fmt.Sprintf("lowered this node's session (autogroup %s) to nice %d, so that it gives way to other sessions", mine.name, nice)}, nil
}

// groupMates lists (as "comm (pid N)", at most three, then "and N more")
// the processes of autogroup group other than self and its ancestors.
func groupMates(root procFS, self procStat, group string) ([]string, error) {
	family := map[int]bool{self.pid: true}
	for pid := self.ppid; pid > 0 && !family[pid]; {
		family[pid] = true
		b, err := root.read(strconv.Itoa(pid), "stat")
		if err != nil {
			break // it exited meanwhile
		}
		s, err := parseProcStat(b)
		if err != nil {
			break
		}
		pid = s.ppid
	}
	entries, err := os.ReadDir(string(root))
	if err != nil {
		return nil, fmt.Errorf("guest: %w", err)
	}
	var mates []string
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || family[pid] {
			continue
		}
		b, err := root.read(e.Name(), "autogroup")
		if err != nil {
			continue // exited meanwhile, or not ours to read
		}
		g, err := parseAutogroup(b)
		if err != nil || g.name != group {
			continue
		}
		n++
		if len(mates) < 3 {
			comm := "?"
			if b, err := root.read(e.Name(), "stat"); err == nil {
				if s, err := parseProcStat(b); err == nil {
					comm = s.comm
				}
			}
			mates = append(mates, fmt.Sprintf("%s (pid %d)", comm, pid))
		}
	}
	if n > len(mates) {
		mates = append(mates, fmt.Sprintf("%d more", n-len(mates)))
	}
	return mates, nil
}
