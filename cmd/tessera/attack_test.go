package main

import (
	"bufio"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNodeProcessUnderAttack: a real node process that receives 4 GiB
// length prefixes, random bytes, truncated frames and hundreds of idle
// connections stays up, keeps accepting, stays under 300 MB resident, and
// then renders an image equal to the local render.
func TestNodeProcessUnderAttack(t *testing.T) {
	const idle = 300
	n := startNode(t, "under-attack", "-max-conns", "400")
	rng := rand.New(rand.NewPCG(3, 4)) // fixed: the same attack every run
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	dial := func() net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", n.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d refused while the node should accept: %v", len(conns)+1, err)
		}
		conns = append(conns, c)
		return c
	}
	for range idle {
		dial()
	}
	for i := range 60 {
		c := dial()
		var attack []byte
		switch i % 3 {
		case 0: // a 4 GiB frame announced
			attack = binary.BigEndian.AppendUint32(nil, 0xFFFFFFFF)
		case 1: // random bytes
			attack = make([]byte, 1+rng.IntN(4096))
			for j := range attack {
				attack[j] = byte(rng.Uint32())
			}
		case 2: // a frame cut short: 1 MiB announced, 10 bytes sent
			attack = append(binary.BigEndian.AppendUint32(nil, 1<<20), make([]byte, 10)...)
		}
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Write(attack) // the node may already have closed it: that is allowed
	}
	rss := residentBytes(t, n.cmd.Process.Pid)
	if rss > 300<<20 {
		t.Errorf("node resident set %d MB under attack, want under 300 MB", rss>>20)
	}
	t.Logf("under attack: %d connections open on the node, %d MB resident", n.counters(t).Conns, rss>>20)

	// Still accepting and rendering, with every attacker still connected.
	args := renderArgs(cornell)
	d := startRender(t, append(args, "-local", "0", "-nodes", n.addr)...)
	img, _ := d.finish(t)
	sameImage(t, "after the attack", img, localPNG(t, args))
	select {
	case <-n.exited:
		t.Fatalf("the node exited under attack: %v\n%s", n.err, n.out.String())
	default:
	}
}

// residentBytes reads a process's resident set size from /proc (Linux).
func residentBytes(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
