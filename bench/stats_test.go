package bench

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{name: "none", in: nil, want: 0},
		{name: "one", in: []float64{4}, want: 4},
		{name: "odd count, unsorted", in: []float64{9, 1, 5}, want: 5},
		{name: "even count: mean of the middle two", in: []float64{4, 1, 3, 10}, want: 3.5},
		{name: "an outlier does not move it", in: []float64{1, 1.1, 1000}, want: 1.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.in...)
			if got := median(in); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Fatalf("median reordered its argument: %v", in)
				}
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * time.Millisecond // 100 ms down to 1 ms
	}
	tests := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{name: "none", in: nil, p: 50, want: 0},
		{name: "one value is every percentile", in: []time.Duration{7}, p: 99, want: 7},
		{name: "p50 of 1..100 ms", in: hundred, p: 50, want: 50 * time.Millisecond},
		{name: "p99 of 1..100 ms", in: hundred, p: 99, want: 99 * time.Millisecond},
		{name: "p100 is the largest", in: hundred, p: 100, want: 100 * time.Millisecond},
		{name: "p99 of four values is the largest", in: []time.Duration{1, 2, 3, 40}, p: 99, want: 40},
		{name: "p50 of four values is the second", in: []time.Duration{4, 3, 2, 1}, p: 50, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.in, tt.p); got != tt.want {
				t.Errorf("percentile(p%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestTurnsAlternate(t *testing.T) {
	tests := []struct {
		n, run int
		want   []int
	}{
		{n: 3, run: 1, want: []int{1, 2, 3}},
		{n: 3, run: 2, want: []int{3, 2, 1}},
		{n: 2, run: 3, want: []int{1, 2}},
		{n: 1, run: 2, want: []int{1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d,run=%d", tt.n, tt.run), func(t *testing.T) {
			if got := turns(tt.n, tt.run); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNextPhase(t *testing.T) {
	base := time.Unix(100, 0)
	tests := []struct {
		name  string
		phase time.Duration
		now   time.Duration // after base
		want  time.Duration // after base
	}{
		{name: "before the first instant", phase: 300 * time.Millisecond, now: 100 * time.Millisecond, want: 300 * time.Millisecond},
		{name: "just after it: the next cycle", phase: 300 * time.Millisecond, now: 301 * time.Millisecond, want: 1300 * time.Millisecond},
		{name: "exactly on it: the next cycle", phase: 300 * time.Millisecond, now: 1300 * time.Millisecond, want: 2300 * time.Millisecond},
		{name: "several cycles later", phase: 900 * time.Millisecond, now: 5200 * time.Millisecond, want: 5900 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nextPhase(base, time.Second, tt.phase, base.Add(tt.now))
			if want := base.Add(tt.want); !got.Equal(want) {
				t.Errorf("got base+%v, want base+%v", got.Sub(base), tt.want)
			}
		})
	}
}
