package changeevent

import (
	"bytes"

	"github.com/valyala/fastjson"

	"github.com/cdcbench/cdcbench/internal/txn"
)

// Event is one insert or snapshot read of the transactions table.
type Event struct {
	Tx txn.Row
	// Op is 'c' (insert) or 'r' (read during a snapshot).
	Op byte
	// Snapshot is true when source.snapshot is anything but false, "false",
	// null or absent: connectors write true, "true", "first", "last",
	// "last_in_data_collection", "incremental", ... depending on version.
	Snapshot bool
	// SourceTsUs is the commit time the source block reports, in µs since
	// the epoch (source.ts_us, else ts_ns/1000, else ts_ms*1000); 0 if absent.
	SourceTsUs int64
	// EventTsUs is when the connector emitted the event, in µs (the
	// envelope's ts_us, else ts_ns/1000, else ts_ms*1000); 0 if absent.
	EventTsUs int64
	// LSN is source.lsn, 0 if absent.
	LSN int64
	// TxID is source.txId, 0 if absent.
	TxID int64
}

// Option configures a Decoder.
type Option func(*Decoder)

// WithTable sets which table's events Decode returns; every other table is
// skipped with ReasonOtherTable. The default is public.transactions. An
// empty schema matches any source.schema.
func WithTable(schema, table string) Option {
	return func(d *Decoder) { d.schema, d.table = schema, table }
}

// Decoder decodes Debezium change event values. It keeps its fastjson
// parsers, whose buffers are reused, so Decode allocates nothing once warmed
// up. A Decoder is not safe for concurrent use; each consumer goroutine owns one.
type Decoder struct {
	p             fastjson.Parser
	schema, table string

	// The JsonConverter repeats the same ~2.5 kB schema in every event of a
	// table, and parsing it was three quarters of decoding. The decoder keeps
	// the last schema it parsed, byte for byte, with the column kinds it
	// implies; a value that starts with the same bytes has only its payload
	// parsed (see splitWrapped).
	sp         fastjson.Parser // parses a schema seen for the first time
	lastSchema []byte
	lastCols   columns
	// nested holds a payload or new schema inside one pair of brackets, so
	// that it is parsed at the depth it has in the whole value: fastjson
	// refuses values nested deeper than 300, and a part parsed alone would
	// get one level more than the whole parse gives it.
	nested []byte
}

// The form the JsonConverter writes a schema-wrapped value in: the schema
// first, the payload second, no whitespace.
const (
	wrappedHead = `{"schema":`
	payloadKey  = `,"payload":`
)

