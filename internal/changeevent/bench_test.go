package changeevent_test

import (
	"encoding/json"
	"testing"

	"github.com/cdcbench/cdcbench/internal/changeevent"
)

// schemaValue is a value as the relay writes it; bareValue its payload alone,
// as Debezium writes it with schemas.enable=false.
func benchValues(tb testing.TB) (schemaValue, bareValue []byte) {
	tb.Helper()
	src := relaySource()
	schemaValue = changeevent.AppendValue(nil, &tx001, &src, 'c', 1767808119035456)
	var w struct{ Payload json.RawMessage }
	if err := json.Unmarshal(schemaValue, &w); err != nil {
		tb.Fatal(err)
	}
	return schemaValue, w.Payload
}

// TestZeroAlloc pins the hot-path promise: after warm-up, decoding and
// encoding allocate nothing.
func TestZeroAlloc(t *testing.T) {
	schemaValue, bareValue := benchValues(t)
	d := changeevent.NewDecoder()
	var ev changeevent.Event
	for name, value := range map[string][]byte{"schema": schemaValue, "bare": bareValue} {
		t.Run("Decode/"+name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() {
				if err := d.Decode(value, &ev); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("Decode allocates %.1f times per event", n)
			}
		})
	}
	t.Run("AppendValue", func(t *testing.T) {
		src := relaySource()
		buf := make([]byte, 0, 4096)
		if n := testing.AllocsPerRun(100, func() {
			buf = changeevent.AppendValue(buf[:0], &tx001, &src, 'c', 1)
			buf = changeevent.AppendKey(buf[:0], tx001.ID, &src)
		}); n != 0 {
			t.Errorf("AppendValue+AppendKey allocate %.1f times per event", n)
		}
	})
}

func benchmarkDecode(b *testing.B, value []byte) {
	d := changeevent.NewDecoder()
	var ev changeevent.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if err := d.Decode(value, &ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkDecodeSchema(b *testing.B) {
	v, _ := benchValues(b)
	benchmarkDecode(b, v)
}

func BenchmarkDecodeBare(b *testing.B) {
	_, v := benchValues(b)
	benchmarkDecode(b, v)
}

func BenchmarkAppendValue(b *testing.B) {
	src := relaySource()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = changeevent.AppendValue(buf[:0], &tx001, &src, 'c', 1767808119035456)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
