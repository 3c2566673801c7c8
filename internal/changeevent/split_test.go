package changeevent_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/changeevent"
)

// sameVerdict fails unless Decode (with whatever its schema cache holds) and
// a whole parse of value agree on the event or the skip.
func sameVerdict(t *testing.T, d *changeevent.Decoder, value []byte) {
	t.Helper()
	var got, want changeevent.Event
	gotErr := d.Decode(value, &got)
	wantErr := changeevent.NewDecoder().DecodeWhole(value, &want)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || got != want {
		t.Fatalf("Decode and a whole parse disagree on\n%s\nDecode:      %+v, %v\nwhole parse: %+v, %v", value, got, gotErr, want, wantErr)
	}
}

// TestDecodeSplitMatchesWhole decodes sequences of values with one Decoder,
// so that each value meets the schema the previous one left in its cache,
// and checks every verdict against a whole parse.
func TestDecodeSplitMatchesWhole(t *testing.T) {
	t.Parallel()
	precise := wrapped(preciseField(`"2"`), microField, bare(row(b64(235873), created001)))
	double := wrapped(doubleField, microField, bare(row("2358.73", created001)))
	text := wrapped(`{"type":"string","optional":true,"field":"amount"}`, microField, bare(row(amountString, created001)))
	// A "payload" key inside the schema: the first `,"payload":` is not the split.
	nested := strings.Replace(precise, `"connect.decimal.precision":"10"`, `"connect.decimal.precision":"10","x":{"a":1,"payload":2}`, 1)
	schemaOnly, _, _ := strings.Cut(precise, `,"payload":`)
	// deep nests a value n arrays deep inside the payload's after image
	// or the schema: fastjson refuses depth past 300, and both paths must
	// refuse (or accept) the same values.
	deepPayload := func(n int) string {
		return strings.TrimSuffix(precise, "}}") + `,"x":` + strings.Repeat("[", n) + "1" + strings.Repeat("]", n) + "}}"
	}
	deepSchema := func(n int) string {
		return strings.Replace(precise, `"connect.decimal.precision":"10"`, `"connect.decimal.precision":"10","x":`+strings.Repeat("[", n)+"1"+strings.Repeat("]", n), 1)
	}
	var deep []string
	for n := 294; n <= 300; n++ {
		deep = append(deep, precise, deepPayload(n), deepSchema(n), deepSchema(n))
	}
	tests := []struct {
		name   string
		values []string
	}{
		{"nesting depth at fastjson's limit", deep},
		{"same schema repeated", []string{precise, precise, precise}},
		{"schema changes mid-stream", []string{precise, double, text, precise, double}},
		{"payload key nested in the schema", []string{nested, nested, precise, nested}},
		{"null payload after a cached schema", []string{precise, schemaOnly + `,"payload":null}`}},
		{"payload not an object", []string{precise, schemaOnly + `,"payload":"x"}`, schemaOnly + `,"payload":[1]}`}},
		{"key after the payload", []string{precise, strings.TrimSuffix(precise, "}") + `,"extra":1}`}},
		{"duplicate payload key", []string{precise, strings.TrimSuffix(precise, "}") + `,"payload":null}`}},
		{"whitespace", []string{precise, precise + "\n", " " + precise, strings.Replace(precise, `,"payload":`, ` ,"payload":`, 1)}},
		{"truncated", []string{precise, precise[:len(precise)-1], precise[:len(precise)-2] + "}"}},
		{"schema not an object", []string{precise, `{"schema":null,"payload":` + bare(row(amountString, created001)) + `}`}},
		{"schema with a bad scale", []string{precise, wrapped(preciseField(`"x"`), microField, bare(row(b64(235873), created001))), precise}},
		{"bare between wrapped", []string{precise, bare(row(amountString, created001)), precise}},
		{"payload before schema", []string{precise, `{"payload":` + bare(row(b64(235873), created001)) + `,"schema":` + strings.TrimPrefix(schemaOnly, `{"schema":`) + `}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := changeevent.NewDecoder()
			for _, v := range tt.values {
				sameVerdict(t, d, []byte(v))
			}
		})
	}
	t.Run("fixtures in every order", func(t *testing.T) {
		files := readFixtures(t)
		names := slices.Sorted(maps.Keys(files))
		d := changeevent.NewDecoder()
		for range 2 {
			for _, n := range names {
				sameVerdict(t, d, files[n])
			}
			slices.Reverse(names)
		}
	})
}