// NewDecoder returns a Decoder for public.transactions unless an Option says otherwise.
func NewDecoder(opts ...Option) *Decoder {
	d := &Decoder{schema: "public", table: "transactions"}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Decode parses one Kafka message value. A nil or empty value (tombstone) and
// anything that is not an insert ('c') or snapshot read ('r') of our table
// returns a *SkipError with a Reason; malformed input returns *SkipError too
// (never panics). On success ev is fully overwritten; on a skip it is left
// unchanged.
func (d *Decoder) Decode(value []byte, ev *Event) error {
	if payload, cols, ok := d.splitWrapped(value); ok {
		if p, ok := parseNested(&d.p, &d.nested, payload); ok {
			return d.decodeWrapped(p, cols, nil, ev)
		}
	}
	return d.decodeWhole(value, ev)
}

// parseNested parses part as the element of a one-element array built in
// *buf, i.e. at depth 2, where a schema-wrapped value's schema and payload
// sit; ok is false if it does not parse.
func parseNested(p *fastjson.Parser, buf *[]byte, part []byte) (*fastjson.Value, bool) {
	*buf = append(append(append((*buf)[:0], '['), part...), ']')
	v, err := p.ParseBytes(*buf)
	if err != nil {
		return nil, false
	}
	a := v.GetArray()
	if len(a) != 1 {
		return nil, false
	}
	return a[0], true
}

// splitWrapped returns the payload bytes of a value in the JsonConverter's
// form and the column kinds of its schema, parsing the schema only if it
// differs from the last one. It never decides a verdict: whatever it cannot
// split (another key order, whitespace, a payload followed by more keys)
// goes to decodeWhole, and so does a payload that does not parse alone, so
// both paths judge every value alike (TestDecodeSplitMatchesWhole,
// FuzzDecode).
//
// A schema's bytes followed by `,"payload":` are the whole schema value
// only if they parse as one JSON value: a "payload" key nested in the
// schema would leave an unfinished object before it. Inside a JSON string
// the sequence cannot occur, since its quotes would be escaped.
func (d *Decoder) splitWrapped(value []byte) (payload []byte, cols columns, ok bool) {
	if len(value) < len(wrappedHead)+len(payloadKey)+2 || string(value[:len(wrappedHead)]) != wrappedHead || value[len(value)-1] != '}' {
		return nil, cols, false
	}
	rest := value[len(wrappedHead) : len(value)-1]
	n := len(d.lastSchema)
	if n == 0 || !bytes.HasPrefix(rest, d.lastSchema) || !bytes.HasPrefix(rest[n:], []byte(payloadKey)) {
		i := bytes.Index(rest, []byte(payloadKey))
		if i < 0 {
			return nil, cols, false
		}
		s, ok := parseNested(&d.sp, &d.nested, rest[:i])
		if !ok || s.Type() != fastjson.TypeObject {
			return nil, cols, false
		}
		var err error
		if d.lastCols, err = columnKinds(s); err != nil {
			d.lastSchema = d.lastSchema[:0]
			return nil, cols, false
		}
		d.lastSchema = append(d.lastSchema[:0], rest[:i]...)
		n = i
	}
	return rest[n+len(payloadKey):], d.lastCols, true
}

// decodeWhole parses the whole value: the bare envelope, or a wrapped one
// in any form splitWrapped does not take.
func (d *Decoder) decodeWhole(value []byte, ev *Event) error {
	if len(value) == 0 {
		return skip(ReasonTombstone, "")
	}
	root, err := d.p.ParseBytes(value)
	if err != nil {
		return skip(ReasonNotJSON, err.Error())
	}
	switch root.Type() {
	case fastjson.TypeNull:
		return skip(ReasonTombstone, "")
	case fastjson.TypeObject:
	default:
		return skip(ReasonNoPayload, "top level is a "+root.Type().String())
	}

	// The JsonConverter with schemas.enable=true wraps the envelope as
	// {"schema":..., "payload":...}; without it the envelope is the top level.
	p, s := root.Get("payload"), root.Get("schema")
	if p == nil || s == nil {
		return d.decodeEnvelope(root, noSchema, nil, ev)
	}
	var schema *fastjson.Value
	if s.Type() == fastjson.TypeObject {
		schema = s
	}
	cols, colsErr := columnKinds(schema)
	return d.decodeWrapped(p, cols, colsErr, ev)
}

// decodeWrapped decodes the payload of a schema-wrapped value; cols and
// colsErr are what its schema says about the columns.
func (d *Decoder) decodeWrapped(payload *fastjson.Value, cols columns, colsErr error, ev *Event) error {
	switch payload.Type() {
	case fastjson.TypeNull:
		return skip(ReasonTombstone, "payload")
	case fastjson.TypeObject:
	default:
		return skip(ReasonNoPayload, "payload is a "+payload.Type().String())
	}
	return d.decodeEnvelope(payload, cols, colsErr, ev)
}

// decodeEnvelope checks op and table before looking at the row, so that
// other tables' events, whatever their shape, skip as other_table; only then
// does a schema that could not be read (colsErr) count. ev is written only
// on success.
func (d *Decoder) decodeEnvelope(payload *fastjson.Value, cols columns, colsErr error, ev *Event) error {
	var e Event
	opv := payload.Get("op")
	if opv == nil {
		if payload.Get("status") != nil {
			return skip(ReasonTxMetadata, "")
		}
		return skip(ReasonNoPayload, "no op")
	}
	op, ok := stringBytes(opv)
	if !ok || len(op) != 1 {
		return skip(ReasonUnknownOp, "op "+string(opv.MarshalTo(nil)))
	}
	if op[0] == 'm' {
		// Logical decoding messages carry no table (source.table is "").
		return skip(ReasonMessage, "")
	}
	src, err := object(payload.Get("source"), "source")
	if err != nil {
		return err
	}
	if err := d.checkTable(src); err != nil {
		return err
	}
	switch op[0] {
	case 'c', 'r':
	case 'u':
		return skip(ReasonUpdate, "")
	case 'd':
		return skip(ReasonDelete, "")
	case 't':
		return skip(ReasonTruncate, "")
	default:
		return skip(ReasonUnknownOp, "op "+string(op))
	}
	e.Op = op[0]
	e.Snapshot = snapshotFlag(src.Get("snapshot"))
	if e.SourceTsUs, err = timestampUs(src, "source."); err != nil {
		return err
	}
	if e.EventTsUs, err = timestampUs(payload, ""); err != nil {
		return err
	}
	if e.LSN, _, ok = optInt64(src.Get("lsn")); !ok {
		return skip(ReasonBadValue, "source.lsn")
	}
	if e.TxID, _, ok = optInt64(src.Get("txId")); !ok {
		return skip(ReasonBadValue, "source.txId")
	}
	after, err := object(payload.Get("after"), "after")
	if err != nil {
		return err
	}
	if colsErr != nil {
		return colsErr
	}
	if err := decodeRow(after, cols, &e.Tx); err != nil {
		return err
	}
	*ev = e
	return nil
}

// checkTable compares source.table (and source.schema when present) with the
// configured table. The comparisons convert in place and do not allocate.
func (d *Decoder) checkTable(src *fastjson.Value) error {
	table, err := reqString(src.Get("table"), "source.table")
	if err != nil {
		return err
	}
	var schema []byte
	hasSchema := false
	if sv := src.Get("schema"); !isNull(sv) {
		if schema, hasSchema = stringBytes(sv); !hasSchema {
			return skip(ReasonBadValue, "source.schema")
		}
	}
	if string(table) == d.table && (!hasSchema || d.schema == "" || string(schema) == d.schema) {
		return nil
	}
	if hasSchema {
		return skip(ReasonOtherTable, string(schema)+"."+string(table))
	}
	return skip(ReasonOtherTable, string(table))
}

// decodeRow fills tx from the after image. Column names are matched
// verbatim; columns it does not know are ignored, so adding a column to the
// table does not break consumers.
func decodeRow(after *fastjson.Value, cols columns, tx *txn.Row) error {
	id, err := reqInt64(after.Get("id"), "after.id")
	if err != nil {
		return err
	}
	if id <= 0 {
		return skip(ReasonBadValue, "after.id")
	}
	user, err := reqInt32(after.Get("user_id"), "after.user_id")
	if err != nil {
		return err
	}
	merchant, err := reqInt32(after.Get("merchant_id"), "after.merchant_id")
	if err != nil {
		return err
	}
	card, err := reqString(after.Get("card_type"), "after.card_type")
	if err != nil {
		return err
	}
	cents, err := decodeAmount(after.Get("amount"), cols)
	if err != nil {
		return err
	}
	created, err := decodeCreatedAt(after.Get("created_at"), cols.created)
	if err != nil {
		return err
	}
	*tx = txn.Row{
		ID:          id,
		UserID:      user,
		MerchantID:  merchant,
		AmountCents: cents,
		CreatedAt:   created,
		Card:        txn.ParseCard(card),
	}
	return nil
}

// snapshotFlag reads source.snapshot, which has been a boolean, a string
// enum with values the schema does not list, and null across versions.
func snapshotFlag(v *fastjson.Value) bool {
	if v == nil {
		return false
	}
	switch v.Type() {
	case fastjson.TypeFalse, fastjson.TypeNull:
		return false
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return string(s) != "false"
	}
	return true
}

// timestampUs reads the ts_us, ts_ns and ts_ms fields of obj, preferring the
// most precise one present. prefix only decorates skip details and is
// concatenated on the skip path only, to keep the hot path allocation-free.
func timestampUs(obj *fastjson.Value, prefix string) (int64, error) {
	if us, present, ok := optInt64(obj.Get("ts_us")); !ok {
		return 0, skip(ReasonBadValue, prefix+"ts_us")
	} else if present {
		return us, nil
	}
	if ns, present, ok := optInt64(obj.Get("ts_ns")); !ok {
		return 0, skip(ReasonBadValue, prefix+"ts_ns")
	} else if present {
		return floorDiv(ns, 1000), nil
	}
	ms, present, ok := optInt64(obj.Get("ts_ms"))
	if !ok {
		return 0, skip(ReasonBadValue, prefix+"ts_ms")
	}
	if !present {
		return 0, nil
	}
	us, ok := mul1000(ms)
	if !ok {
		return 0, skip(ReasonBadValue, prefix+"ts_ms")
	}
	return us, nil
}

func isNull(v *fastjson.Value) bool { return v == nil || v.Type() == fastjson.TypeNull }

// stringBytes returns v's string without the error fastjson would allocate
// for a non-string.
func stringBytes(v *fastjson.Value) ([]byte, bool) {
	if v == nil || v.Type() != fastjson.TypeString {
		return nil, false
	}
	s, _ := v.StringBytes()
	return s, true
}

// object requires v to be a JSON object: absent or null is a missing field,
// anything else a bad value.
func object(v *fastjson.Value, field string) (*fastjson.Value, error) {
	if isNull(v) {
		return nil, skip(ReasonMissingField, field)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, skip(ReasonBadValue, field)
	}
	return v, nil
}

// optInt64 reads an optional integer: absent or null gives present=false,
// anything but an integer that fits int64 gives ok=false. The number is
// parsed as an integer, never through float64, because ts_ns and LSNs
// exceed 2^53.
func optInt64(v *fastjson.Value) (n int64, present, ok bool) {
	if isNull(v) {
		return 0, false, true
	}
	if v.Type() != fastjson.TypeNumber {
		return 0, true, false
	}
	n, err := v.Int64()
	return n, true, err == nil
}

// reqInt64 reads a required integer column.
func reqInt64(v *fastjson.Value, field string) (int64, error) {
	n, present, ok := optInt64(v)
	switch {
	case !present:
		return 0, skip(ReasonMissingField, field)
	case !ok:
		return 0, skip(ReasonBadValue, field)
	}
	return n, nil
}

// reqString reads a required string field, without copying it.
func reqString(v *fastjson.Value, field string) ([]byte, error) {
	if isNull(v) {
		return nil, skip(ReasonMissingField, field)
	}
	b, ok := stringBytes(v)
	if !ok {
		return nil, skip(ReasonBadValue, field)
	}
	return b, nil
}

// reqInt32 reads a required int column, which must fit PostgreSQL's int.
func reqInt32(v *fastjson.Value, field string) (int32, error) {
	n, err := reqInt64(v, field)
	if err != nil {
		return 0, err
	}
	if n != int64(int32(n)) {
		return 0, skip(ReasonBadValue, field)
	}
	return int32(n), nil
}
