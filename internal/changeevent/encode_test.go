package changeevent_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/changeevent"
	"github.com/cdcbench/cdcbench/internal/txn"
)

// relaySource is the source block the built-in relay writes.
func relaySource() changeevent.Source {
	return changeevent.Source{
		Version:   "cdcbench-relay/0.1",
		Connector: "postgresql",
		Name:      "dbserver1",
		DB:        "cdcbench",
		Schema:    "public",
		Table:     "transactions",
		Snapshot:  "false",
		TsUs:      1767808116993123,
		TxID:      4262,
		LSN:       646200496,
	}
}

var tx001 = txn.Row{ID: 38352, UserID: 1715, MerchantID: 40, AmountCents: 235873, CreatedAt: 1767806283683652, Card: txn.CardMastercard}

func TestAppendKey(t *testing.T) {
	t.Parallel()
	src := relaySource()
	got := string(changeevent.AppendKey([]byte("prefix:"), 38352, &src))
	want := `prefix:{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false,"name":"dbserver1.public.transactions.Key"},"payload":{"id":38352}}`
	if got != want {
		t.Fatalf("AppendKey:\n got %s\nwant %s", got, want)
	}
	got = string(changeevent.AppendUserKey(nil, 1715, &src))
	want = `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"user_id"}],"optional":false,"name":"dbserver1.public.transactions.Key"},"payload":{"user_id":1715}}`
	if got != want {
		t.Fatalf("AppendUserKey:\n got %s\nwant %s", got, want)
	}
}

func TestAppendValueRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		tx       txn.Row
		op       byte
		snapshot string
		tsUs     int64
		wantSnap bool
	}{
		{"fixture 001 row", tx001, 'c', "false", 1767808116993123, false},
		{"snapshot read", tx001, 'r', "true", 1767808116993123, true},
		{"snapshot last", tx001, 'r', "last", 1767808116993123, true},
		{"empty snapshot is false", tx001, 'c', "", 1767808116993123, false},
		{"max amount", txn.Row{ID: 1<<63 - 1, UserID: math.MaxInt32, MerchantID: math.MinInt32, AmountCents: 9999999999, CreatedAt: 1, Card: txn.CardVisa}, 'c', "false", 1, false},
		{"zero amount and times", txn.Row{ID: 1, AmountCents: 0, Card: txn.CardAmex}, 'c', "false", 0, false},
		{"odd cents before 1970", txn.Row{ID: 7, UserID: -5, AmountCents: 1, CreatedAt: -1234567, Card: txn.CardOther}, 'c', "false", -1001, false},
	}
	d := changeevent.NewDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := relaySource()
			src.Snapshot, src.TsUs = tt.snapshot, tt.tsUs
			const eventTsUs = 1767808119035456
			value := changeevent.AppendValue(nil, &tt.tx, &src, tt.op, eventTsUs)
			if !json.Valid(value) {
				t.Fatalf("AppendValue wrote invalid JSON: %s", value)
			}
			var ev changeevent.Event
			if err := d.Decode(value, &ev); err != nil {
				t.Fatalf("Decode(AppendValue): %v\n%s", err, value)
			}
			want := changeevent.Event{Tx: tt.tx, Op: tt.op, Snapshot: tt.wantSnap, SourceTsUs: tt.tsUs, EventTsUs: eventTsUs, LSN: src.LSN, TxID: src.TxID}
			if ev != want {
				t.Fatalf("round trip:\n got %+v\nwant %+v", ev, want)
			}
			checkSchema(t, value)
			checkTimestamps(t, value, tt.tsUs, eventTsUs)
		})
	}
}

