package agents

import (
	"fmt"
	"math"

	"github.com/cdcbench/cdcbench/internal/txn"
)

// OutlierName is agent 1's name.
const OutlierName = "outlier"

// Outlier rules. RuleMean3x is the seed's original rule and the default;
// RuleSigma3 is the 3-sigma variant some teams run instead.
const (
	RuleMean3x = "mean3x" // amount > Factor x mean(history) and amount > MinAmount
	RuleSigma3 = "sigma3" // amount > mean + Factor x stddev(history) and amount > MinAmount
)

// OutlierConfig parameterises agent 1. The zero value is not valid; use
// DefaultOutlier and change what differs.
type OutlierConfig struct {
	Rule       string  // RuleMean3x or RuleSigma3
	History    int     // amounts kept per user (rolling)
	MinHistory int     // amounts that must be known before judging
	Factor     float64 // multiple of the mean (mean3x) or of the stddev (sigma3)
	MinAmount  int64   // cents; amounts at or below it never alert
}

// DefaultOutlier is the seed's rule: last 50 amounts, alert above 3x the mean
// and above 500.00 once 3 amounts are known.
func DefaultOutlier() OutlierConfig {
	return OutlierConfig{Rule: RuleMean3x, History: 50, MinHistory: 3, Factor: 3, MinAmount: 50000}
}

// Validate reports the first invalid field.
func (c OutlierConfig) Validate() error {
	switch {
	case c.Rule != RuleMean3x && c.Rule != RuleSigma3:
		return fmt.Errorf("outlier.rule: must be %q or %q, got %q", RuleMean3x, RuleSigma3, c.Rule)
	case c.History < 1:
		return fmt.Errorf("outlier.history: must be at least 1, got %d", c.History)
	case c.MinHistory < 1 || c.MinHistory > c.History:
		return fmt.Errorf("outlier.min_history: must be within 1..history (%d), got %d", c.History, c.MinHistory)
	case !(c.Factor > 0):
		return fmt.Errorf("outlier.factor: must be positive, got %v", c.Factor)
	case c.MinAmount < 0:
		return fmt.Errorf("outlier.min_amount: must not be negative, got %d", c.MinAmount)
	}
	return nil
}

// Outlier is agent 1: it keeps each user's last History amounts and alerts
// when an amount is far above them. The amount is judged against the history
// before it joins it, as the seed does.
type Outlier struct {
	cfg   OutlierConfig
	users map[int32]*amountRing
}

var _ Detector = (*Outlier)(nil)

// amountRing is a user's rolling history. It grows to History entries and
// then overwrites the oldest, so a user seen once costs a few words, which
// matters with a million users.
type amountRing struct {
	amounts []int64
	next    int
}

// NewOutlier returns an Outlier with no history.
func NewOutlier(cfg OutlierConfig) (*Outlier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("agents: %w", err)
	}
	return &Outlier{cfg: cfg, users: make(map[int32]*amountRing)}, nil
}

// Name implements Detector.
func (o *Outlier) Name() string { return OutlierName }

// Users returns how many users have state, for memory accounting.
func (o *Outlier) Users() int { return len(o.users) }

// Observe implements Detector.
func (o *Outlier) Observe(tx *txn.Row) (Alert, bool) {
	r := o.users[tx.UserID]
	if r == nil {
		r = &amountRing{amounts: make([]int64, 0, min(o.cfg.MinHistory+1, o.cfg.History))}
		o.users[tx.UserID] = r
	}
	alert, raised := o.judge(tx, r.amounts)
	if len(r.amounts) < o.cfg.History {
		r.amounts = append(r.amounts, tx.AmountCents)
	} else {
		r.amounts[r.next] = tx.AmountCents
		r.next = (r.next + 1) % o.cfg.History
	}
	return alert, raised
}

func (o *Outlier) judge(tx *txn.Row, hist []int64) (Alert, bool) {
	if len(hist) < o.cfg.MinHistory || tx.AmountCents <= o.cfg.MinAmount {
		return Alert{}, false
	}
	var sum int64
	for _, a := range hist {
		sum += a
	}
	n := float64(len(hist))
	mean := float64(sum) / n
	amount := float64(tx.AmountCents)
	var limit float64
	switch o.cfg.Rule {
	case RuleMean3x:
		limit = o.cfg.Factor * mean
	case RuleSigma3:
		var ss float64
		for _, a := range hist {
			d := float64(a) - mean
			ss += d * d
		}
		limit = mean + o.cfg.Factor*math.Sqrt(ss/n)
	}
	if amount <= limit {
		return Alert{}, false
	}
	score := int64(0)
	if mean > 0 {
		score = int64(math.Round(amount / mean * 100))
	}
	return Alert{TxID: tx.ID, UserID: tx.UserID, Score: score}, true
}
