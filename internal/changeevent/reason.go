package changeevent

import (
	"strconv"
	"sync/atomic"
)

// Reason says why a message value did not yield a transaction. Consumers
// count skips by reason, because a stream where, say, every event is
// bad_value is a broken benchmark, not a fast one.
type Reason uint8

// Skip reasons. The zero value is ReasonNotJSON.
const (
	// ReasonNotJSON: the value does not parse as JSON.
	ReasonNotJSON Reason = iota
	// ReasonTombstone: a nil, empty or JSON null value (log compaction's delete marker).
	ReasonTombstone
	// ReasonTxMetadata: a transaction metadata record (status BEGIN or END).
	ReasonTxMetadata
	// ReasonMessage: a logical decoding message (op "m"), e.g. a heartbeat.
	ReasonMessage
	// ReasonOtherTable: a change event of a table other than the configured one.
	ReasonOtherTable
	// ReasonUpdate: an update (op "u"); transactions are insert-only.
	ReasonUpdate
	// ReasonDelete: a delete (op "d").
	ReasonDelete
	// ReasonTruncate: a truncate (op "t").
	ReasonTruncate
	// ReasonUnknownOp: an op that Debezium does not define.
	ReasonUnknownOp
	// ReasonNoPayload: JSON that is not a change event envelope, e.g. a record key.
	ReasonNoPayload
	// ReasonMissingField: a field the decoder needs is absent or null.
	ReasonMissingField
	// ReasonBadValue: a field has the wrong type or a value out of range.
	ReasonBadValue

	// NumReasons is the number of reasons, for arrays indexed by Reason.
	NumReasons
)

var reasonNames = [NumReasons]string{
	ReasonNotJSON:      "not_json",
	ReasonTombstone:    "tombstone",
	ReasonTxMetadata:   "tx_metadata",
	ReasonMessage:      "message",
	ReasonOtherTable:   "other_table",
	ReasonUpdate:       "update",
	ReasonDelete:       "delete",
	ReasonTruncate:     "truncate",
	ReasonUnknownOp:    "unknown_op",
	ReasonNoPayload:    "no_payload",
	ReasonMissingField: "missing_field",
	ReasonBadValue:     "bad_value",
}

// String returns the snake_case name used in counters and reports.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// SkipError is the only error Decode returns: the value is not an insert or
// snapshot read of the configured table, or it is malformed.
type SkipError struct {
	Reason Reason
	// Detail names the field or table involved, when there is one.
	Detail string
}

func (e *SkipError) Error() string {
	if e.Detail == "" {
		return "changeevent: skip: " + e.Reason.String()
	}
	return "changeevent: skip: " + e.Reason.String() + ": " + e.Detail
}

// skip builds a *SkipError. Skips are rare, so its allocation does not matter.
func skip(r Reason, detail string) error { return &SkipError{Reason: r, Detail: detail} }

// Counts counts skips per reason. It is safe for concurrent use, so several
// consumer goroutines can share one.
type Counts [NumReasons]atomic.Int64

// Add counts one skip for reason r; reasons out of range are ignored.
func (c *Counts) Add(r Reason) {
	if r < NumReasons {
		c[r].Add(1)
	}
}

// Snapshot returns the current counts by reason name, omitting zeros.
func (c *Counts) Snapshot() map[string]int64 {
	m := make(map[string]int64)
	for r := range NumReasons {
		if n := c[r].Load(); n != 0 {
			m[r.String()] = n
		}
	}
	return m
}