// checkTimestamps checks that ts_ms, ts_us and ts_ns of the source block and
// of the envelope all say the same instant.
func checkTimestamps(t *testing.T, value []byte, sourceUs, eventUs int64) {
	t.Helper()
	var env struct {
		Payload struct {
			Ms     int64 `json:"ts_ms"`
			Us     int64 `json:"ts_us"`
			Ns     int64 `json:"ts_ns"`
			Source struct {
				Ms int64 `json:"ts_ms"`
				Us int64 `json:"ts_us"`
				Ns int64 `json:"ts_ns"`
			} `json:"source"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(value, &env); err != nil {
		t.Fatal(err)
	}
	p := env.Payload
	floor := func(us int64) int64 { return int64(math.Floor(float64(us) / 1000)) }
	if p.Source.Ms != floor(sourceUs) || p.Source.Us != sourceUs || p.Source.Ns != sourceUs*1000 {
		t.Errorf("source ts_ms/us/ns = %d/%d/%d, want µs %d", p.Source.Ms, p.Source.Us, p.Source.Ns, sourceUs)
	}
	if p.Ms != floor(eventUs) || p.Us != eventUs || p.Ns != eventUs*1000 {
		t.Errorf("envelope ts_ms/us/ns = %d/%d/%d, want µs %d", p.Ms, p.Us, p.Ns, eventUs)
	}
}

// field is one Kafka Connect schema field as the JsonConverter writes it.
type field struct {
	Type       string            `json:"type"`
	Optional   bool              `json:"optional"`
	Name       string            `json:"name,omitempty"`
	Version    int               `json:"version,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"`
	Default    any               `json:"default,omitempty"`
	Field      string            `json:"field,omitempty"`
	Fields     []field           `json:"fields,omitempty"`
}

type wrapper struct {
	Schema  field           `json:"schema"`
	Payload json.RawMessage `json:"payload"`
}

// checkSchema checks that the schema describes the payload: the same fields
// in the same order, values of the declared types, nulls only where optional.
func checkSchema(t *testing.T, value []byte) {
	t.Helper()
	var w wrapper
	if err := json.Unmarshal(value, &w); err != nil {
		t.Fatal(err)
	}
	if err := matches(w.Schema, w.Payload, "payload"); err != nil {
		t.Fatal(err)
	}
}

func matches(s field, raw json.RawMessage, path string) error {
	if string(raw) == "null" {
		if !s.Optional {
			return fmt.Errorf("%s: null but not optional", path)
		}
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	switch s.Type {
	case "struct":
		keys, err := objectKeys(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		var names []string
		for _, f := range s.Fields {
			names = append(names, f.Field)
		}
		if !slices.Equal(keys, names) {
			return fmt.Errorf("%s: payload fields %v, schema fields %v", path, keys, names)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return err
		}
		for _, f := range s.Fields {
			if err := matches(f, obj[f.Field], path+"."+f.Field); err != nil {
				return err
			}
		}
	case "int32", "int64":
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: %s is not a number", path, raw)
		}
		bits := 64
		if s.Type == "int32" {
			bits = 32
		}
		i, err := n.Int64()
		if err != nil || (bits == 32 && i != int64(int32(i))) {
			return fmt.Errorf("%s: %s is not an %s", path, raw, s.Type)
		}
	case "double":
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("%s: %s is not a number", path, raw)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: %s is not a string", path, raw)
		}
		if allowed := s.Parameters["allowed"]; s.Name == "io.debezium.data.Enum" && !slices.Contains(strings.Split(allowed, ","), str) {
			return fmt.Errorf("%s: %q not in enum %q", path, str, allowed)
		}
	default:
		return fmt.Errorf("%s: schema type %q not expected in our events", path, s.Type)
	}
	return nil
}

// TestAppendValueLikeDebezium holds the relay's envelope to fixture 020,
// the event Debezium 3.6.1 wrote for the same row of cdcbench's table: the
// schema must be the same to the byte (field order, optionality, names,
// defaults), and the payload the same but for what is the producer's own:
// the version string and the times and WAL positions of this event.
func TestAppendValueLikeDebezium(t *testing.T) {
	t.Parallel()
	files := readFixtures(t)
	raw := files["020-dbz3.6.1-cdcbench-transactions-insert-c-schema.json"]
	var dbz map[string]any
	if err := json.Unmarshal(raw, &dbz); err != nil {
		t.Fatalf("fixture 020: %v", err)
	}
	row := txn.Row{ID: 1002, UserID: 1002, AmountCents: 499999, Card: txn.CardAmex, MerchantID: 12, CreatedAt: 1767806284000000}
	src := changeevent.Source{Version: "3.6.1.Final", Connector: "postgresql", Name: "dbserver1", DB: "postgres",
		Schema: "public", Table: "transactions", TsUs: 1796164178005126, TxID: 869, LSN: 22915064}
	var ours map[string]any
	out := changeevent.AppendValue(nil, &row, &src, 'c', 1796164178437346)
	if err := json.Unmarshal(out, &ours); err != nil {
		t.Fatal(err)
	}
	ourSchema, _ := json.Marshal(ours["schema"])
	dbzSchema, _ := json.Marshal(dbz["schema"])
	if string(ourSchema) != string(dbzSchema) {
		t.Errorf("schema:\n ours     %s\n Debezium %s", ourSchema, dbzSchema)
	}
	// ts_ns: Debezium's has nanoseconds the relay cannot know.
	payload := func(m map[string]any) map[string]any {
		p := m["payload"].(map[string]any)
		delete(p, "ts_ns")
		delete(p["source"].(map[string]any), "ts_ns")
		return p
	}
	if o, d := payload(ours), payload(dbz); !reflect.DeepEqual(o, d) {
		ob, _ := json.Marshal(o)
		db, _ := json.Marshal(d)
		t.Errorf("payload:\n ours     %s\n Debezium %s", ob, db)
	}
}

// TestAppendEscapes checks that names needing JSON escapes stay valid JSON
// and survive a round trip.
func TestAppendEscapes(t *testing.T) {
	t.Parallel()
	src := relaySource()
	src.Name, src.DB, src.Version = "db\"server\\1", "my\ndb", "v\x01"
	src.Schema, src.Table = "sch\"ema", "trans\tactions"
	value := changeevent.AppendValue(nil, &tx001, &src, 'c', 1)
	key := changeevent.AppendKey(nil, 1, &src)
	for _, b := range [][]byte{value, key} {
		if !json.Valid(b) {
			t.Fatalf("invalid JSON: %s", b)
		}
	}
	var k wrapper
	if err := json.Unmarshal(key, &k); err != nil {
		t.Fatal(err)
	}
	if want := src.Name + "." + src.Schema + "." + src.Table + ".Key"; k.Schema.Name != want {
		t.Errorf("key schema name %q, want %q", k.Schema.Name, want)
	}
	var ev changeevent.Event
	if err := changeevent.NewDecoder(changeevent.WithTable(src.Schema, src.Table)).Decode(value, &ev); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if ev.Tx != tx001 {
		t.Errorf("Tx %+v, want %+v", ev.Tx, tx001)
	}
}

// objectKeys returns the keys of a JSON object in the order they appear.
func objectKeys(raw []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not an object: %s", raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
