package bench

import (
	"sort"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/internal/txn"
)

// oracle is the ground truth: the same detectors run over the produced rows
// in generation order, which is each user's commit order because a user's
// rows always go through one connection. Whatever a path delivers, its agents
// must raise exactly these alerts.
type oracle struct {
	dets     []agents.Detector
	expected [][]int64
}

func newOracle(cfg agents.Config) (*oracle, error) {
	o := &oracle{}
	for _, name := range agents.Names {
		d, err := agents.New(name, cfg)
		if err != nil {
			return nil, err
		}
		o.dets = append(o.dets, d)
		o.expected = append(o.expected, nil)
	}
	return o, nil
}

// observe runs every detector over a batch.
func (o *oracle) observe(rows []txn.Row) {
	for i := range rows {
		for k, d := range o.dets {
			if a, ok := d.Observe(&rows[i]); ok {
				o.expected[k] = append(o.expected[k], a.TxID)
			}
		}
	}
}

// alertDiff compares the alerts an agent raised with the expected ones.
type alertDiff struct {
	Expected, Received, Missed, Unexpected int64
}

func diffAlerts(expected, received []int64) alertDiff {
	e := append([]int64(nil), expected...)
	r := append([]int64(nil), received...)
	sort.Slice(e, func(i, j int) bool { return e[i] < e[j] })
	sort.Slice(r, func(i, j int) bool { return r[i] < r[j] })
	d := alertDiff{Expected: int64(len(e)), Received: int64(len(r))}
	i, j := 0, 0
	for i < len(e) || j < len(r) {
		switch {
		case j == len(r) || (i < len(e) && e[i] < r[j]):
			d.Missed++
			i++
		case i == len(e) || r[j] < e[i]:
			d.Unexpected++
			j++
		default:
			i++
			j++
		}
	}
	return d
}
