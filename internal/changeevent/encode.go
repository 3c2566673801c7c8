package changeevent

import (
	"strconv"

	"github.com/cdcbench/cdcbench/internal/txn"
)

// Source describes the origin of an event, as Debezium's source block.
type Source struct {
	Version   string // e.g. "cdcbench-relay/0.1"
	Connector string // "postgresql"
	Name      string // topic prefix, "dbserver1"
	DB        string
	Schema    string
	Table     string
	// Snapshot is the source.snapshot enum: "false" normally, "true",
	// "last", ... during a snapshot. Empty writes "false".
	Snapshot string
	TsUs     int64 // commit time in µs; written as ts_ms, ts_us and ts_ns
	TxID     int64
	LSN      int64
}

// The value schema, as Debezium 3.6.1 with the JsonConverter
// (schemas.enable=true, decimal.handling.mode=double) writes it for
// cdcbench's public.transactions (fixture 020, recorded from the real
// connector by bench's TestRelayMatchesDebezium, which holds the relay to
// it): envelope version 2, ts_us and ts_ns in the source block and the
// envelope, origin and origin_lsn in the source block, every column but the
// key's required because the table declares them NOT NULL, and created_at's
// default (now()) rendered as 0. Only the record names vary, so the schema
// is appended from these constant fragments instead of being rendered once
// and cached: both cost one copy of the bytes, and this way there is no
// cache to key or to keep in sync.
const (
	schemaStart = `{"schema":{"type":"struct","fields":[`
	rowFields   = `{"type":"struct","fields":[` +
		`{"type":"int64","optional":false,"field":"id"},` +
		`{"type":"int32","optional":false,"field":"user_id"},` +
		`{"type":"double","optional":false,"field":"amount"},` +
		`{"type":"string","optional":false,"field":"card_type"},` +
		`{"type":"int32","optional":false,"field":"merchant_id"},` +
		`{"type":"int64","optional":false,"name":"io.debezium.time.MicroTimestamp","version":1,"default":0,"field":"created_at"}` +
		`],"optional":true,"name":"`
	sourceAndRest = `{"type":"struct","fields":[` +
		`{"type":"string","optional":false,"field":"version"},` +
		`{"type":"string","optional":false,"field":"connector"},` +
		`{"type":"string","optional":false,"field":"name"},` +
		`{"type":"int64","optional":false,"field":"ts_ms"},` +
		`{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"},` +
		`{"type":"string","optional":false,"field":"db"},` +
		`{"type":"string","optional":true,"field":"sequence"},` +
		`{"type":"int64","optional":true,"field":"ts_us"},` +
		`{"type":"int64","optional":true,"field":"ts_ns"},` +
		`{"type":"string","optional":false,"field":"schema"},` +
		`{"type":"string","optional":false,"field":"table"},` +
		`{"type":"int64","optional":true,"field":"txId"},` +
		`{"type":"int64","optional":true,"field":"lsn"},` +
		`{"type":"int64","optional":true,"field":"xmin"},` +
		`{"type":"string","optional":true,"field":"origin"},` +
		`{"type":"int64","optional":true,"field":"origin_lsn"}` +
		`],"optional":false,"name":"io.debezium.connector.postgresql.Source","version":1,"field":"source"},` +
		`{"type":"struct","fields":[` +
		`{"type":"string","optional":false,"field":"id"},` +
		`{"type":"int64","optional":false,"field":"total_order"},` +
		`{"type":"int64","optional":false,"field":"data_collection_order"}` +
		`],"optional":true,"name":"event.block","version":1,"field":"transaction"},` +
		`{"type":"string","optional":false,"field":"op"},` +
		`{"type":"int64","optional":true,"field":"ts_ms"},` +
		`{"type":"int64","optional":true,"field":"ts_us"},` +
		`{"type":"int64","optional":true,"field":"ts_ns"}` +
		`],"optional":false,"name":"`
)

