package gate_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/gate"
)

func TestCompareNotes(t *testing.T) {
	one := func(label string, mutate func(*gate.Run)) gate.Run {
		r := gate.Run{Label: label, Scenario: "smoke", Machine: testMachine, Valid: true}
		mutate(&r)
		return r
	}
	a := []gate.Run{one("a", func(*gate.Run) {})}
	b := []gate.Run{one("b", func(r *gate.Run) {
		r.Scenario, r.Valid, r.InvalidReasons, r.Machine.Cores = "burst", false, []string{"lost rows"}, 8
	})}
	cmp, err := gate.Compare(a, b, 0.05, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"run b is INVALID: lost rows",
		"A is scenario smoke, B is burst",
		"A ran on Test CPU @ 2.0GHz (2 cores), B on Test CPU @ 2.0GHz (8 cores): the change includes the machine",
	} {
		if !slices.Contains(cmp.Notes, want) {
			t.Errorf("notes lack %q:\n%s", want, strings.Join(cmp.Notes, "\n"))
		}
	}
}

// TestCompareAgentCommands: an agent command is compared by its alert
// latency, every percentile of it; a `cdcbench agent` process (an external
// agent that is no agent command) is not listed.
func TestCompareAgentCommands(t *testing.T) {
	cmp, err := gate.Compare(withCommand("a"), withCommand("b"), 0.05, true)
	if err != nil {
		t.Fatal(err)
	}
	var own, velocity []string
	for _, r := range cmp.Rows {
		switch r.Target {
		case "cdc/my-outlier":
			own = append(own, r.Metric)
		case "cdc/velocity":
			velocity = append(velocity, r.Metric)
		}
	}
	if want := []string{"alert p50", "alert p90", "alert p99", "alert p999", "alert max"}; !slices.Equal(own, want) {
		t.Errorf("cdc/my-outlier rows %q, want %q", own, want)
	}
	if slices.Contains(velocity, "alert p90") {
		t.Errorf("cdc/velocity has rows of the external agent of that name: %q", velocity)
	}
}
