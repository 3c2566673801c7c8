package bench_test

import (
	"reflect"
	"testing"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/scenarios"
)

// TestPlanFromCarriesSettings: each sweep cell's connector settings reach
// the plan the drivers are configured from, "default" as a key left out,
// and no cell sees another's.
func TestPlanFromCarriesSettings(t *testing.T) {
	spec, err := scenarios.Parse("t.yaml", []byte(`
name: t
description: settings per cell
duration: 5s
batch_size: 10
rate: {shape: constant, unit: rows/s, rate: 100}
paths: [cdc, debezium]
settings:
  debezium: {max.batch.size: "4096"}
sweep:
  - field: settings.debezium.poll.interval.ms
    values: [default, 10]
`))
	if err != nil {
		t.Fatal(err)
	}
	cells, err := spec.Cells()
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]map[string]string{
		{"debezium": {"max.batch.size": "4096"}},
		{"debezium": {"max.batch.size": "4096", "poll.interval.ms": "10"}},
	}
	if len(cells) != len(want) {
		t.Fatalf("%d cells, want %d", len(cells), len(want))
	}
	for i, c := range cells {
		p, err := bench.PlanFrom(c.Spec)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.Settings, want[i]) {
			t.Errorf("cell %d: plan settings %v, want %v", i+1, p.Settings, want[i])
		}
	}
}
