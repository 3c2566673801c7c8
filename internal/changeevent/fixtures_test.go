package changeevent_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/changeevent"
	"github.com/cdcbench/cdcbench/internal/txn"
)

// fixtureDir holds real Debezium messages, shared by every decoder in the
// project; its README says what each one decodes to and where it came from.
var fixtureDir = filepath.Join("testdata", "debezium")

// readFixtures returns every *.json file in fixtureDir by name. A missing
// directory fails the test: these fixtures are the decoder's specification.
func readFixtures(tb testing.TB) map[string][]byte {
	tb.Helper()
	entries, err := os.ReadDir(fixtureDir)
	if err != nil {
		tb.Fatalf("debezium fixtures are required at %s: %v", fixtureDir, err)
	}
	files := make(map[string][]byte)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(fixtureDir, e.Name()))
		if err != nil {
			tb.Fatalf("read fixture: %v", err)
		}
		files[e.Name()] = b
	}
	if len(files) == 0 {
		tb.Fatalf("no *.json fixtures in %s", fixtureDir)
	}
	return files
}

// outcome is what decoding one value must give: an event, or a skip with a
// reason and (if not empty) a detail.
type outcome struct {
	ev     *changeevent.Event
	reason changeevent.Reason
	detail string
}

func skipped(r changeevent.Reason, detail string) outcome { return outcome{reason: r, detail: detail} }

// checkOutcome decodes value and compares the result with want.
func checkOutcome(t *testing.T, d *changeevent.Decoder, value []byte, want outcome) {
	t.Helper()
	var ev changeevent.Event
	err := d.Decode(value, &ev)
	if want.ev != nil {
		if err != nil {
			t.Fatalf("Decode: %v, want event", err)
		}
		if ev != *want.ev {
			t.Fatalf("Decode:\n got %+v\nwant %+v", ev, *want.ev)
		}
		return
	}
	var se *changeevent.SkipError
	if !errors.As(err, &se) {
		t.Fatalf("Decode: err %v (event %+v), want skip %v", err, ev, want.reason)
	}
	if se.Reason != want.reason || (want.detail != "" && se.Detail != want.detail) {
		t.Fatalf("Decode: skip %v %q, want %v %q", se.Reason, se.Detail, want.reason, want.detail)
	}
}

// fixture001 is the README's decoding of the seed's own snapshot event.
var fixture001 = changeevent.Event{
	Tx: txn.Row{
		ID:          38352,
		UserID:      1715,
		MerchantID:  40,
		AmountCents: 235873,
		CreatedAt:   1767806283683652,
		Card:        txn.CardMastercard,
	},
	Op:         'r',
	Snapshot:   true,
	SourceTsUs: 1767808116993000,
	EventTsUs:  1767808119035000,
	LSN:        646200496,
	TxID:       4262,
}

// fixture020 is the README's decoding of Debezium 3.6.1's insert into
// cdcbench's table, recorded on the local stack.
var fixture020 = changeevent.Event{
	Tx:         txn.Row{ID: 1002, UserID: 1002, MerchantID: 12, AmountCents: 499999, CreatedAt: 1767806284000000, Card: txn.CardAmex},
	Op:         'c',
	SourceTsUs: 1796164178005126,
	EventTsUs:  1796164178437346,
	LSN:        22915064,
	TxID:       869,
}

