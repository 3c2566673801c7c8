package changeevent_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/cdcbench/cdcbench/internal/changeevent"
)

// FuzzDecode feeds arbitrary values to Decode, after warm has filled its
// schema cache (a pair, so that a failure replays from its corpus entry
// alone). Decode must never panic, must agree with a whole parse whatever
// its cache holds, must report every failure as a *SkipError, and whatever
// it accepts must survive a round trip through AppendValue unchanged.
func FuzzDecode(f *testing.F) {
	var seeds [][]byte
	for _, value := range readFixtures(f) {
		seeds = append(seeds, value)
	}
	src := relaySource()
	value := changeevent.AppendValue(nil, &tx001, &src, 'c', 1767808119035456)
	var w struct{ Payload json.RawMessage }
	if err := json.Unmarshal(value, &w); err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, value, []byte(w.Payload),
		[]byte(wrapped(preciseField(`"3"`), microField, bare(row(b64(2358730), `"2026-01-07T17:18:03.683652+01:00"`)))),
		[]byte(bare(row(`{"scale":2,"value":"A5lh"}`, created001))))
	for _, s := range seeds {
		f.Add(value, s)
		f.Add(s, s)
	}

	f.Fuzz(func(t *testing.T, warm, value []byte) {
		d := changeevent.NewDecoder()
		var ev changeevent.Event
		_ = d.Decode(warm, &ev)
		sameVerdict(t, d, value)
		err := d.Decode(value, &ev)
		if err != nil {
			var se *changeevent.SkipError
			if !errors.As(err, &se) || se.Reason >= changeevent.NumReasons {
				t.Fatalf("Decode returned %T %v, want a *SkipError with a known reason", err, err)
			}
			return
		}
		if ev.Tx.ID <= 0 || ev.Tx.AmountCents < 0 || ev.Tx.AmountCents > 9_999_999_999 || (ev.Op != 'c' && ev.Op != 'r') {
			t.Fatalf("Decode accepted out-of-range event %+v", ev)
		}
		src := relaySource()
		src.TsUs, src.TxID, src.LSN, src.Snapshot = ev.SourceTsUs, ev.TxID, ev.LSN, "false"
		if ev.Snapshot {
			src.Snapshot = "true"
		}
		out := changeevent.AppendValue(nil, &ev.Tx, &src, ev.Op, ev.EventTsUs)
		if !json.Valid(out) {
			t.Fatalf("re-encoded value is not JSON: %s", out)
		}
		var again changeevent.Event
		if err := d.Decode(out, &again); err != nil {
			t.Fatalf("re-encoded value does not decode: %v\n%s", err, out)
		}
		if again != ev {
			t.Fatalf("round trip changed the event:\n got %+v\nwant %+v", again, ev)
		}
	})
}
