// Package connectorkeys knows which settings a Debezium path accepts: the
// PostgreSQL connector's own properties and, through Kafka Connect's
// producer.override. prefix, its producer's. A scenario is checked against
// these lists when it is parsed, offline, so that a typo fails in
// milliseconds with a suggestion instead of after a JVM stack has started;
// Connect validates the values later, before anything is produced.
//
// The lists are what the pinned versions report about themselves: the
// names in Connect's PUT /connector-plugins/.../config/validate answer for
// Debezium's PostgresConnector, and ProducerConfig.configNames() of
// kafka-clients. A test against the real worker (internal/connect's
// TestRealWorker) fails when a version bump changes them.
package connectorkeys

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cdcbench/cdcbench/internal/suggest"
)

// ProducerOverride prefixes a setting of the connector's producer; the
// local stack's worker allows it (connector.client.config.override.policy=All).
const ProducerOverride = "producer.override."

var (
	//go:embed debezium-postgres-3.6.1.Final.txt
	debeziumText string
	//go:embed kafka-producer-4.3.1.txt
	producerText string

	// Debezium are the PostgreSQL connector's property names, sorted.
	Debezium = lines(debeziumText)
	// Producer are the Kafka producer's configuration names, sorted.
	Producer = lines(producerText)
)

// ErrUnknown reports a setting neither list knows.
var ErrUnknown = errors.New("unknown setting")

// ErrReserved reports a setting cdcbench sets itself.
var ErrReserved = errors.New("set by cdcbench")

// reserved are the settings the benchmark depends on, with why: changing
// one would not tune the pipeline but break what the agents read or where
// the connector looks.
var reserved = map[string]string{
	"name":                                 "the connector is named after the path",
	"connector.class":                      "the path runs Debezium's PostgresConnector",
	"tasks.max":                            "the PostgreSQL connector runs one task",
	"plugin.name":                          "the pipeline decodes with pgoutput",
	"database.hostname":                    "the stack's database is used",
	"database.port":                        "the stack's database is used",
	"database.user":                        "the stack's database is used",
	"database.password":                    "the stack's database is used",
	"database.dbname":                      "the stack's database is used",
	"topic.prefix":                         "the agents read dbserver1.public.transactions",
	"table.include.list":                   "the benchmark captures public.transactions",
	"slot.name":                            "each path gets a fresh slot, dropped after it",
	"publication.name":                     "each run creates its publication",
	"publication.autocreate.mode":          "each run creates its publication",
	"snapshot.mode":                        "a path streams from an empty table (no_data)",
	"decimal.handling.mode":                "the agents read amount as a JSON number (double)",
	"message.key.columns":                  "the scenario's key field sets the change events' key",
	"key.converter":                        "the agents read JSON change events with their schema",
	"key.converter.schemas.enable":         "the agents read JSON change events with their schema",
	"value.converter":                      "the agents read JSON change events with their schema",
	"value.converter.schemas.enable":       "the agents read JSON change events with their schema",
	"tombstones.on.delete":                 "rows are never deleted during a run",
	ProducerOverride + "bootstrap.servers": "the connector writes to the stack's Kafka",
	ProducerOverride + "key.serializer":    "Connect's converters serialize the events",
	ProducerOverride + "value.serializer":  "Connect's converters serialize the events",
}

// Reserved reports whether cdcbench sets key itself, and why.
func Reserved(key string) (why string, ok bool) {
	why, ok = reserved[key]
	return why, ok
}

// Check returns nil for a setting a Debezium path may take, ErrReserved for
// one cdcbench sets itself, and ErrUnknown, with the name probably meant,
// for anything else.
func Check(key string) error {
	if why, ok := reserved[key]; ok {
		return fmt.Errorf("%w: %q (%s)", ErrReserved, key, why)
	}
	if p, ok := strings.CutPrefix(key, ProducerOverride); ok {
		if _, found := slices.BinarySearch(Producer, p); found {
			return nil
		}
		return unknown(key, p, Producer, ProducerOverride)
	}
	if _, found := slices.BinarySearch(Debezium, key); found {
		return nil
	}
	if guess := suggest.Closest(key, Producer); guess != "" {
		return fmt.Errorf("%w %q: a producer setting is written %q", ErrUnknown, key, ProducerOverride+guess)
	}
	return unknown(key, key, Debezium, "")
}

// unknown words an unknown key, with a suggestion when one is close.
func unknown(key, name string, known []string, prefix string) error {
	where := "the Debezium PostgreSQL connector's properties"
	if prefix != "" {
		where = "the Kafka producer's settings"
	}
	if guess := suggest.Closest(name, known); guess != "" {
		return fmt.Errorf("%w %q (did you mean %q?)", ErrUnknown, key, prefix+guess)
	}
	return fmt.Errorf("%w %q: not among %s", ErrUnknown, key, where)
}

// lines splits an embedded list into its non-empty lines.
func lines(s string) []string {
	out := strings.Fields(s)
	slices.Sort(out)
	return out
}
