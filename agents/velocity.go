package agents

import (
	"fmt"
	"time"

	"github.com/cdcbench/cdcbench/internal/txn"
)

// VelocityName is agent 2's name.
const VelocityName = "velocity"

// VelocityConfig parameterises agent 2.
type VelocityConfig struct {
	Window     time.Duration // event-time window for counting a user's transactions
	MaxCount   int           // more than this many in Window scores CountScore
	HighAmount int64         // cents; an amount above it scores AmountScore
	Threshold  int64         // alert when the score is above it
}

// Score parts of the seed's velocity rule.
const (
	CountScore  = 40
	AmountScore = 50
	AmexScore   = 10
)

// DefaultVelocity is the seed's rule: 40 for more than 5 transactions in the
// last 60 s, 50 for an amount above 4000.00, 10 for AMEX; alert above 70.
func DefaultVelocity() VelocityConfig {
	return VelocityConfig{Window: 60 * time.Second, MaxCount: 5, HighAmount: 400000, Threshold: 70}
}

// Validate reports the first invalid field.
func (c VelocityConfig) Validate() error {
	switch {
	case c.Window <= 0:
		return fmt.Errorf("velocity.window: must be positive, got %v", c.Window)
	case c.MaxCount < 0:
		return fmt.Errorf("velocity.max_count: must not be negative, got %d", c.MaxCount)
	case c.HighAmount < 0:
		return fmt.Errorf("velocity.high_amount: must not be negative, got %d", c.HighAmount)
	}
	return nil
}

// Velocity is agent 2. Its window runs on event time (created_at), not the
// wall clock, so a replay or a slow path reaches the same verdicts as a live
// run, and the oracle can predict them.
type Velocity struct {
	cfg    VelocityConfig
	window int64 // µs
	users  map[int32]*[]int64
}

var _ Detector = (*Velocity)(nil)

// NewVelocity returns a Velocity with no history.
func NewVelocity(cfg VelocityConfig) (*Velocity, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("agents: %w", err)
	}
	return &Velocity{cfg: cfg, window: cfg.Window.Microseconds(), users: make(map[int32]*[]int64)}, nil
}

// Name implements Detector.
func (v *Velocity) Name() string { return VelocityName }

// Users returns how many users have state, for memory accounting.
func (v *Velocity) Users() int { return len(v.users) }

// Observe implements Detector. The count includes tx itself: the sixth
// transaction within 60 s is the first to score.
func (v *Velocity) Observe(tx *txn.Row) (Alert, bool) {
	ts := v.users[tx.UserID]
	if ts == nil {
		s := make([]int64, 0, 4)
		ts = &s
		v.users[tx.UserID] = ts
	}
	// Forget what fell out of the window; times are near-sorted because a
	// user's rows arrive in commit order.
	cut := tx.CreatedAt - v.window
	drop := 0
	for drop < len(*ts) && (*ts)[drop] <= cut {
		drop++
	}
	if drop > 0 {
		n := copy(*ts, (*ts)[drop:])
		*ts = (*ts)[:n]
	}
	*ts = append(*ts, tx.CreatedAt)
	count := 0
	for _, t := range *ts {
		if t > cut && t <= tx.CreatedAt {
			count++
		}
	}
	var score int64
	if count > v.cfg.MaxCount {
		score += CountScore
	}
	if tx.AmountCents > v.cfg.HighAmount {
		score += AmountScore
	}
	if tx.Card == txn.CardAmex {
		score += AmexScore
	}
	if score > v.cfg.Threshold {
		return Alert{TxID: tx.ID, UserID: tx.UserID, Score: score}, true
	}
	return Alert{}, false
}
