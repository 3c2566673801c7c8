package changeevent_test

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/changeevent"
	"github.com/cdcbench/cdcbench/internal/txn"
)

// The hand-made events below are built from fixture 001's row and a
// Debezium 2.7 source block, varying one thing at a time.

const testSource = `{"version":"2.7.0.Final","connector":"postgresql","name":"dbserver1","ts_ms":1767808116993,"snapshot":"false","db":"mydb","sequence":"[null,\"646200496\"]","ts_us":1767808116993123,"ts_ns":1767808116993123456,"schema":"public","table":"transactions","txId":4262,"lsn":646200496,"xmin":null}`

// row is fixture 001's after image with the amount and created_at JSON given.
func row(amount, createdAt string) string {
	return `{"id":38352,"user_id":1715,"amount":` + amount + `,"card_type":"MASTERCARD","merchant_id":40,"created_at":` + createdAt + `}`
}

// envelope is a payload without schema wrapper.
func envelope(after, source, op string) string {
	return `{"before":null,"after":` + after + `,"source":` + source + `,"op":` + op + `,"ts_ms":1767808119035,"ts_us":1767808119035456,"ts_ns":1767808119035456789,"transaction":null}`
}

func bare(after string) string { return envelope(after, testSource, `"c"`) }

// wrapped puts payload in a schema wrapper whose after struct declares the
// given amount and created_at field schemas.
func wrapped(amountField, createdField, payload string) string {
	return `{"schema":{"type":"struct","fields":[{"type":"struct","fields":[` +
		`{"type":"int64","optional":false,"field":"id"},{"type":"int32","optional":true,"field":"user_id"},` +
		amountField + `,{"type":"string","optional":true,"field":"card_type"},{"type":"int32","optional":true,"field":"merchant_id"},` +
		createdField + `],"optional":true,"name":"dbserver1.public.transactions.Value","field":"after"}],` +
		`"optional":false,"name":"dbserver1.public.transactions.Envelope"},"payload":` + payload + `}`
}

const (
	microField   = `{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"created_at"}`
	doubleField  = `{"type":"double","optional":false,"field":"amount"}`
	created001   = "1767806283683652"
	amountString = `"2358.73"`
)

func preciseField(scale string) string {
	return `{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":` + scale + `,"connect.decimal.precision":"10"},"field":"amount"}`
}

// b64 encodes v as Kafka Connect's Decimal does: minimal big-endian two's
// complement bytes, base64.
func b64(v int64) string {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(v))
	b := buf[:]
	for len(b) > 1 && ((b[0] == 0 && b[1]&0x80 == 0) || (b[0] == 0xff && b[1]&0x80 != 0)) {
		b = b[1:]
	}
	return `"` + base64.StdEncoding.EncodeToString(b) + `"`
}

// event001 is what the hand-made events decode to, given cents and created_at.
func event001(cents, created int64) *changeevent.Event {
	return &changeevent.Event{
		Tx: txn.Row{
			ID: 38352, UserID: 1715, MerchantID: 40, AmountCents: cents,
			CreatedAt: created, Card: txn.CardMastercard,
		},
		Op:         'c',
		SourceTsUs: 1767808116993123,
		EventTsUs:  1767808119035456,
		LSN:        646200496,
		TxID:       4262,
	}
}

type decodeCase struct {
	name  string
	value string
	want  outcome
}

func runCases(t *testing.T, tests []decodeCase) {
	t.Helper()
	d := changeevent.NewDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkOutcome(t, d, []byte(tt.value), tt.want)
		})
	}
}