func TestDecodeFixtures(t *testing.T) {
	t.Parallel()
	want := map[string]outcome{
		"001-hgb-transactions-snapshot-r-schema.json":                               {ev: &fixture001},
		"003-dbz1.0.2-snapshot-last-r-schema.json":                                  skipped(changeevent.ReasonOtherTable, "public.customers"),
		"003-dbz1.0.2-snapshot-last-r-schema.key.json":                              skipped(changeevent.ReasonNoPayload, ""),
		"004-dbz1.0.2-update-before-null-schema.json":                               skipped(changeevent.ReasonOtherTable, "public.customers"),
		"004-dbz1.0.2-update-before-null-schema.key.json":                           skipped(changeevent.ReasonNoPayload, ""),
		"005-dbz1.0.2-insert-c-schema.json":                                         skipped(changeevent.ReasonOtherTable, "public.customers"),
		"005-dbz1.0.2-insert-c-schema.key.json":                                     skipped(changeevent.ReasonNoPayload, ""),
		"006-dbz1.0.2-delete-d-schema.json":                                         skipped(changeevent.ReasonOtherTable, "public.customers"),
		"006-dbz1.0.2-delete-d-schema.key.json":                                     skipped(changeevent.ReasonNoPayload, ""),
		"007-dbz1.0.2-tombstone.json":                                               skipped(changeevent.ReasonTombstone, ""),
		"007-dbz1.0.2-tombstone.key.json":                                           skipped(changeevent.ReasonNoPayload, ""),
		"010-dbzdocs-txmeta-BEGIN.json":                                             skipped(changeevent.ReasonTxMetadata, ""),
		"011-dbzdocs-txmeta-END.json":                                               skipped(changeevent.ReasonTxMetadata, ""),
		"012-airbyte-issue-dbz2.6.2-message-m-heartbeat-noschema.json":              skipped(changeevent.ReasonMessage, ""),
		"014-dbzexamples-dbz1.4-orderline-create-decimal-precise-noschema.json":     skipped(changeevent.ReasonOtherTable, "inventory.orderline"),
		"014-dbzexamples-dbz1.4-orderline-create-decimal-precise-noschema.key.json": skipped(changeevent.ReasonNoPayload, ""),
		"015-dbzexamples-dbz1.4-orderline-update-decimal-precise-noschema.json":     skipped(changeevent.ReasonOtherTable, "inventory.orderline"),
		"015-dbzexamples-dbz1.4-orderline-update-decimal-precise-noschema.key.json": skipped(changeevent.ReasonNoPayload, ""),
		"016-dbzexamples-dbz1.4-purchaseorder-create-microts-noschema.json":         skipped(changeevent.ReasonOtherTable, "inventory.purchaseorder"),
		"016-dbzexamples-dbz1.4-purchaseorder-create-microts-noschema.key.json":     skipped(changeevent.ReasonNoPayload, ""),
		"019-artie-dbz2.5-delete-d-replica-full-schema.json":                        skipped(changeevent.ReasonOtherTable, "inventory.customers"),
		"020-dbz3.6.1-cdcbench-transactions-insert-c-schema.json":                   {ev: &fixture020},
	}
	files := readFixtures(t)
	for name := range want {
		if _, ok := files[name]; !ok {
			t.Errorf("fixture %s is expected but missing from %s", name, fixtureDir)
		}
	}
	d := changeevent.NewDecoder()
	for name, value := range files {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expectation for new fixture %s: add one from the fixtures README", name)
			}
			checkOutcome(t, d, value, w)
		})
	}
}

// TestDecodeFixturesAsOurTable points the decoder at the fixtures' own
// tables, so that their op, before/after shape and verbatim column names
// reach the later checks.
func TestDecodeFixturesAsOurTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file          string
		schema, table string
		want          outcome
	}{
		// "   id": column names are verbatim, so ours are missing.
		{"003-dbz1.0.2-snapshot-last-r-schema.json", "public", "customers", skipped(changeevent.ReasonMissingField, "after.id")},
		{"004-dbz1.0.2-update-before-null-schema.json", "public", "customers", skipped(changeevent.ReasonUpdate, "")},
		{"005-dbz1.0.2-insert-c-schema.json", "public", "customers", skipped(changeevent.ReasonMissingField, "after.user_id")},
		{"006-dbz1.0.2-delete-d-schema.json", "public", "customers", skipped(changeevent.ReasonDelete, "")},
		{"014-dbzexamples-dbz1.4-orderline-create-decimal-precise-noschema.json", "inventory", "orderline", skipped(changeevent.ReasonMissingField, "after.user_id")},
		{"015-dbzexamples-dbz1.4-orderline-update-decimal-precise-noschema.json", "inventory", "orderline", skipped(changeevent.ReasonUpdate, "")},
		{"016-dbzexamples-dbz1.4-purchaseorder-create-microts-noschema.json", "inventory", "purchaseorder", skipped(changeevent.ReasonMissingField, "after.user_id")},
		{"019-artie-dbz2.5-delete-d-replica-full-schema.json", "inventory", "customers", skipped(changeevent.ReasonDelete, "")},
		{"019-artie-dbz2.5-delete-d-replica-full-schema.json", "", "customers", skipped(changeevent.ReasonDelete, "")},
		{"019-artie-dbz2.5-delete-d-replica-full-schema.json", "public", "customers", skipped(changeevent.ReasonOtherTable, "inventory.customers")},
		{"001-hgb-transactions-snapshot-r-schema.json", "other", "transactions", skipped(changeevent.ReasonOtherTable, "public.transactions")},
	}
	files := readFixtures(t)
	for _, tt := range tests {
		t.Run(tt.schema+"."+tt.table+"/"+tt.file, func(t *testing.T) {
			value, ok := files[tt.file]
			if !ok {
				t.Fatalf("fixture %s missing from %s", tt.file, fixtureDir)
			}
			checkOutcome(t, changeevent.NewDecoder(changeevent.WithTable(tt.schema, tt.table)), value, tt.want)
		})
	}
}
