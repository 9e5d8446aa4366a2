package scheduler

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"testing"
)

func TestAuditRate(t *testing.T) {
	p := DefaultAuditPolicy
	for _, tc := range []struct {
		run  int
		want float64
	}{
		{0, 1}, {7, 1}, {8, 1}, {16, 0.25}, {32, 1.0 / 16}, {80, 0.01}, {113, 64.0 / (113 * 113)}, {114, 1.0 / 200}, {10000, 1.0 / 200},
	} {
		if got := p.rate(tc.run); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("rate(%d) = %v, want %v", tc.run, got, tc.want)
		}
	}
	if (AuditPolicy{}).withDefaults() != DefaultAuditPolicy {
		t.Errorf("the zero policy is %+v, want the defaults %+v", (AuditPolicy{}).withDefaults(), DefaultAuditPolicy)
	}
}

func TestTrustLevels(t *testing.T) {
	p := DefaultAuditPolicy
	var tr trust
	for i := range p.FullRun {
		if got := tr.level(p); got != TrustUntrusted {
			t.Fatalf("after %d good results: %s, want untrusted", i, got)
		}
		tr.returned()
	}
	if got := tr.level(p); got != TrustTrusted {
		t.Fatalf("after a run of %d: %s, want trusted", p.FullRun, got)
	}
	tr.failed()
	tr.returned()
	if got := tr.level(p); got != TrustDistrusted || tr.run != 0 {
		t.Fatalf("after a wrong result and a good one: %s with a run of %d, want distrusted and 0", got, tr.run)
	}
}

func TestAuditorReproducible(t *testing.T) {
	draw := func(seed uint64) string {
		a := newAuditor(AuditPolicy{}, seed)
		var tr trust
		s := ""
		for range 200 {
			s += fmt.Sprint(a.full(&tr), a.spots(image.Rect(0, 0, 32, 32)))
		}
		return s
	}
	if a, b := draw(7), draw(7); a != b {
		t.Error("the same seed draws other checks")
	}
	if draw(7) == draw(8) {
		t.Error("two seeds draw the same checks")
	}
}

func TestSpots(t *testing.T) {
	a := newAuditor(AuditPolicy{}, 1)
	for _, tc := range []struct {
		r    image.Rectangle
		want int
	}{
		{image.Rect(5, 5, 6, 6), 1},
		{image.Rect(0, 0, 3, 2), 2},
		{image.Rect(8, 16, 16, 24), 2},
		{image.Rect(0, 0, 32, 32), 8},
		{image.Rect(100, 40, 164, 104), 32},
	} {
		for range 50 {
			pts := a.spots(tc.r)
			if len(pts) != tc.want {
				t.Fatalf("%v: %d spots, want %d", tc.r, len(pts), tc.want)
			}
			seen := map[image.Point]bool{}
			for _, p := range pts {
				if !p.In(tc.r) || seen[p] {
					t.Fatalf("%v: spots %v: %v outside or repeated", tc.r, pts, p)
				}
				seen[p] = true
			}
		}
	}
}

// expectedAudits is the mean number of full audits of an honest node's
// first n results under p: the sum of the rates.
func expectedAudits(p AuditPolicy, n int) float64 {
	var sum float64
	for run := range n {
		sum += p.rate(run)
	}
	return sum
}

// TestAuditCost: an honest node's audits, drawn over many seeds, average
// what the rates add up to, about 2*FullRun plus the floor, whatever its
// number of tiles; with spot checks, under 5% of a node's work from 512
// tiles on.
func TestAuditCost(t *testing.T) {
	p := DefaultAuditPolicy
	for _, n := range []int{128, 512, 2048} {
		const seeds = 400
		total := 0
		for seed := range uint64(seeds) {
			a := newAuditor(p, seed)
			var tr trust
			for range n {
				if a.full(&tr) {
					total++
				}
			}
		}
		mean, want := float64(total)/seeds, expectedAudits(p, n)
		if math.Abs(mean-want) > 0.05*want {
			t.Errorf("%d tiles: %.2f audits on average, the rates add up to %.2f", n, mean, want)
		}
		spot := float64(p.spots(32*32)) / (32 * 32)
		cost := want/float64(n) + spot
		t.Logf("%d tiles of 32x32: %.1f audits (%.1f%%) + spot checks (%.2f%%) = %.1f%% of the node's work", n, want, 100*want/float64(n), 100*spot, 100*cost)
		if n >= 512 && cost > 0.05 {
			t.Errorf("%d tiles: audits cost %.1f%% of the work, want at most 5%%", n, 100*cost)
		}
	}
}

// TestAuditCatchesSubtleLiar: a node that changes one value of a tile, at
// random 1 time in 20, escapes spot checks (almost always) and is caught by
// full audits alone. Over many seeds the share caught within n results
// matches 1 - prod(1 - q*rate(run)), the policy's own promise, and the
// figures the documentation quotes.
func TestAuditCatchesSubtleLiar(t *testing.T) {
	p := DefaultAuditPolicy
	const q, seeds = 1.0 / 20, 4000
	for _, n := range []int{60, 200, 1000} {
		caught := 0
		for seed := range uint64(seeds) {
			a := newAuditor(p, seed)
			liar := rand.New(rand.NewPCG(seed, 99))
			var tr trust
			for range n {
				lie := liar.Float64() < q
				if a.full(&tr) && lie { // an unaudited lie passes
					caught++
					break
				}
			}
		}
		miss := 1.0
		for run := range n {
			miss *= 1 - q*p.rate(run)
		}
		got, want := float64(caught)/seeds, 1-miss
		t.Logf("a liar changing one value 1 time in 20: caught within %d results in %.1f%% of %d runs (expected %.1f%%)", n, 100*got, seeds, 100*want)
		if math.Abs(got-want) > 0.025 {
			t.Errorf("within %d results: caught in %.3f of the runs, the rates promise %.3f", n, got, want)
		}
	}
}
