package main

// The soak (issue 8): images rendered one after another through a registry
// while node processes are killed and restarted at random and the registry
// is restarted once. Short in make test; long with -soak:
//
//	go test ./cmd/tessera -run TestSoak -soak 10m [-soak-seed N] -v

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tessera/node"
)

var (
	soakFor  = flag.Duration("soak", 0, "how long TestSoak renders (0: the short run of make test, about 12 s)")
	soakSeed = flag.Uint64("soak-seed", 1, "seed of TestSoak's kills and restarts")
)

const (
	shortSoak = 12 * time.Second
	// Growth allowed in the surviving processes between warm-up and the
	// end: a keep-alive connection or two (heartbeats to the registry,
	// controllers' listings) may be open at either time.
	goroutineSlack = 6
	fileSlack      = 4
)

// noKeepAlive is the test's HTTP client for the counters of the processes
// it measures, so that its own connections are not counted.
var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// heldUsage is what a surviving process holds.
type heldUsage struct{ goroutines, files int }

func (u heldUsage) String() string {
	return fmt.Sprintf("%d goroutines, %d open files", u.goroutines, u.files)
}

// idleUsage waits until the node has no connection and no job, and returns
// its goroutines and open files.
func idleUsage(t *testing.T, n *testNode) heldUsage {
	t.Helper()
	var c node.Counters
	waitFor(t, "node "+n.addr+" to be idle", 20*time.Second, func() bool {
		resp, err := noKeepAlive.Get("http://" + n.debug + "/debug/counters")
		if err != nil {
			t.Fatalf("counters of %s: %v", n.addr, err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
			t.Fatalf("counters of %s: %v", n.addr, err)
		}
		return c.Conns == 0 && c.JobsQueued+c.JobsRunning == 0
	})
	if c.OpenFiles < 0 {
		t.Fatalf("node %s cannot count its open files", n.addr)
	}
	return heldUsage{goroutines: c.Goroutines, files: c.OpenFiles}
}

// openFilesOf counts the open files of a process this test started.
func openFilesOf(t *testing.T, p *process) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/fd")
	if err != nil {
		t.Fatalf("open files of tessera %s: %v", p.name, err)
	}
	return len(entries)
}

// startSoakRegistry starts a registry on addr with a short TTL (nodes
// heartbeat every second).
func startSoakRegistry(t *testing.T, addr string) *process {
	t.Helper()
	reg := startProcess(t, tesseraBinary(t), "registry", "-listen", addr, "-no-mdns", "-ttl", "3s")
	reg.waitMatch(t, regexp.MustCompile(`listening on `+regexp.QuoteMeta(addr)), 20*time.Second)
	return reg
}

