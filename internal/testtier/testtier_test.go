package testtier_test

import (
	"testing"

	"github.com/cdcbench/cdcbench/internal/testtier"
)

// TestTiers runs each gate under each environment, with -short and
// without, and checks whether it let the test run. Not parallel: it sets
// the environment.
func TestTiers(t *testing.T) {
	for _, tc := range []struct {
		name, tier, skipJVM string
		integration, jvm    bool // ran
	}{
		{"every tier", "", "", true, true},
		{"integration tier", "integration", "", true, false},
		{"jvm tier", "jvm", "", false, true},
		{"no JVM", "", "1", true, false},
		{"jvm tier without a JVM", "jvm", "1", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(testtier.Env, tc.tier)
			t.Setenv(testtier.SkipJVMEnv, tc.skipJVM)
			if testing.Short() { // skips both, whatever the environment
				tc.integration, tc.jvm = false, false
			}
			ran := func(gate func(testing.TB)) bool {
				r := false
				t.Run("gated", func(t *testing.T) {
					gate(t)
					r = true
				})
				return r
			}
			if got := ran(testtier.Integration); got != tc.integration {
				t.Errorf("Integration ran: %v, want %v", got, tc.integration)
			}
			if got := ran(testtier.JVM); got != tc.jvm {
				t.Errorf("JVM ran: %v, want %v", got, tc.jvm)
			}
		})
	}
}
