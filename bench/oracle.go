package bench

import (
	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/internal/extagent"
	"github.com/cdcbench/cdcbench/internal/txn"
)

// oracle is the ground truth: the same detectors run over the produced rows
// in generation order, which is each user's commit order because a user's
// rows always go through one connection. Whatever a path delivers, its agents
// must raise exactly these alerts.
type oracle struct {
	dets     []agents.Detector
	expected []*idSet // by agent, in agents.Names order
	// truth keeps every row for matching agent commands' alert lines to
	// rows; nil when the plan has none.
	truth *extagent.Truth
}

func newOracle(cfg agents.Config) (*oracle, error) {
	o := &oracle{}
	for _, name := range agents.Names {
		d, err := agents.New(name, cfg)
		if err != nil {
			return nil, err
		}
		o.dets = append(o.dets, d)
		o.expected = append(o.expected, &idSet{})
	}
	return o, nil
}

// observe runs every detector over a batch.
func (o *oracle) observe(rows []txn.Row) {
	if o.truth != nil {
		o.truth.Add(rows)
	}
	for i := range rows {
		for k, d := range o.dets {
			if a, ok := d.Observe(&rows[i]); ok {
				o.expected[k].add(a.TxID)
			}
		}
	}
}

// alertDiff compares the alerts an agent raised with the expected ones.
type alertDiff struct {
	Expected, Received, Missed, Unexpected int64
}

// diffAlerts compares the alerts received with the expected ones.
func diffAlerts(expected, received *idSet) alertDiff {
	both := expected.common(received)
	return alertDiff{Expected: expected.len(), Received: received.len(), Missed: expected.len() - both, Unexpected: received.len() - both}
}