func TestDecodeAmount(t *testing.T) {
	t.Parallel()
	const us = 1767806283683652
	ok := func(cents int64) outcome { return outcome{ev: event001(cents, us)} }
	bad := skipped(changeevent.ReasonBadValue, "after.amount")
	precise := func(scale string, v string) string {
		return wrapped(preciseField(scale), microField, bare(row(v, created001)))
	}
	runCases(t, []decodeCase{
		{"double bare", bare(row("2358.73", created001)), ok(235873)},
		{"double schema", wrapped(doubleField, microField, bare(row("2358.73", created001))), ok(235873)},
		{"double one decimal", bare(row("0.1", created001)), ok(10)},
		{"double exponent", bare(row("1.5e2", created001)), ok(15000)},
		{"double max numeric(10,2)", bare(row("99999999.99", created001)), ok(9999999999)},
		{"double zero", bare(row("0", created001)), ok(0)},
		{"double too large", bare(row("100000000", created001)), bad},
		{"double negative", bare(row("-1.5", created001)), bad},
		{"double NaN", bare(row("NaN", created001)), bad},
		{"double huge", bare(row("1e400", created001)), bad},
		{"string bare", bare(row(amountString, created001)), ok(235873)},
		{"string schema", wrapped(`{"type":"string","optional":true,"field":"amount"}`, microField, bare(row(amountString, created001))), ok(235873)},
		{"string schema rejects base64", wrapped(`{"type":"string","optional":true,"field":"amount"}`, microField, bare(row(`"A5lh"`, created001))), bad},
		{"string three decimals", bare(row(`"2358.735"`, created001)), bad},
		{"string negative", bare(row(`"-1.00"`, created001)), bad},
		{"precise fixture 001 scale 2", precise(`"2"`, `"A5lh"`), ok(235873)},
		{"precise scale 3 exact", precise(`"3"`, b64(2358730)), ok(235873)},
		{"precise scale 3 inexact", precise(`"3"`, b64(2358731)), bad},
		{"precise scale 0", precise(`"0"`, b64(2358)), ok(235800)},
		{"precise scale 20 zero", precise(`"20"`, b64(0)), ok(0)},
		{"precise scale 20 inexact", precise(`"20"`, b64(1<<62)), bad},
		{"precise scale -5 overflow", precise(`"-5"`, b64(1<<40)), bad},
		{"precise negative", precise(`"2"`, b64(-235873)), bad},
		{"precise 9 bytes", precise(`"2"`, `"AQAAAAAAAAAA"`), bad},
		{"precise empty", precise(`"2"`, `""`), bad},
		{"precise not base64", precise(`"2"`, `"!!!!"`), bad},
		{"precise missing scale", wrapped(`{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","field":"amount"}`, microField, bare(row(`"A5lh"`, created001))),
			skipped(changeevent.ReasonBadValue, "schema after.amount scale")},
		{"precise rejects number", precise(`"2"`, "2358.73"), bad},
		{"precise bare README D54=", bare(row(`"D54="`, created001)), ok(3998)},
		{"precise bare README C7c=", bare(row(`"C7c="`, created001)), ok(2999)},
		{"precise bare fixture 001", bare(row(`"A5lh"`, created001)), ok(235873)},
		{"precise bare negative", bare(row(b64(-1), created001)), bad},
		{"variable scale", bare(row(`{"scale":2,"value":"A5lh"}`, created001)), ok(235873)},
		{"variable scale 4 exact", bare(row(`{"scale":4,"value":`+b64(23587300)+`}`, created001)), ok(235873)},
		{"variable scale 4 inexact", bare(row(`{"scale":4,"value":`+b64(23587301)+`}`, created001)), bad},
		{"variable scale schema", wrapped(`{"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}],"optional":true,"name":"io.debezium.data.VariableScaleDecimal","version":1,"field":"amount"}`,
			microField, bare(row(`{"scale":1,"value":`+b64(23587)+`}`, created001))), ok(235870)},
		{"variable scale missing scale", bare(row(`{"value":"A5lh"}`, created001)), bad},
		{"variable scale string scale", bare(row(`{"scale":"2","value":"A5lh"}`, created001)), bad},
		{"double schema rejects struct", wrapped(doubleField, microField, bare(row(`{"scale":2,"value":"A5lh"}`, created001))), bad},
		{"null", bare(row("null", created001)), skipped(changeevent.ReasonMissingField, "after.amount")},
		{"array", bare(row("[1]", created001)), bad},
		{"absent", bare(`{"id":38352,"user_id":1715,"card_type":"MASTERCARD","merchant_id":40,"created_at":1}`), skipped(changeevent.ReasonMissingField, "after.amount")},
	})
}

