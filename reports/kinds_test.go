package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
)

// TestReportsReadPropertiesNotKinds: a capture of a kind the reports have
// never heard of is compared with the polling baseline, and its own
// fields are shown, because reports read the properties result.json
// records (baseline, driver), not kind names.
func TestReportsReadPropertiesNotKinds(t *testing.T) {
	agent := func(p50 float64) []result.AgentResult {
		return []result.AgentResult{{Name: "outlier", E2E: recorder.Summary{Count: 10, P50: p50, P90: p50, P99: p50, P999: p50, Max: p50}}}
	}
	res := &result.Result{Paths: []result.Path{
		{Name: "sparkjdbc", Kind: "sparkjdbc", Agents: agent(10), Driver: map[string]any{"rows_per_fetch": 500.0, "jobs": map[string]any{"a": 1.0}}},
		{Name: "poll-1s", Kind: "poll", Baseline: true, Agents: agent(40), Driver: map[string]any{"poll_mode": "safe"}},
	}}
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer, *result.Result)
		want  []string
	}{
		{"ratios", writeRatios, []string{"| poll-1s | outlier | 4.0x |", "poll-1s p50 is 4.0x sparkjdbc p50"}},
		{"conditions", writeConditions, []string{"| sparkjdbc | sparkjdbc |", "| rows_per_fetch 500 | valid |", "| poll_mode safe | valid |"}},
		{"delivery", writeDelivery, []string{"| – |\n| poll-1s | outlier |", "| – | 0 |\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			tc.write(&b, res)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("no %q in\n%s", w, b.String())
				}
			}
		})
	}
}
