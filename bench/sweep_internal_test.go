package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/stack"
)

func TestSweepEstimate(t *testing.T) {
	plan := func(partitions int, paths ...string) Plan {
		p := Plan{Warmup: time.Second, Duration: 5 * time.Second, Partitions: partitions}
		for _, name := range paths {
			ps, err := driver.ParsePath(name)
			if err != nil {
				t.Fatal(err)
			}
			p.Paths = append(p.Paths, ps)
		}
		return p
	}
	relay := stack.Choice{CDC: stack.CDCRelay}
	// Per path: 6 s of schedule, 2 s drain, 2 s set-up (15 s on Debezium).
	if got, want := EstimateRun(plan(1, "cdc", "poll-100ms"), relay), 20*time.Second; got != want {
		t.Errorf("cdc + poll-100ms: %v, want %v", got, want)
	}
	if got, want := EstimateRun(plan(1, "cdc", "debezium-tuned"), relay), 33*time.Second; got != want {
		t.Errorf("cdc + debezium-tuned: %v, want %v", got, want)
	}
	if got, want := EstimateRun(plan(1, "cdc"), stack.Choice{CDC: stack.CDCDebezium}), 23*time.Second; got != want {
		t.Errorf("cdc through Debezium: %v, want %v", got, want)
	}
	// A stack start first and at each change of partitions: 3 here.
	plans := []Plan{plan(1, "cdc"), plan(1, "cdc"), plan(3, "cdc"), plan(1, "cdc")}
	if got, want := EstimateRuns(plans, relay), 4*10*time.Second+3*2*time.Second; got != want {
		t.Errorf("4 cells: %v, want %v", got, want)
	}
	if got, want := EstimateRuns(plans[:1], stack.Choice{CDC: stack.CDCRelay, Options: stack.Options{JVM: true}}), 25*time.Second; got != want {
		t.Errorf("one cell on the local stack: %v, want %v", got, want)
	}
}

func TestSweepTooBig(t *testing.T) {
	for _, tc := range []struct {
		cells    int
		estimate time.Duration
		yes      bool
		refused  bool
	}{
		{50, 2 * time.Hour, false, false},
		{51, time.Minute, false, true},
		{10, 2*time.Hour + time.Second, false, true},
		{1000, 100 * time.Hour, true, false},
	} {
		err := sweepTooBig(tc.cells, tc.estimate, tc.yes)
		if (err != nil) != tc.refused {
			t.Errorf("%d cells, %v, yes %v: %v; want refused %v", tc.cells, tc.estimate, tc.yes, err, tc.refused)
		}
		if err != nil && (!strings.Contains(err.Error(), fmt.Sprintf("%d cells and would take about %v (an estimate", tc.cells, tc.estimate)) || !strings.Contains(err.Error(), "--yes")) {
			t.Errorf("refusal %q does not give the cells, the estimate and --yes", err)
		}
	}
}