func TestDecodeCreatedAt(t *testing.T) {
	t.Parallel()
	const us = 1767806283683652 // 2026-01-07 17:18:03.683652 UTC
	ok := func(created int64) outcome { return outcome{ev: event001(235873, created)} }
	bad := skipped(changeevent.ReasonBadValue, "after.created_at")
	field := func(name string) string {
		return `{"type":"int64","optional":true,"name":"` + name + `","version":1,"field":"created_at"}`
	}
	zoned := `{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"created_at"}`
	schema := func(f, v string) string { return wrapped(doubleField, f, bare(row("2358.73", v))) }
	runCases(t, []decodeCase{
		{"micro bare", bare(row("2358.73", created001)), ok(us)},
		{"micro schema", schema(microField, created001), ok(us)},
		{"micro README 016", bare(row("2358.73", "1548936781000000")),
			ok(time.Date(2019, 1, 31, 12, 13, 1, 0, time.UTC).UnixMicro())},
		{"micro before 1970", bare(row("2358.73", "-1")), ok(-1)},
		{"milli", schema(field("io.debezium.time.Timestamp"), "1767806283683"), ok(1767806283683000)},
		{"milli connect", schema(field("org.apache.kafka.connect.data.Timestamp"), "1767806283683"), ok(1767806283683000)},
		{"milli overflow", schema(field("io.debezium.time.Timestamp"), "9223372036854776"), bad},
		{"nano", schema(field("io.debezium.time.NanoTimestamp"), "1767806283683652999"), ok(us)},
		{"nano before 1970 floors", schema(field("io.debezium.time.NanoTimestamp"), "-1"), ok(-1)},
		{"zoned schema", schema(zoned, `"2026-01-07T17:18:03.683652Z"`), ok(us)},
		{"zoned bare", bare(row("2358.73", `"2026-01-07T17:18:03.683652Z"`)), ok(us)},
		{"zoned offset", bare(row("2358.73", `"2026-01-07T18:48:03.683652+01:30"`)), ok(us)},
		{"zoned offset compact", bare(row("2358.73", `"2026-01-07T16:18:03.683652-0100"`)), ok(us)},
		{"zoned offset hours", bare(row("2358.73", `"2026-01-07T19:18:03.683652+02"`)), ok(us)},
		{"zoned no fraction", bare(row("2358.73", `"2026-01-07T17:18:03Z"`)), ok(1767806283000000)},
		{"zoned short fraction", bare(row("2358.73", `"2026-01-07T17:18:03.5Z"`)), ok(1767806283500000)},
		{"zoned nanos truncate", bare(row("2358.73", `"2026-01-07T17:18:03.683652987Z"`)), ok(us)},
		{"postgres text", bare(row("2358.73", `"2026-01-07 17:18:03.683652"`)), ok(us)},
		{"postgres text +00", bare(row("2358.73", `"2026-01-07 17:18:03.683652+00"`)), ok(us)},
		{"zoned empty fraction", bare(row("2358.73", `"2026-01-07T17:18:03.Z"`)), bad},
		{"zoned 10 fraction digits", bare(row("2358.73", `"2026-01-07T17:18:03.6836529871Z"`)), bad},
		{"zoned bad month", bare(row("2358.73", `"2026-13-07T17:18:03Z"`)), bad},
		{"zoned bad offset", bare(row("2358.73", `"2026-01-07T17:18:03+1"`)), bad},
		{"zoned trailing colon", bare(row("2358.73", `"2026-01-07T17:18:03+01:"`)), bad},
		{"zoned trailing junk", bare(row("2358.73", `"2026-01-07T17:18:03Zjunk"`)), bad},
		{"text", bare(row("2358.73", `"yesterday"`)), bad},
		{"micro schema rejects string", schema(microField, `"2026-01-07T17:18:03Z"`), bad},
		{"zoned schema rejects number", schema(zoned, created001), bad},
		{"fractional number", bare(row("2358.73", "1767806283683652.5")), bad},
		{"bool", bare(row("2358.73", "true")), bad},
		{"null", bare(row("2358.73", "null")), skipped(changeevent.ReasonMissingField, "after.created_at")},
	})
}

