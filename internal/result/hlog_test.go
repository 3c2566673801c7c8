package result

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"io"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cdcbench/cdcbench/internal/recorder"
)

// rawPayload undoes the base64 and zlib layers of a V2 compressed histogram.
func rawPayload(t *testing.T, b64 string) []byte {
	t.Helper()
	bin, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	if n := int(binary.BigEndian.Uint32(bin[4:])); n != len(bin)-8 {
		t.Fatalf("compressed length field %d, want %d", n, len(bin)-8)
	}
	z, err := zlib.NewReader(bytes.NewReader(bin[8:]))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestIntervalLineMatchesLibrary holds histEncoder to hdrhistogram-go's
// HistogramLogWriter: the same fields and, under the compression, the same
// bytes, and a payload the library decodes back to the same histogram.
func TestIntervalLineMatchesLibrary(t *testing.T) {
	t.Parallel()
	const baseMs = 1_767_806_283_000
	tests := []struct {
		name           string
		values         []int64
		startMs, endMs int64
	}{
		{"empty", nil, 1000, 2000},
		{"one value", []int64{2290}, 0, 1000},
		{"latencies", []int64{1, 2, 3, 950, 1000, 1001, 2290, 2290, 6400, 16_600, 17_400, 100_400}, 12_345, 13_346},
		{"top of the range", []int64{recorder.LowestUs, recorder.HighestUs}, 59_999, 61_000},
		{"large counts", nil, 5000, 6000},
	}
	var enc histEncoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hdrhistogram.New(recorder.LowestUs, recorder.HighestUs, recorder.SigFigs)
			for _, v := range tt.values {
				if err := h.RecordValue(v); err != nil {
					t.Fatal(err)
				}
			}
			if tt.name == "large counts" {
				// A count whose ZigZag form has its top bit set needs the
				// encoding's ninth byte, which holds 8 bits.
				if err := h.RecordValues(1234, 1<<62|5); err != nil {
					t.Fatal(err)
				}
			}
			var lib bytes.Buffer
			w := hdrhistogram.NewHistogramLogWriter(&lib)
			w.SetBaseTime(baseMs)
			h.SetTag("cdc/outlier/e2e")
			h.SetStartTimeMs(baseMs + tt.startMs)
			h.SetEndTimeMs(baseMs + tt.endMs)
			if err := w.OutputIntervalHistogram(h); err != nil {
				t.Fatal(err)
			}
			line, err := enc.appendLine(nil, "cdc/outlier/e2e", tt.startMs, tt.endMs, h)
			if err != nil {
				t.Fatal(err)
			}
			got, want := strings.Split(string(line), ","), strings.Split(lib.String(), ",")
			if len(got) != 5 || len(want) != 5 {
				t.Fatalf("lines do not have five fields:\n ours %q\n lib  %q", line, lib.String())
			}
			if strings.Join(got[:4], ",") != strings.Join(want[:4], ",") {
				t.Fatalf("fields differ:\n ours %q\n lib  %q", strings.Join(got[:4], ","), strings.Join(want[:4], ","))
			}
			if !strings.HasSuffix(got[4], "\n") {
				t.Fatalf("line does not end in a newline: %q", line)
			}
			b64 := strings.TrimSuffix(got[4], "\n")
			if r, l := rawPayload(t, b64), rawPayload(t, strings.TrimSuffix(want[4], "\n")); !bytes.Equal(r, l) {
				t.Fatalf("uncompressed payloads differ:\n ours %x\n lib  %x", r, l)
			}
			back, err := hdrhistogram.Decode([]byte(b64))
			if err != nil {
				t.Fatal(err)
			}
			if !back.Equals(h) {
				t.Fatalf("decoded histogram differs: count %d max %d, want %d %d", back.TotalCount(), back.Max(), h.TotalCount(), h.Max())
			}
		})
	}
}
