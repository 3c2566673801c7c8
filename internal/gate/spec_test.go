package gate_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cdcbench/cdcbench/internal/gate"
)

func TestParseRules(t *testing.T) {
	all := gate.Selector{Path: "*", Agent: "*"}
	tests := []struct {
		rule string
		want gate.Rule
	}{
		{"valid", gate.Rule{Kind: gate.Valid}},
		{"cdc/velocity e2e p99 < 250ms", gate.Rule{Kind: gate.Absolute, Target: gate.Selector{Path: "cdc", Agent: "velocity"},
			Metric: gate.Metric{Name: "e2e", Stat: "p99"}, Op: gate.Less, Limit: 250}},
		{"cdc/* missed_alerts == 0", gate.Rule{Kind: gate.Absolute, Target: gate.Selector{Path: "cdc", Agent: "*"},
			Metric: gate.Metric{Name: "missed_alerts"}, Op: gate.Equal, Limit: 0}},
		{"cdc events_missing <= 2", gate.Rule{Kind: gate.Absolute, Target: gate.Selector{Path: "cdc", Agent: "*"},
			Metric: gate.Metric{Name: "events_missing"}, Op: gate.LessEqual, Limit: 2}},
		{"missed_alerts == 0", gate.Rule{Kind: gate.Absolute, Target: all, Metric: gate.Metric{Name: "missed_alerts"}, Op: gate.Equal}},
		{"e2e p99.9 < 1.5s", gate.Rule{Kind: gate.Absolute, Target: all, Metric: gate.Metric{Name: "e2e", Stat: "p999"}, Op: gate.Less, Limit: 1500}},
		{"cdc/outlier stages.commit_receive p50 < 20ms", gate.Rule{Kind: gate.Absolute, Target: gate.Selector{Path: "cdc", Agent: "outlier"},
			Metric: gate.Metric{Name: "stages.commit_receive", Stat: "p50"}, Op: gate.Less, Limit: 20}},
		{"poll-100ms alerts >= 100", gate.Rule{Kind: gate.Absolute, Target: gate.Selector{Path: "poll-100ms", Agent: "*"},
			Metric: gate.Metric{Name: "alerts"}, Op: gate.GreaterEqual, Limit: 100}},
		{"cdc e2e p50 <= 1.2 x baseline", gate.Rule{Kind: gate.Relative, Target: gate.Selector{Path: "cdc", Agent: "*"},
			Metric: gate.Metric{Name: "e2e", Stat: "p50"}, Op: gate.LessEqual, Limit: 1.2}},
		{"cdc e2e p50<=1.2x baseline", gate.Rule{Kind: gate.Relative, Target: gate.Selector{Path: "cdc", Agent: "*"},
			Metric: gate.Metric{Name: "e2e", Stat: "p50"}, Op: gate.LessEqual, Limit: 1.2}},
		{"cdc e2e p99 <= 0.5 x poll-100ms e2e p50", gate.Rule{Kind: gate.Ratio, Target: gate.Selector{Path: "cdc", Agent: "*"},
			Metric: gate.Metric{Name: "e2e", Stat: "p99"}, Op: gate.LessEqual, Limit: 0.5,
			Other: gate.Selector{Path: "poll-100ms"}, OtherMetric: gate.Metric{Name: "e2e", Stat: "p50"}}},
		{"cdc/outlier e2e max > 0.1 x poll-100ms/velocity stages.commit_receive mean", gate.Rule{Kind: gate.Ratio,
			Target: gate.Selector{Path: "cdc", Agent: "outlier"}, Metric: gate.Metric{Name: "e2e", Stat: "max"}, Op: gate.Greater, Limit: 0.1,
			Other: gate.Selector{Path: "poll-100ms", Agent: "velocity"}, OtherMetric: gate.Metric{Name: "stages.commit_receive", Stat: "mean"}}},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			spec, err := gate.Parse("ci.yaml", []byte("rules:\n  - valid\n  - "+tt.rule+"  # comment\n"))
			if err != nil {
				t.Fatal(err)
			}
			if spec.Alpha != gate.DefaultAlpha {
				t.Errorf("alpha = %g, want the default %g", spec.Alpha, gate.DefaultAlpha)
			}
			got := spec.Rules[1]
			tt.want.Text, tt.want.Line = tt.rule, 3
			if got != tt.want {
				t.Errorf("rule\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseImpliesValid(t *testing.T) {
	spec, err := gate.Parse("ci.yaml", []byte("alpha: 0.01\nrules:\n  - cdc e2e p99 < 1s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Alpha != 0.01 || len(spec.Rules) != 2 || spec.Rules[0].Kind != gate.Valid || !spec.Rules[0].Implied {
		t.Errorf("spec = %+v; want alpha 0.01 and an implied valid rule first", spec)
	}
	spec = mustParse(t, "cdc e2e p99 < 1s", "valid")
	if len(spec.Rules) != 2 || spec.Rules[1].Implied {
		t.Errorf("an explicit valid rule was implied again: %+v", spec.Rules)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"not yaml", "rules: [", "ci.yaml:1: not a gate file: did not find expected node content at the end of the file, while parsing a flow node"},
		{"not yaml inside", "rules:\n  - valid\n  - a: b: c\n", "ci.yaml:3: not a gate file: mapping values are not allowed in this context at column 9"},
		{"empty", "# rules to come\n", "ci.yaml: empty: a gate file is a mapping with alpha and rules"},
		{"not a mapping", "- valid\n", "ci.yaml:1: a gate file is a mapping with alpha and rules"},
		{"unknown key", "rule:\n  - valid\n", `ci.yaml:1: unknown key "rule"; a gate file has alpha and rules`},
		{"bad alpha", "alpha: 5%\nrules: [valid]\n", `ci.yaml:1: alpha is a significance level between 0 and 1 such as 0.05, not "5%"`},
		{"rules not a list", "rules: valid\n", `ci.yaml:1: rules is a list, one rule per line starting with "- "`},
		{"no rules", "alpha: 0.05\nrules: []\n", "ci.yaml:1: no rules"},
		{"rule is a mapping", "rules:\n  - valid\n  - cdc e2e p99: 250ms\n", `ci.yaml:3: a rule is one line of text such as "cdc e2e p99 < 250ms" (quote it if it contains ": ")`},
		{"unit missing", "rules:\n  - valid\n  - cdc e2e p99 < 250\n", `ci.yaml:3: e2e p99 needs a duration such as 250ms or 1.5s, not "250" in "cdc e2e p99 < 250"`},
		{"unit on a count", "rules:\n  - missed_alerts == 0ms\n", `ci.yaml:2: missed_alerts is a count; its limit is a number such as 0, not "0ms" in "missed_alerts == 0ms"`},
		{"no stat", "rules:\n  - cdc e2e < 250ms\n", `ci.yaml:2: e2e needs a statistic: one of max, mean, p50, p90, p99, p999 in "cdc e2e < 250ms"`},
		{"bad stat", "rules:\n  - cdc e2e p95 < 250ms\n", `ci.yaml:2: "p95" is not a statistic of e2e: use one of max, mean, p50, p90, p99, p999 in "cdc e2e p95 < 250ms"`},
		{"bad metric", "rules:\n  - cdc latency p99 < 250ms\n", `ci.yaml:2: "latency" is not a metric: use e2e <stat>, stages.<stage> <stat> or one of alerts, duplicate_events, events, events_missing, expected_alerts, expected_events, missed_alerts, unexpected_alerts in "cdc latency p99 < 250ms"`},
		{"bad op", "rules:\n  - cdc e2e p99 = 250ms\n", `ci.yaml:2: "=" is not a comparison; use one of < <= > >= == != in "cdc e2e p99 = 250ms"`},
		{"no op", "rules:\n  - cdc e2e p99\n", `ci.yaml:2: e2e p99 needs a comparison (< <= > >= == !=) and a limit in "cdc e2e p99"`},
		{"no limit", "rules:\n  - cdc e2e p99 <\n", `ci.yaml:2: missing a limit after < in "cdc e2e p99 <"`},
		{"trailing words", "rules:\n  - cdc e2e p99 < 250ms please\n", `ci.yaml:2: unexpected "please" after the limit 250ms in "cdc e2e p99 < 250ms please"`},
		{"valid with more", "rules:\n  - valid == true\n", `ci.yaml:2: "valid" stands alone; it takes no selector, comparison or limit in "valid == true"`},
		{"bad selector", "rules:\n  - cdc/ e2e p99 < 1s\n", `ci.yaml:2: "cdc/" is not a path, path/agent or path/* (e.g. cdc/velocity) in "cdc/ e2e p99 < 1s"`},
		{"bad factor", "rules:\n  - cdc e2e p50 <= -1 x baseline\n", `ci.yaml:2: "-1" is not a positive factor (as in 1.2 x baseline) in "cdc e2e p50 <= -1 x baseline"`},
		{"factor with ==", "rules:\n  - cdc e2e p50 == 1 x baseline\n", `ci.yaml:2: a factor needs < <= > or >=; == of a ratio is never exact in "cdc e2e p50 == 1 x baseline"`},
		{"factor of nothing", "rules:\n  - cdc e2e p50 <= 2 x\n", `ci.yaml:2: missing what 2 x refers to: "baseline" or a path and metric such as poll-100ms e2e p50 in "cdc e2e p50 <= 2 x"`},
		{"after baseline", "rules:\n  - cdc e2e p50 <= 2 x baseline p50\n", `ci.yaml:2: unexpected "p50" after baseline in "cdc e2e p50 <= 2 x baseline p50"`},
		{"ratio without metric", "rules:\n  - cdc e2e p50 <= 0.5 x poll-100ms\n", `ci.yaml:2: missing a metric: e2e <stat>, stages.<stage> <stat> or one of alerts, duplicate_events, events, events_missing, expected_alerts, expected_events, missed_alerts, unexpected_alerts in "cdc e2e p50 <= 0.5 x poll-100ms"`},
		{"ratio of latency to count", "rules:\n  - cdc e2e p50 <= 0.5 x poll-100ms alerts\n", `ci.yaml:2: e2e p50 and alerts are not both latencies or both counts in "cdc e2e p50 <= 0.5 x poll-100ms alerts"`},
		{"ratio to a wildcard", "rules:\n  - cdc e2e p50 <= 0.5 x poll-100ms/* e2e p50\n", `ci.yaml:2: the figure after x must name one path (and optionally one agent), not poll-100ms/* in "cdc e2e p50 <= 0.5 x poll-100ms/* e2e p50"`},
		{"yaml alias", "rules:\n  - */* missed_alerts == 0\n", "ci.yaml:2: not a gate file: unknown anchor '/*' referenced at column 5: YAML reads * as an alias; quote a rule that starts with it ('*/velocity e2e p99 < 1s')"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gate.Parse("ci.yaml", []byte(tt.file))
			var pe *gate.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if err.Error() != tt.want {
				t.Errorf("err\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestLoadSpec(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ci.yaml")
	if err := os.WriteFile(path, []byte(gateFile("'*/velocity e2e p99 < 1s'")), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := gate.LoadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	if spec.File != path || spec.Rules[1].Target != (gate.Selector{Path: "*", Agent: "velocity"}) {
		t.Errorf("spec = %+v", spec)
	}
	if _, err := gate.LoadSpec(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}