func TestDecodeSnapshotAndTimes(t *testing.T) {
	t.Parallel()
	src := func(fields string) string {
		return `{"version":"x","connector":"postgresql","name":"dbserver1","db":"mydb","schema":"public","table":"transactions"` + fields + `}`
	}
	after := row("2358.73", created001)
	ev := func(snapshot bool, sourceUs, eventUs int64) outcome {
		e := event001(235873, 1767806283683652)
		e.Op, e.Snapshot, e.SourceTsUs, e.EventTsUs, e.LSN, e.TxID = 'r', snapshot, sourceUs, eventUs, 0, 0
		return outcome{ev: e}
	}
	const eventUs = 1767808119035456
	var tests []decodeCase
	for _, s := range []struct {
		json string
		want bool
	}{
		{`true`, true}, {`false`, false}, {`"true"`, true}, {`"false"`, false}, {`"first"`, true},
		{`"last"`, true}, {`"last_in_data_collection"`, true}, {`"incremental"`, true}, {`null`, false},
	} {
		tests = append(tests, decodeCase{"snapshot " + s.json, envelope(after, src(`,"snapshot":`+s.json), `"r"`), ev(s.want, 0, eventUs)})
	}
	tests = append(tests,
		decodeCase{"snapshot absent", envelope(after, src(``), `"r"`), ev(false, 0, eventUs)},
		decodeCase{"source ts_us wins", envelope(after, src(`,"ts_ms":1,"ts_us":1720670367584260,"ts_ns":3`), `"r"`), ev(false, 1720670367584260, eventUs)},
		// Fixture 012's ts_ns exceeds 2^53: read as float64 it would lose its last digits.
		decodeCase{"source ts_ns beyond 2^53", envelope(after, src(`,"ts_ms":1,"ts_ns":1720670367584260999`), `"r"`), ev(false, 1720670367584260, eventUs)},
		decodeCase{"source ts_ns before 1970 floors", envelope(after, src(`,"ts_ns":-1`), `"r"`), ev(false, -1, eventUs)},
		decodeCase{"source ts_ms", envelope(after, src(`,"ts_ms":1720670367584`), `"r"`), ev(false, 1720670367584000, eventUs)},
		decodeCase{"source ts_us null falls back", envelope(after, src(`,"ts_ms":1720670367584,"ts_us":null`), `"r"`), ev(false, 1720670367584000, eventUs)},
		decodeCase{"source ts_us string", envelope(after, src(`,"ts_us":"1"`), `"r"`), skipped(changeevent.ReasonBadValue, "source.ts_us")},
		decodeCase{"source ts_ns float", envelope(after, src(`,"ts_ns":1.7e18`), `"r"`), skipped(changeevent.ReasonBadValue, "source.ts_ns")},
		decodeCase{"source ts_ms overflow", envelope(after, src(`,"ts_ms":9223372036854776`), `"r"`), skipped(changeevent.ReasonBadValue, "source.ts_ms")},
		decodeCase{"lsn string", envelope(after, src(`,"lsn":"1"`), `"r"`), skipped(changeevent.ReasonBadValue, "source.lsn")},
		decodeCase{"txId too big", envelope(after, src(`,"txId":99999999999999999999`), `"r"`), skipped(changeevent.ReasonBadValue, "source.txId")},
		decodeCase{"lsn and txId", envelope(after, src(`,"lsn":7360842578440,"txId":3570146,"xmin":null`), `"r"`),
			func() outcome { o := ev(false, 0, eventUs); o.ev.LSN, o.ev.TxID = 7360842578440, 3570146; return o }()},
		decodeCase{"event ts_ns only", `{"after":` + after + `,"source":` + src(``) + `,"op":"r","ts_ns":1767808119035456789}`, ev(false, 0, eventUs)},
		decodeCase{"event ts_ms only", `{"after":` + after + `,"source":` + src(``) + `,"op":"r","ts_ms":1767808119035}`, ev(false, 0, 1767808119035000)},
		decodeCase{"event no time", `{"after":` + after + `,"source":` + src(``) + `,"op":"r"}`, ev(false, 0, 0)},
		decodeCase{"event ts_us bool", `{"after":` + after + `,"source":` + src(``) + `,"op":"r","ts_us":true}`, skipped(changeevent.ReasonBadValue, "ts_us")},
	)
	runCases(t, tests)
}

