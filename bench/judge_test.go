package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/txn"
	"github.com/cdcbench/cdcbench/producer"
)

func TestDiffAlerts(t *testing.T) {
	cases := []struct {
		name               string
		expected, received []int64
		want               alertDiff
	}{
		{"exact", []int64{3, 1, 2}, []int64{1, 2, 3}, alertDiff{Expected: 3, Received: 3}},
		{"missed", []int64{1, 2, 3}, []int64{2}, alertDiff{Expected: 3, Received: 1, Missed: 2}},
		{"unexpected", []int64{2}, []int64{1, 2, 9}, alertDiff{Expected: 1, Received: 3, Unexpected: 2}},
		{"both", []int64{1, 5}, []int64{5, 7}, alertDiff{Expected: 2, Received: 2, Missed: 1, Unexpected: 1}},
		{"none", nil, nil, alertDiff{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := diffAlerts(ids(c.expected...), ids(c.received...)); got != c.want {
				t.Fatalf("diffAlerts = %+v, want %+v", got, c.want)
			}
		})
	}
}

// ids is the set of the run's rows at these offsets from the first id.
func ids(offsets ...int64) *idSet {
	s := &idSet{}
	for _, o := range offsets {
		s.add(producer.FirstID + o)
	}
	return s
}

// TestOracle checks the ground truth against a hand-computed sequence:
// user 7 spends 10.00 three times then 900.00 (outlier: > 3x 10.00 and >
// 500.00), then five more small ones and 4,500.00 within a minute
// (velocity: 40 + 50).
func TestOracle(t *testing.T) {
	o, err := newOracle(agents.Config{Outlier: agents.DefaultOutlier(), Velocity: agents.DefaultVelocity()})
	if err != nil {
		t.Fatal(err)
	}
	var rows []txn.Row
	add := func(cents int64) {
		rows = append(rows, txn.Row{ID: producer.FirstID + int64(len(rows)+2), UserID: 7, AmountCents: cents, CreatedAt: int64(len(rows)) * 1e6, Card: txn.CardVisa})
	}
	for _, c := range []int64{1000, 1000, 1000, 90000, 1000, 1000, 1000, 1000, 1000, 450000} {
		add(c)
	}
	o.observe(rows[:5])
	o.observe(rows[5:])
	// Row 5 (id FirstID+5, 900.00): outlier. Row 10 (+11, 4,500.00): the tenth in
	// 60 s and above 4,000.00, so velocity; against a history averaging
	// about 100 it is also an outlier. Rows 6..9 are the sixth to ninth in a
	// minute but small: 40 points, no alert.
	want := []*idSet{ids(5, 11), ids(11)}
	for k, name := range agents.Names {
		if d := diffAlerts(o.expected[k], want[k]); d.Missed != 0 || d.Unexpected != 0 || d.Expected != want[k].len() {
			t.Errorf("%s: the oracle's alerts against the hand-computed ones: %+v", name, d)
		}
	}
}