// listed reports whether the registry lists a node of every name.
func listed(t *testing.T, registry string, names []string) bool {
	t.Helper()
	resp, err := noKeepAlive.Get("http://" + registry + "/v1/nodes")
	if err != nil {
		return false // restarting
	}
	defer resp.Body.Close()
	var list struct {
		Nodes []struct {
			Name string `json:"name"`
		} `json:"nodes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("registry list: %v", err)
	}
	have := map[string]bool{}
	for _, n := range list.Nodes {
		have[n.Name] = true
	}
	for _, name := range names {
		if !have[name] {
			return false
		}
	}
	return true
}

// TestSoak renders a sequence of images on a steady node and two victims
// found through a registry. Before and during renders victims are killed
// (SIGKILL or SIGTERM) and restarted at random; once, mid-render, the
// registry is restarted on the same port, and every live node registers
// again. Every image must equal its local render. The processes that live
// through it all (the steady node, the registry since its restart) must end
// with no more goroutines and open files than after warm-up, and this
// process with no goroutine it did not start with.
func TestSoak(t *testing.T) {
	verifyNoLeaks(t)
	length := *soakFor
	if length <= 0 {
		length = shortSoak
	}
	seed := *soakSeed
	t.Logf("soak for %v, seed %d (go test ./cmd/tessera -run TestSoak -soak %v -soak-seed %d reruns it)", length, seed, length, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	type config struct {
		args []string
		want []byte
	}
	var configs []config
	for _, scene := range []string{cornell, spheres, bunny} {
		args := renderArgs(scene, "-width", "64", "-height", "48", "-spp", "16")
		configs = append(configs, config{args: args, want: localPNG(t, args)})
	}

	regAddr := freeLoopbackAddr(t)
	reg := startSoakRegistry(t, regAddr)
	steady := startNode(t, "soak-steady", "-registry", regAddr)
	victims := make([]*testNode, 2) // nil while dead
	victimName := func(i int) string { return "soak-victim-" + strconv.Itoa(i) }
	startVictim := func(i int) {
		victims[i] = startNode(t, victimName(i), "-registry", regAddr)
	}
	for i := range victims {
		startVictim(i)
	}
	liveNames := func() []string {
		names := []string{"soak-steady"}
		for i, v := range victims {
			if v != nil {
				names = append(names, victimName(i))
			}
		}
		return names
	}
	pick := func(alive bool) int { // a random victim that is (or is not) alive; -1 if none
		var idx []int
		for i, v := range victims {
			if (v != nil) == alive {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			return -1
		}
		return idx[rng.IntN(len(idx))]
	}
	renderEnded := func(d *distributed) bool {
		select {
		case <-d.exited:
			return true
		default:
			return false
		}
	}

	var (
		renders, sigkills, sigterms, midRender, restarts, retries int
		steadyBase, regBase                                       heldUsage
		sinceRestart                                              = -1 // renders since the registry restarted
	)
	start := time.Now()
	regRestarted := func() bool { return sinceRestart >= 0 }
	// Until the time is up and two renders ran after the registry's
	// restart (the first sets the registry's baseline).
	for i := 0; time.Since(start) < length || sinceRestart < 2; i++ {
		if v := pick(false); v >= 0 && rng.IntN(2) == 0 {
			startVictim(v)
			restarts++
		}
		cfg := configs[i%len(configs)]
		d := startRender(t, append(cfg.args, "-local", "0", "-registry", regAddr, "-discover", "10s")...)
		switch action := rng.IntN(4); {
		case !regRestarted() && i >= 2 && time.Since(start) >= length/2:
			reg.stop(t)
			reg = startSoakRegistry(t, regAddr)
			sinceRestart = 0
			t.Logf("render %d: registry restarted on %s", i, regAddr)
			waitFor(t, "every live node to register again", 20*time.Second, func() bool { return listed(t, regAddr, liveNames()) })
		case action < 2: // kill a victim mid-render, once it has done a few tiles
			v := pick(true)
			if v < 0 {
				break
			}
			n := victims[v]
			goal := n.counters(t).JobsDone + 1 + uint64(rng.IntN(4))
			waitFor(t, "the victim to render or the render to end", time.Minute, func() bool {
				return renderEnded(d) || n.counters(t).JobsDone >= goal
			})
			if !renderEnded(d) {
				midRender++
			}
			if rng.IntN(2) == 0 {
				n.signal(t, syscall.SIGKILL)
				sigkills++
			} else {
				n.signal(t, syscall.SIGTERM)
				sigterms++
			}
			victims[v] = nil
		case action == 2: // bring a victim back mid-render
			if v := pick(false); v >= 0 {
				startVictim(v)
				restarts++
			}
		}
		img, st := d.finish(t)
		renders++
		retries += st.Retries
		sameImage(t, fmt.Sprintf("render %d (%s)", i, cfg.args[len(cfg.args)-1]), img, cfg.want)
		if t.Failed() {
			return
		}
		switch {
		case i == 0:
			steadyBase = idleUsage(t, steady)
		case sinceRestart == 0:
			regBase = heldUsage{files: openFilesOf(t, reg)}
		}
		if regRestarted() {
			sinceRestart++
		}
	}
	t.Logf("%d renders in %v: %d nodes killed with SIGKILL, %d with SIGTERM (%d of them mid-render), %d restarted, 1 registry restart, %d tiles retried",
		renders, time.Since(start).Round(time.Millisecond), sigkills, sigterms, midRender, restarts, retries)
	if midRender == 0 || restarts == 0 {
		t.Errorf("the soak killed %d nodes mid-render and restarted %d: want some of each (seed %d)", midRender, restarts, seed)
	}

	// No growth in the survivors. Connections close a little after the
	// last render: poll against a deadline.
	var steadyEnd heldUsage
	var regFiles int
	deadline := time.Now().Add(10 * time.Second)
	for {
		steadyEnd, regFiles = idleUsage(t, steady), openFilesOf(t, reg)
		ok := steadyEnd.goroutines <= steadyBase.goroutines+goroutineSlack && steadyEnd.files <= steadyBase.files+fileSlack &&
			regFiles <= regBase.files+fileSlack
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the steady node holds %v after warm-up and %v at the end; the registry %d and %d open files: want no growth beyond %d goroutines and %d files",
				steadyBase, steadyEnd, regBase.files, regFiles, goroutineSlack, fileSlack)
			break
		}
		time.Sleep(50 * time.Millisecond) // polling against the deadline above
	}
	t.Logf("steady node: %v after warm-up, %v at the end; registry: %d open files after its restart, %d at the end",
		steadyBase, steadyEnd, regBase.files, regFiles)
	if out := steady.out.String(); strings.Contains(out, "panic") {
		t.Errorf("the steady node panicked:\n%s", out)
	}
}
