package render

import (
	"math"
	"testing"
)

// TestBSDFSamplingMatchesEvaluation checks, for the non-delta materials,
// that a sampled direction's weight is the evaluated BSDF times cosine over
// the evaluated density, and that the density integrates to at most 1 over
// the hemisphere (to 1 for Lambert).
func TestBSDFSamplingMatchesEvaluation(t *testing.T) {
	albedo := V(0.9, 0.6, 0.3)
	tests := []struct {
		name     string
		m        material
		integral float64 // expected ∫pdf dω, or -1 for "at most 1"
	}{
		{"diffuse", material{kind: matDiffuse}, 1},
		{"metal, roughness 0.3", material{kind: matMetal, alpha: 0.09}, -1},
		{"metal, roughness 0.8", material{kind: matMetal, alpha: 0.64}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rg := newRNG(3, 4)
			for _, cosO := range []float64{1, 0.7, 0.2} {
				wo := V(math.Sqrt(1-cosO*cosO), 0, cosO)
				for range 2000 {
					bs, ok := tt.m.sampleBSDF(albedo, wo, true, rg.float(), rg.float(), rg.float())
					if !ok {
						continue // below the horizon: the path ends
					}
					fcos, pdf := tt.m.evalBSDF(albedo, wo, bs.wi)
					if !near(pdf, bs.pdf, 1e-9*max(1, pdf)) {
						t.Fatalf("wo %v wi %v: sampled pdf %v, evaluated %v", wo, bs.wi, bs.pdf, pdf)
					}
					if want := fcos.Scale(1 / pdf); !nearVec(bs.weight, want, 1e-9*max(1, want.MaxComp())) {
						t.Fatalf("wo %v wi %v: weight %v, want f cos/pdf %v", wo, bs.wi, bs.weight, want)
					}
				}
				// ∫ pdf dω by uniform hemisphere sampling.
				const n = 200000
				sum := 0.0
				for range n {
					z := rg.float()
					r := math.Sqrt(1 - z*z)
					s, c := math.Sincos(2 * math.Pi * rg.float())
					_, pdf := tt.m.evalBSDF(albedo, wo, V(r*c, r*s, z))
					sum += pdf * 2 * math.Pi
				}
				integral := sum / n
				if tt.integral > 0 && !near(integral, tt.integral, 0.02) || integral > 1.02 {
					t.Errorf("cos θo %v: ∫pdf = %v, want %v", cosO, integral, tt.integral)
				}
			}
		})
	}
}

func TestDielectricFresnel(t *testing.T) {
	tests := []struct {
		name            string
		cosi, cost, eta float64
		want            float64
	}{
		{"normal incidence from air into glass", 1, 1, 1 / 1.5, 0.04},
		{"grazing reflects everything", 0, math.Sqrt(1 - 1/(1.5*1.5)), 1 / 1.5, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fresnelDielectric(tt.cosi, tt.cost, tt.eta); !near(got, tt.want, 1e-9) {
				t.Errorf("F = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("total internal reflection", func(t *testing.T) {
		m := material{kind: matDielectric, ior: 1.5, albedo: white}
		wo := V(math.Sqrt(1-0.3*0.3), 0, 0.3) // inside the glass, beyond the critical angle
		for _, u := range []float64{0, 0.5, 0.999} {
			bs, ok := m.sampleBSDF(white, wo, false, 0, 0, u)
			if !ok || bs.transmit || !nearVec(bs.wi, V(-wo.X, -wo.Y, wo.Z), 1e-12) {
				t.Errorf("u=%v: %+v, want a mirror reflection", u, bs)
			}
		}
	})
	t.Run("refraction obeys Snell's law", func(t *testing.T) {
		m := material{kind: matDielectric, ior: 1.5, albedo: white}
		wo := V(math.Sin(0.5), 0, math.Cos(0.5))
		bs, ok := m.sampleBSDF(white, wo, true, 0, 0, 0.999)
		if !ok || !bs.transmit {
			t.Fatalf("%+v: want a refraction", bs)
		}
		sinT := math.Hypot(bs.wi.X, bs.wi.Y)
		if !near(math.Sin(0.5), 1.5*sinT, 1e-12) || bs.wi.Z >= 0 || !near(bs.wi.Len(), 1, 1e-12) {
			t.Errorf("refracted %v: sin θt %v, want %v", bs.wi, sinT, math.Sin(0.5)/1.5)
		}
	})
}