func TestDecodeEnvelope(t *testing.T) {
	t.Parallel()
	ok := outcome{ev: event001(235873, 1767806283683652)}
	otherSource := strings.Replace(testSource, `"table":"transactions"`, `"table":"accounts"`, 1)
	noSchemaSource := strings.Replace(testSource, `"schema":"public",`, ``, 1)
	runCases(t, []decodeCase{
		{"extra column", bare(`{"id":38352,"user_id":1715,"amount":2358.73,"card_type":"MASTERCARD","merchant_id":40,"created_at":1767806283683652,"channel":"web"}`), ok},
		{"columns reordered", bare(`{"created_at":1767806283683652,"merchant_id":40,"card_type":"MASTERCARD","amount":2358.73,"user_id":1715,"id":38352}`), ok},
		{"whitespace", "\n  " + strings.ReplaceAll(bare(row("2358.73", created001)), ",", " ,\n ") + "\n", ok},
		{"escaped card type", bare(strings.Replace(row("2358.73", created001), `"MASTERCARD"`, `"MASTER\u0043ARD"`, 1)), ok},
		{"unknown card", bare(strings.Replace(row("2358.73", created001), "MASTERCARD", "DISCOVER", 1)),
			func() outcome {
				e := event001(235873, 1767806283683652)
				e.Tx.Card = txn.CardOther
				return outcome{ev: e}
			}()},
		{"schema null", `{"schema":null,"payload":` + bare(row("2358.73", created001)) + `}`, ok},
		{"source without schema", envelope(row("2358.73", created001), noSchemaSource, `"c"`), ok},
		{"null after", bare("null"), skipped(changeevent.ReasonMissingField, "after")},
		{"no after", `{"source":` + testSource + `,"op":"c"}`, skipped(changeevent.ReasonMissingField, "after")},
		{"after string", bare(`"row"`), skipped(changeevent.ReasonBadValue, "after")},
		{"no source", `{"after":` + row("2358.73", created001) + `,"op":"c"}`, skipped(changeevent.ReasonMissingField, "source")},
		{"source array", envelope(row("2358.73", created001), `[]`, `"c"`), skipped(changeevent.ReasonBadValue, "source")},
		{"source table null", envelope(row("2358.73", created001), `{"table":null}`, `"c"`), skipped(changeevent.ReasonMissingField, "source.table")},
		{"source table number", envelope(row("2358.73", created001), `{"table":1}`, `"c"`), skipped(changeevent.ReasonBadValue, "source.table")},
		{"source schema number", envelope(row("2358.73", created001), `{"schema":1,"table":"transactions"}`, `"c"`), skipped(changeevent.ReasonBadValue, "source.schema")},
		{"other table", envelope(row("2358.73", created001), otherSource, `"c"`), skipped(changeevent.ReasonOtherTable, "public.accounts")},
		{"other table without schema", envelope(row("2358.73", created001), `{"table":"accounts"}`, `"c"`), skipped(changeevent.ReasonOtherTable, "accounts")},
		{"update", envelope(row("2358.73", created001), testSource, `"u"`), skipped(changeevent.ReasonUpdate, "")},
		{"delete", envelope("null", testSource, `"d"`), skipped(changeevent.ReasonDelete, "")},
		{"truncate", envelope("null", testSource, `"t"`), skipped(changeevent.ReasonTruncate, "")},
		{"message", envelope("null", `{"table":""}`, `"m"`), skipped(changeevent.ReasonMessage, "")},
		{"unknown op", envelope(row("2358.73", created001), testSource, `"x"`), skipped(changeevent.ReasonUnknownOp, `op x`)},
		{"long op", envelope(row("2358.73", created001), testSource, `"cc"`), skipped(changeevent.ReasonUnknownOp, `op "cc"`)},
		{"numeric op", envelope(row("2358.73", created001), testSource, `99`), skipped(changeevent.ReasonUnknownOp, `op 99`)},
		{"tx metadata in wrapper", `{"schema":{},"payload":{"status":"BEGIN","id":"571:53195829","ts_ms":1486500577125}}`, skipped(changeevent.ReasonTxMetadata, "")},
		{"empty", ``, skipped(changeevent.ReasonTombstone, "")},
		{"null", `null`, skipped(changeevent.ReasonTombstone, "")},
		{"null with spaces", " null\n", skipped(changeevent.ReasonTombstone, "")},
		{"wrapped null payload", `{"schema":null,"payload":null}`, skipped(changeevent.ReasonTombstone, "payload")},
		{"wrapped string payload", `{"schema":null,"payload":"x"}`, skipped(changeevent.ReasonNoPayload, "")},
		{"number", `42`, skipped(changeevent.ReasonNoPayload, "")},
		{"array", `[1,2]`, skipped(changeevent.ReasonNoPayload, "")},
		{"empty object", `{}`, skipped(changeevent.ReasonNoPayload, "")},
		{"payload without schema", `{"payload":` + bare(row("2358.73", created001)) + `}`, skipped(changeevent.ReasonNoPayload, "")},
		{"not json", `{"op":`, skipped(changeevent.ReasonNotJSON, "")},
		{"garbage", "\x00\xff", skipped(changeevent.ReasonNotJSON, "")},
		{"too deep", strings.Repeat("[", 100000), skipped(changeevent.ReasonNotJSON, "")},
		{"trailing data", bare(row("2358.73", created001)) + "{}", skipped(changeevent.ReasonNotJSON, "")},
	})
}