// AppendValue appends a complete message value for an insert ('c') or a
// snapshot read ('r') of tx: the schema wrapper and a payload with before
// null, after, source, transaction null, op and ts_ms/ts_us/ts_ns (from
// eventTsUs), in Debezium's order. The amount is a JSON number written exactly from cents,
// created_at a MicroTimestamp. It allocates only to grow dst.
func AppendValue(dst []byte, tx *txn.Row, src *Source, op byte, eventTsUs int64) []byte {
	dst = append(dst, schemaStart...)
	for _, field := range [...]string{"before", "after"} {
		dst = append(dst, rowFields...)
		dst = appendRecordName(dst, src, ".Value")
		dst = append(dst, `","field":"`...)
		dst = append(dst, field...)
		dst = append(dst, `"},`...)
	}
	dst = append(dst, sourceAndRest...)
	dst = appendRecordName(dst, src, ".Envelope")
	dst = append(dst, `","version":2},"payload":{"before":null,"after":{"id":`...)
	dst = strconv.AppendInt(dst, tx.ID, 10)
	dst = append(dst, `,"user_id":`...)
	dst = strconv.AppendInt(dst, int64(tx.UserID), 10)
	dst = append(dst, `,"amount":`...)
	dst = txn.AppendAmount(dst, tx.AmountCents)
	dst = append(dst, `,"card_type":`...)
	dst = appendString(dst, tx.Card.String())
	dst = append(dst, `,"merchant_id":`...)
	dst = strconv.AppendInt(dst, int64(tx.MerchantID), 10)
	dst = append(dst, `,"created_at":`...)
	dst = strconv.AppendInt(dst, tx.CreatedAt, 10)

	dst = append(dst, `},"source":{"version":`...)
	dst = appendString(dst, src.Version)
	dst = append(dst, `,"connector":`...)
	dst = appendString(dst, src.Connector)
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, src.Name)
	dst = append(dst, `,"ts_ms":`...)
	dst = strconv.AppendInt(dst, floorDiv(src.TsUs, 1000), 10)
	dst = append(dst, `,"snapshot":`...)
	if src.Snapshot == "" {
		dst = append(dst, `"false"`...)
	} else {
		dst = appendString(dst, src.Snapshot)
	}
	dst = append(dst, `,"db":`...)
	dst = appendString(dst, src.DB)
	// Debezium's sequence is [last commit LSN, this change's LSN], the
	// first null within a transaction's first change.
	dst = append(dst, `,"sequence":"[null,\"`...)
	dst = strconv.AppendInt(dst, src.LSN, 10)
	dst = append(dst, `\"]"`...)
	dst = appendTsUsNs(dst, src.TsUs)
	dst = append(dst, `,"schema":`...)
	dst = appendString(dst, src.Schema)
	dst = append(dst, `,"table":`...)
	dst = appendString(dst, src.Table)
	dst = append(dst, `,"txId":`...)
	dst = strconv.AppendInt(dst, src.TxID, 10)
	dst = append(dst, `,"lsn":`...)
	dst = strconv.AppendInt(dst, src.LSN, 10)
	dst = append(dst, `,"xmin":null,"origin":null,"origin_lsn":null},"transaction":null,"op":`...)
	dst = appendString(dst, []byte{op})
	dst = append(dst, `,"ts_ms":`...)
	dst = strconv.AppendInt(dst, floorDiv(eventTsUs, 1000), 10)
	dst = appendTsUsNs(dst, eventTsUs)
	return append(dst, `}}`...)
}

// AppendKey appends the message key for row id with its schema wrapper, as
// Debezium writes it for a table whose primary key is id bigint.
func AppendKey(dst []byte, id int64, src *Source) []byte {
	return appendKey(dst, "int64", "id", id, src)
}

// AppendUserKey appends the key Debezium writes with
// message.key.columns=public.transactions:user_id: keying by user sends all
// of a user's events to one partition, so agents scaled out over several
// partitions keep each user's history in one instance.
func AppendUserKey(dst []byte, userID int32, src *Source) []byte {
	return appendKey(dst, "int32", "user_id", int64(userID), src)
}

func appendKey(dst []byte, typ, field string, v int64, src *Source) []byte {
	dst = append(dst, `{"schema":{"type":"struct","fields":[{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","optional":false,"field":"`...)
	dst = append(dst, field...)
	dst = append(dst, `"}],"optional":false,"name":"`...)
	dst = appendRecordName(dst, src, ".Key")
	dst = append(dst, `"},"payload":{"`...)
	dst = append(dst, field...)
	dst = append(dst, `":`...)
	dst = strconv.AppendInt(dst, v, 10)
	return append(dst, "}}"...)
}

// appendRecordName appends the escaped "<name>.<schema>.<table><suffix>"
// that Debezium gives the key, row and envelope schemas.
func appendRecordName(dst []byte, src *Source, suffix string) []byte {
	dst = appendEscaped(dst, src.Name)
	dst = append(dst, '.')
	dst = appendEscaped(dst, src.Schema)
	dst = append(dst, '.')
	dst = appendEscaped(dst, src.Table)
	return append(dst, suffix...)
}

// appendTsUsNs appends the ts_us and ts_ns fields Debezium 2.6 added. ts_ns
// is written as the µs digits followed by "000", which is exact where
// us*1000 would overflow int64 (after the year 2262).
func appendTsUsNs(dst []byte, us int64) []byte {
	dst = append(dst, `,"ts_us":`...)
	dst = strconv.AppendInt(dst, us, 10)
	dst = append(dst, `,"ts_ns":`...)
	dst = strconv.AppendInt(dst, us, 10)
	if us == 0 {
		return dst
	}
	return append(dst, "000"...)
}

// appendString appends s as a JSON string.
func appendString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// appendEscaped appends s with JSON string escaping, without quotes.
func appendEscaped[S ~string | ~[]byte](dst []byte, s S) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	return append(dst, s[start:]...)
}
