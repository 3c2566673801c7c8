package connectorkeys_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/connect"
	"github.com/cdcbench/cdcbench/internal/connectorkeys"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key  string
		want error
		says string // in the message
	}{
		{"poll.interval.ms", nil, ""},
		{"max.batch.size", nil, ""},
		{"heartbeat.interval.ms", nil, ""},
		{"producer.override.linger.ms", nil, ""},
		{"producer.override.compression.type", nil, ""},
		{"pol.interval.ms", connectorkeys.ErrUnknown, `did you mean "poll.interval.ms"?`},
		{"linger.ms", connectorkeys.ErrUnknown, `a producer setting is written "producer.override.linger.ms"`},
		{"producer.override.lingr.ms", connectorkeys.ErrUnknown, `did you mean "producer.override.linger.ms"?`},
		{"producer.override.colour", connectorkeys.ErrUnknown, "the Kafka producer's settings"},
		{"colour", connectorkeys.ErrUnknown, "the Debezium PostgreSQL connector's properties"},
		{"slot.name", connectorkeys.ErrReserved, "fresh slot"},
		{"topic.prefix", connectorkeys.ErrReserved, "dbserver1.public.transactions"},
		{"producer.override.bootstrap.servers", connectorkeys.ErrReserved, "stack's Kafka"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			err := connectorkeys.Check(tc.key)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Check(%q) = %v, want %v", tc.key, err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Check(%q) = %q, want it to say %q", tc.key, err, tc.says)
			}
		})
	}
}

// TestReservedCoversCdcbenchsConfig keeps the reserved list in step with
// the connector configuration cdcbench writes: a key added there and
// forgotten here would let a scenario silently override it.
func TestReservedCoversCdcbenchsConfig(t *testing.T) {
	t.Parallel()
	cfg, err := connect.DebeziumConfig{Host: "h", User: "u", DBName: "d", Slot: "s", Publication: "p"}.Config()
	if err != nil {
		t.Fatal(err)
	}
	for k := range cfg {
		if _, ok := connectorkeys.Reserved(k); !ok {
			t.Errorf("cdcbench sets %q but a scenario may override it", k)
		}
	}
}

func TestListsAreSorted(t *testing.T) {
	t.Parallel()
	for name, l := range map[string][]string{"Debezium": connectorkeys.Debezium, "Producer": connectorkeys.Producer} {
		if len(l) < 100 || !slices.IsSorted(l) || len(slices.Compact(slices.Clone(l))) != len(l) {
			t.Errorf("%s: %d names, sorted %v", name, len(l), slices.IsSorted(l))
		}
	}
}
