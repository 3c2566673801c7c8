// Package changeevent reads and writes the Debezium PostgreSQL change events
// that carry public.transactions rows through Kafka.
//
// The Decoder turns one Kafka message value into a txn.Row plus the event's
// position and timings. It accepts what real Debezium connectors publish, not
// only what cdcbench's own relay writes: values with and without the
// JsonConverter schema wrapper; amounts as a JSON number
// (decimal.handling.mode=double), as text (mode=string), as base64 unscaled
// bytes (mode=precise, scale taken from the schema) or as a variable-scale
// struct; created_at as Micro/Nano/Milli timestamps or ISO-8601 text; and the
// snapshot flag as a boolean, a string or null depending on the connector
// version. Everything that is not an insert or snapshot read of the
// configured table (tombstones, transaction metadata, heartbeats, updates,
// deletes, other tables, malformed input) comes back as a *SkipError with a
// Reason that a consumer can count in Counts.
//
// Decoding sits on the hot path of every agent, so it must not allocate per
// event: it uses github.com/valyala/fastjson, whose Parser keeps its buffers
// and value tree across calls, so after the first few messages a Decode
// allocates nothing (encoding/json allocates for every map, string and
// interface). fastjson also keeps numbers as text until asked, which lets
// ts_ns, lsn and txId be read with Int64 instead of through a float64 that
// would lose digits above 2^53.
//
// AppendValue and AppendKey write what Debezium 2.6+ publishes through the
// JsonConverter with schemas.enable=true and decimal.handling.mode=double, so
// that the built-in WAL relay and a real Debezium connector are
// interchangeable for every consumer.
package changeevent
