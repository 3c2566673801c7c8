// Package source holds the two ways a transaction reaches an agent: change
// events read from Kafka (the CDC path) and SQL polling of the table (the
// baseline). Both hand over the same Delivery, so the agents and the
// latency accounting are identical on both paths.
package source

import (
	"context"

	"github.com/cdcbench/cdcbench/internal/txn"
)

// Delivery is one row as an agent receives it, with the timestamps the path
// can observe. Zero means the path cannot observe that moment.
type Delivery struct {
	Tx         txn.Row
	ReceivedNs int64 // wall clock when the source handed the row over
	CommitUs   int64 // WAL commit time carried by the change event (source.ts)
	EventUs    int64 // when the change event was created (relay decode or Debezium ts)
	// AppendUs is when the broker appended the event to the topic: the
	// record's timestamp where the topic stamps log-append time.
	AppendUs int64
}

// Source yields rows to one agent.
type Source interface {
	// Run delivers rows to fn, in the path's order, until ctx ends or the
	// source fails. fn must not keep d. Run returns nil when ctx ended.
	Run(ctx context.Context, fn func(d *Delivery)) error
	// Skipped counts messages that were not rows of the table, per reason.
	Skipped() map[string]int64
}
