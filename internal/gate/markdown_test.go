package gate_test

import (
	"bytes"
	"testing"

	"github.com/cdcbench/cdcbench/internal/gate"
	"github.com/cdcbench/cdcbench/internal/golden"
)

// TestWriteMarkdown renders reports with every verdict and a warning and
// compares them with testdata/*.golden.md; go test -update rewrites them.
func TestWriteMarkdown(t *testing.T) {
	foreign := runs("b", 4.0, 4.1, 3.9, 4.2, 4.05)
	for i := range foreign {
		foreign[i].Machine.MemoryMB = 16000
	}
	regressed := runs("smoke-2026112609", 6.1, 5.9, 6.0, 6.2, 6.3)
	regressed[2].Paths[0].Agents[0].MissedAlerts = 1
	oneRun := runs("smoke-20261126T082554Z", 20)
	oneRun[0].Paths[0].Agents[1].E2E.P50 = 4.1

	tests := []struct {
		golden   string
		rules    []string
		runs     []gate.Run
		baseline []gate.Run
	}{
		{"fail", []string{
			"missed_alerts == 0",
			"cdc/velocity e2e p99 < 250ms",
			"cdc e2e p50 <= 0.25 x poll-100ms e2e p50",
			"cdc/outlier e2e p50 <= 1.2 x baseline",
			"cdc/velocity e2e p99 <= 2 x baseline",
		}, regressed, foreign},
		{"unconfirmed", []string{
			"valid",
			"cdc e2e p50 <= 1.2 x baseline",
		}, oneRun, runs("b", 4, 4.1, 4.2)},
		{"skipped", []string{
			"cdc/velocity e2e p99 < 250ms # a comment",
			"cdc e2e p50 <= 1.2 x baseline",
		}, runs("smoke-20261126T082554Z", 4), nil},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			in := gate.Input{Runs: tt.runs, AllowForeignBaseline: true}
			if tt.baseline != nil {
				b, err := gate.NewBaseline(tt.baseline, testTime)
				if err != nil {
					t.Fatal(err)
				}
				in.Baseline, in.BaselineName = b, "gates/baseline-smoke.json"
			}
			rep, err := gate.Evaluate(mustParse(t, tt.rules...), in)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := rep.WriteMarkdown(&got); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tt.golden+".golden.md", got.Bytes())
		})
	}
}
