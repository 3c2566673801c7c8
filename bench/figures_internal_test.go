package bench

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/result"
)

func TestAttributeDuplicates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		atS   []float64
		start []int64 // the path's duplicates at each fault's start; -1: it did not apply
		total int64
		want  []int64
	}{
		{"one fault takes everything after its start", []float64{2}, []int64{3}, 10, []int64{7}},
		{"each fault until the next", []float64{2, 5}, []int64{0, 40}, 45, []int64{40, 5}},
		{"listed out of time order", []float64{5, 2}, []int64{40, 0}, 45, []int64{5, 40}},
		{"a skipped fault is no boundary and gets none", []float64{2, 3, 6}, []int64{0, -1, 9}, 9, []int64{9, 0, 0}},
		{"no duplicates", []float64{1}, []int64{0}, 0, []int64{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fr := faultRun{dupsAtStart: tc.start}
			for _, at := range tc.atS {
				fr.results = append(fr.results, result.FaultResult{AtS: at})
			}
			for i, f := range fr.attributeDuplicates(tc.total) {
				if f.Duplicates != tc.want[i] {
					t.Errorf("fault %d (at %vs): %d duplicates, want %d", i, f.AtS, f.Duplicates, tc.want[i])
				}
			}
		})
	}
	b, err := json.Marshal(result.FaultResult{Kind: "kill-relay"})
	if err != nil || !strings.Contains(string(b), `"duplicates":0`) {
		t.Errorf("a fault without duplicates marshals as %s (%v), want a duplicates field of 0", b, err)
	}
}

// TestCostNotMeasured: a database cost the sampler could not take is
// reported as not measured, and the path stays valid.
func TestCostNotMeasured(t *testing.T) {
	p := &pathRun{costDone: make(chan costResult, 1)}
	p.costDone <- costResult{err: errors.New("dbcost: sample: FATAL: terminating connection due to administrator command")}
	p.collectCost()
	if p.res.DBCost == nil || !strings.Contains(p.res.DBCost.NotMeasured, "terminating connection") {
		t.Errorf("db cost %+v, want not measured with the reason", p.res.DBCost)
	}
	if len(p.res.InvalidReasons) > 0 {
		t.Errorf("invalid reasons %q: a cost not measured must not invalidate the path", p.res.InvalidReasons)
	}
}
