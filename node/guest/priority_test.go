package guest

import "testing"

func TestParsePriority(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Priority
		ok   bool
	}{
		{"idle", PriorityIdle, true},
		{"low", PriorityLow, true},
		{"normal", PriorityNormal, true},
		{"", 0, false},
		{"Idle", 0, false},
		{"high", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePriority(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParsePriority(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
			if tc.ok && got.String() != tc.in {
				t.Errorf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestPriorityNormalChangesNothing(t *testing.T) {
	errs := make(chan error)
	Go(PriorityNormal, func(err error) { errs <- err })
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if r, err := SetProcessPriority(PriorityNormal); err != nil || r != (ProcessReport{}) {
		t.Fatalf("SetProcessPriority(normal) = %+v, %v; want nothing done", r, err)
	}
	Go(PriorityIdle+1, func(err error) { errs <- err })
	if err := <-errs; err == nil {
		t.Fatal("an unknown priority was accepted")
	}
}
