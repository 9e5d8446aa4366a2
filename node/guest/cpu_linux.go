package guest

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// userHZ is the unit of the kernel's CPU time counters in /proc: 100 per
// second on every Linux architecture Go supports (sysconf(_SC_CLK_TCK)).
const userHZ = 100

const tick = time.Second / userHZ

// procCPU reads /proc/stat and /proc/self/stat under root.
type procCPU struct{ root procFS }

func systemCPU() (CPUSource, error) {
	src := procCPU{root: "/proc"}
	if _, err := src.Read(); err != nil {
		return nil, err
	}
	return src, nil
}

func (p procCPU) Read() (CPUSample, error) {
	b, err := p.root.read("stat")
	if err != nil {
		return CPUSample{}, fmt.Errorf("guest: %w", err)
	}
	s, err := parseMachineStat(b)
	if err != nil {
		return CPUSample{}, fmt.Errorf("guest: %s/stat: %w", p.root, err)
	}
	if b, err = p.root.read("self", "stat"); err != nil {
		return CPUSample{}, fmt.Errorf("guest: %w", err)
	}
	self, err := parseProcStat(b)
	if err != nil {
		return CPUSample{}, fmt.Errorf("guest: %s/self/stat: %w", p.root, err)
	}
	s.Own = time.Duration(self.utime+self.stime) * tick
	return s, nil
}

// parseMachineStat reads the first line of /proc/stat, "cpu  user nice
// system idle iowait irq softirq steal guest guest_nice", in ticks. Guest
// time is counted in user and nice already; steal is time the hypervisor
// gave to others, which is neither this machine's work nor its idleness.
// Kernels before 2.6.33 have fewer columns: the missing ones are zero.
func parseMachineStat(b []byte) (CPUSample, error) {
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	sc := bufio.NewScanner(bytes.NewReader(line))
	sc.Split(bufio.ScanWords)
	if !sc.Scan() || sc.Text() != "cpu" {
		return CPUSample{}, fmt.Errorf("first line %.60q: want \"cpu user nice system idle ...\"", line)
	}
	var v [7]uint64 // user nice system idle iowait irq softirq
	n := 0
	for n < len(v) && sc.Scan() {
		x, err := strconv.ParseUint(sc.Text(), 10, 64)
		if err != nil {
			return CPUSample{}, fmt.Errorf("cpu column %d %q: %w", n+1, sc.Text(), err)
		}
		v[n] = x
		n++
	}
	if n < 4 {
		return CPUSample{}, fmt.Errorf("first line %.60q: %d columns, want at least 4", line, n)
	}
	idle := v[3] + v[4]
	busy := v[0] + v[1] + v[2] + v[5] + v[6]
	return CPUSample{Total: time.Duration(idle+busy) * tick, Busy: time.Duration(busy) * tick}, nil
}
