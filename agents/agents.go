// Package agents holds the fraud detectors the pipeline feeds: pure logic that
// takes one decoded transaction and returns an alert or nothing. They do no
// I/O and read no clock, so the same code runs on the CDC path, on the polling
// path and in the ground-truth oracle, and a test can pin every decision.
package agents

import (
	"fmt"

	"github.com/cdcbench/cdcbench/internal/txn"
)

// Detector judges transactions one at a time, in per-user order. A Detector
// keeps per-user state and is not safe for concurrent use: each consumer owns
// one.
type Detector interface {
	// Name is the agent's name, also its consumer group suffix and its label
	// in results ("outlier", "velocity").
	Name() string
	// Observe updates the detector's state with tx and reports whether tx
	// raises an alert. It must not allocate once a user's state exists,
	// because it runs for every event on the hot path.
	Observe(tx *txn.Row) (Alert, bool)
}

// Alert is a detector's verdict on one transaction. It is a plain value so
// that raising one allocates nothing.
type Alert struct {
	TxID   int64
	UserID int32
	// Score is the velocity score, or for outlier the amount as a multiple
	// of the user's mean, times 100 (so 350 means 3.5x).
	Score int64
}

// Names lists the agents cdcbench runs, in report order.
var Names = []string{OutlierName, VelocityName}

// Config holds both detectors' parameters, validated once by New.
type Config struct {
	Outlier  OutlierConfig
	Velocity VelocityConfig
}

// New builds the named detector from cfg.
func New(name string, cfg Config) (Detector, error) {
	switch name {
	case OutlierName:
		return NewOutlier(cfg.Outlier)
	case VelocityName:
		return NewVelocity(cfg.Velocity)
	}
	return nil, fmt.Errorf("agents: unknown agent %q (known: %v)", name, Names)
}