// TestValidityRules: each rule that makes a run invalid, with a case that
// trips it, and a clean case that does not.
func TestValidityRules(t *testing.T) {
	clean := result.AgentResult{Name: "outlier", Events: 100, ExpectedEvents: 100, Alerts: 5, ExpectedAlerts: 5, E2E: recorder.Summary{Count: 90}}
	cdc := driver.Path{Kind: "cdc"}
	poll := driver.Path{Kind: "poll", Param: "100ms"}
	cases := []struct {
		name   string
		mutate func(*result.AgentResult)
		path   driver.Path
		mode   string
		want   string // "" = valid
	}{
		{"clean", func(*result.AgentResult) {}, cdc, "safe", ""},
		{"rows missing", func(a *result.AgentResult) { a.Events = 90 }, cdc, "safe", "10 of 100 rows never arrived"},
		{"rows missing on a safe poller", func(a *result.AgentResult) { a.Events = 99 }, poll, "safe", "1 of 100 rows never arrived"},
		{"naive poller losses are the finding", func(a *result.AgentResult) { a.Events = 90 }, poll, "naive", ""},
		{"alerts missing", func(a *result.AgentResult) { a.MissedAlerts = 1 }, cdc, "safe", "1 of 5 expected alerts missing"},
		{"alerts invented", func(a *result.AgentResult) { a.UnexpectedAlerts = 2 }, cdc, "safe", "2 alerts the oracle did not expect"},
		{"histogram overflow", func(a *result.AgentResult) { a.E2E.Overflow = 1 }, cdc, "safe", "overflowed"},
		{"negative latency", func(a *result.AgentResult) { a.E2E.Negative = 3 }, cdc, "safe", "3 were negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := clean
			c.mutate(&a)
			d, err := driver.New(c.path, driver.Config{PollMode: c.mode, PollLimit: 1})
			if err != nil {
				t.Fatal(err)
			}
			why := strings.Join(agentProblems(a, losesRows(d)), "; ")
			if c.want == "" && why != "" || c.want != "" && !strings.Contains(why, c.want) {
				t.Fatalf("problems %q, want %q", why, c.want)
			}
		})
	}
	res := &result.Result{Paths: []result.Path{{Name: "cdc", InvalidReasons: []string{"the producer fell 2s behind its schedule (tolerance 1s)"}}}}
	judge(res, nil)
	if res.Valid || !strings.Contains(res.InvalidReasons[0], "behind its schedule") {
		t.Fatalf("a lagging producer left the run valid: %+v", res)
	}
	res = &result.Result{}
	judge(res, fmt.Errorf("path cdc: %w", context.Canceled))
	if res.Valid || res.InvalidReasons[0] != "interrupted" {
		t.Fatalf("an interrupted run: %+v", res)
	}
	res = &result.Result{}
	judge(res, errors.New("boom"))
	if res.Valid || !strings.Contains(res.InvalidReasons[0], "boom") {
		t.Fatalf("a failed run: %+v", res)
	}
	res = &result.Result{Paths: []result.Path{{Name: "cdc", RowsProduced: 100, Agents: []result.AgentResult{clean}}}}
	judge(res, nil)
	if !res.Valid {
		t.Fatalf("a clean run is invalid: %+v", res)
	}
}

// TestJudgeNothingMeasured: a run in which no row was measured is never
// valid, however clean its counts are (0 of 0 rows missing, 0 of 0 alerts).
func TestJudgeNothingMeasured(t *testing.T) {
	measured := result.AgentResult{Name: "outlier", E2E: recorder.Summary{Count: 90}}
	empty := result.AgentResult{Name: "velocity"}
	for _, tc := range []struct {
		name  string
		paths []result.Path
		want  string
	}{
		{"no rows produced", []result.Path{{Name: "cdc", Agents: []result.AgentResult{{Name: "outlier"}, {Name: "velocity"}}}}, "cdc: outlier: no rows measured (0 produced)"},
		{"one agent measured nothing", []result.Path{{Name: "cdc", RowsProduced: 100, Agents: []result.AgentResult{measured, empty}}}, "cdc: velocity: no rows measured (100 produced)"},
		{"the second path measured nothing", []result.Path{{Name: "cdc", RowsProduced: 100, Agents: []result.AgentResult{measured}}, {Name: "poll-1s", Agents: []result.AgentResult{{Name: "outlier"}}}}, "poll-1s: outlier: no rows measured"},
		{"no path", nil, "no path ran"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := &result.Result{Paths: tc.paths}
			judge(res, nil)
			if res.Valid || !strings.Contains(strings.Join(res.InvalidReasons, "; "), tc.want) {
				t.Fatalf("valid %v, reasons %q; want invalid, %q", res.Valid, res.InvalidReasons, tc.want)
			}
		})
	}
}