func TestDecodeColumns(t *testing.T) {
	t.Parallel()
	col := func(name, value string) string {
		r := row("2358.73", created001)
		i := strings.Index(r, `"`+name+`":`)
		j := i + len(name) + 3
		k := j + strings.IndexAny(r[j:], ",}")
		return bare(r[:j] + value + r[k:])
	}
	ok := func(f func(*txn.Row)) outcome {
		e := event001(235873, 1767806283683652)
		f(&e.Tx)
		return outcome{ev: e}
	}
	bad := func(c string) outcome { return skipped(changeevent.ReasonBadValue, "after."+c) }
	missing := func(c string) outcome { return skipped(changeevent.ReasonMissingField, "after."+c) }
	runCases(t, []decodeCase{
		{"id max", col("id", "9223372036854775807"), ok(func(tx *txn.Row) { tx.ID = 1<<63 - 1 })},
		{"id zero", col("id", "0"), bad("id")},
		{"id negative", col("id", "-1"), bad("id")},
		{"id beyond int64", col("id", "9223372036854775808"), bad("id")},
		{"id fraction", col("id", "1.5"), bad("id")},
		{"id huge", col("id", "1e400"), bad("id")},
		{"id string", col("id", `"38352"`), bad("id")},
		{"id null", col("id", "null"), missing("id")},
		{"user_id min int32", col("user_id", "-2147483648"), ok(func(tx *txn.Row) { tx.UserID = -1 << 31 })},
		{"user_id max int32", col("user_id", "2147483647"), ok(func(tx *txn.Row) { tx.UserID = 1<<31 - 1 })},
		{"user_id beyond int32", col("user_id", "2147483648"), bad("user_id")},
		{"user_id below int32", col("user_id", "-2147483649"), bad("user_id")},
		{"user_id null", col("user_id", "null"), missing("user_id")},
		{"merchant_id beyond int32", col("merchant_id", "3000000000"), bad("merchant_id")},
		{"merchant_id object", col("merchant_id", "{}"), bad("merchant_id")},
		{"merchant_id null", col("merchant_id", "null"), missing("merchant_id")},
		{"card_type visa", col("card_type", `"VISA"`), ok(func(tx *txn.Row) { tx.Card = txn.CardVisa })},
		{"card_type number", col("card_type", "5"), bad("card_type")},
		{"card_type null", col("card_type", "null"), missing("card_type")},
	})
}

