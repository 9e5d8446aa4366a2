package render

import "testing"

// TestPickLight: u selects the first light whose cumulative probability
// exceeds u, so a light of probability p is chosen for a fraction p of
// [0,1); a u at or past a last entry that rounding left below 1 picks the
// last light.
func TestPickLight(t *testing.T) {
	tests := []struct {
		name string
		cdf  []float64
		u    float64
		want int
	}{
		{"one light", []float64{1}, 0.7, 0},
		{"first of two", []float64{0.5, 1}, 0.2, 0},
		{"on a boundary goes right", []float64{0.5, 1}, 0.5, 1},
		{"zero", []float64{0.25, 0.5, 0.75, 1}, 0, 0},
		{"just below a boundary", []float64{0.25, 0.5, 0.75, 1}, 0.49999999, 1},
		{"exactly a middle boundary", []float64{0.25, 0.5, 0.75, 1}, 0.75, 3},
		{"light of zero probability is skipped", []float64{0.3, 0.3, 1}, 0.3, 2},
		{"past a last entry below 1", []float64{0.4, 0.9999999}, 0.99999995, 1},
		{"five lights", []float64{0.1, 0.2, 0.6, 0.7, 1}, 0.65, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sceneData{lightCDF: tt.cdf}
			if got := s.pickLight(tt.u); got != tt.want {
				t.Errorf("pickLight(%v) over %v = %d, want %d", tt.u, tt.cdf, got, tt.want)
			}
		})
	}
}