// TestDecodeTruncated cuts a valid event at every byte: no prefix may decode
// or panic.
func TestDecodeTruncated(t *testing.T) {
	t.Parallel()
	value := []byte(wrapped(preciseField(`"2"`), microField, bare(row(`"A5lh"`, created001))))
	d := changeevent.NewDecoder()
	var ev changeevent.Event
	if err := d.Decode(value, &ev); err != nil {
		t.Fatalf("full value: %v", err)
	}
	for n := 1; n < len(value); n++ {
		err := d.Decode(value[:n], &ev)
		var se *changeevent.SkipError
		if !errors.As(err, &se) || se.Reason != changeevent.ReasonNotJSON {
			t.Fatalf("prefix of %d bytes: err %v, want not_json", n, err)
		}
	}
}

// TestDecodeSkipLeavesEvent checks that a skip does not clobber the caller's
// previous event, and that success overwrites every field.
func TestDecodeSkipLeavesEvent(t *testing.T) {
	t.Parallel()
	d := changeevent.NewDecoder()
	var ev changeevent.Event
	if err := d.Decode([]byte(bare(row("2358.73", created001))), &ev); err != nil {
		t.Fatal(err)
	}
	before := ev
	if err := d.Decode([]byte(bare("null")), &ev); err == nil {
		t.Fatal("null after decoded")
	}
	if ev != before {
		t.Fatalf("skip changed event: %+v -> %+v", before, ev)
	}
	ev = changeevent.Event{Tx: txn.Row{ID: 1, UserID: 2, MerchantID: 3, AmountCents: 4, CreatedAt: 5, Card: txn.CardAmex}, Op: 'x', Snapshot: true, SourceTsUs: 6, EventTsUs: 7, LSN: 8, TxID: 9}
	value := `{"after":` + row("2358.73", created001) + `,"source":{"table":"transactions"},"op":"c"}`
	if err := d.Decode([]byte(value), &ev); err != nil {
		t.Fatal(err)
	}
	want := event001(235873, 1767806283683652)
	want.SourceTsUs, want.EventTsUs, want.LSN, want.TxID = 0, 0, 0, 0
	if ev != *want {
		t.Fatalf("Decode did not overwrite every field:\n got %+v\nwant %+v", ev, *want)
	}
}

func TestSkipError(t *testing.T) {
	t.Parallel()
	d := changeevent.NewDecoder()
	var ev changeevent.Event
	err := d.Decode([]byte(bare(row("2358.73", "null"))), &ev)
	if got, want := err.Error(), "changeevent: skip: missing_field: after.created_at"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	err = d.Decode(nil, &ev)
	if got, want := err.Error(), "changeevent: skip: tombstone"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestReasonString(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for r := range changeevent.NumReasons {
		s := r.String()
		if s == "" || strings.ToLower(s) != s || strings.ContainsAny(s, " -") || strings.HasPrefix(s, "reason(") {
			t.Errorf("Reason(%d).String() = %q, want a snake_case name", r, s)
		}
		if seen[s] {
			t.Errorf("Reason(%d).String() = %q twice", r, s)
		}
		seen[s] = true
	}
	if got := changeevent.ReasonOtherTable.String(); got != "other_table" {
		t.Errorf("ReasonOtherTable = %q", got)
	}
	if got, want := changeevent.Reason(200).String(), "reason("+strconv.Itoa(200)+")"; got != want {
		t.Errorf("Reason(200) = %q, want %q", got, want)
	}
}
