package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// Builders of pgoutput protocol 1 messages, as the server sends them.

func be16(b []byte, v int) []byte    { return binary.BigEndian.AppendUint16(b, uint16(v)) }
func be32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func be64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
func cstr(b []byte, s string) []byte { return append(append(b, s...), 0) }

// pgEpoch is pgoutput's time origin.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func beginMsg(commit time.Time) []byte {
	b := be64([]byte{'B'}, 0x16B3748)
	b = be64(b, uint64(commit.Sub(pgEpoch)/time.Microsecond))
	return be32(b, 742)
}

func commitMsg() []byte {
	b := be64([]byte{'C', 0}, 0x16B3748)
	b = be64(b, 0x16B3778)
	return be64(b, 1)
}

// insertMsg has one text column per value; a nil value is a NULL column.
func insertMsg(values ...[]byte) []byte {
	b := be32([]byte{'I'}, 16384)
	b = be16(append(b, 'N'), len(values))
	for _, v := range values {
		if v == nil {
			b = append(b, 'n')
			continue
		}
		b = be32(append(b, 't'), uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

func relationMsg() []byte {
	b := be32([]byte{'R'}, 16384)
	b = cstr(cstr(b, "public"), "transactions")
	b = be16(append(b, 'd'), 2)
	for _, c := range []string{"id", "amount"} {
		b = cstr(append(b, 1), c)
		b = be32(be32(b, 20), 0xFFFFFFFF)
	}
	return b
}

func typeMsg() []byte     { return cstr(cstr(be32([]byte{'Y'}, 1700), "pg_catalog"), "numeric") }
func truncateMsg() []byte { return be32(be32(append(be32([]byte{'T'}, 2), 0), 16384), 16390) }
func originMsg() []byte   { return cstr(be64([]byte{'O'}, 7), "origin") }

func TestMessageLen(t *testing.T) {
	t.Parallel()
	withNewline := insertMsg([]byte("a\nb"), nil, []byte("12.50"))
	tests := []struct {
		name string
		msg  []byte
	}{
		{"begin", beginMsg(time.Now())},
		{"commit", commitMsg()},
		{"insert", insertMsg([]byte("1"), []byte("12.50"))},
		{"insert with a newline and a null", withNewline},
		{"relation", relationMsg()},
		{"type", typeMsg()},
		{"truncate", truncateMsg()},
		{"origin", originMsg()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// What follows the message must not change its length.
			n, err := messageLen(append(append([]byte{}, tt.msg...), '\n', 'B', 0))
			if err != nil || n != len(tt.msg) {
				t.Fatalf("messageLen = %d, %v; want %d", n, err, len(tt.msg))
			}
			for cut := 0; cut < len(tt.msg); cut++ {
				if _, err := messageLen(tt.msg[:cut]); !errors.Is(err, errShort) {
					t.Fatalf("messageLen of the first %d of %d bytes: %v, want errShort", cut, len(tt.msg), err)
				}
			}
		})
	}
	t.Run("unknown type", func(t *testing.T) {
		if _, err := messageLen([]byte("M\x00\x00")); !errors.Is(err, errUnknownMessage) {
			t.Fatalf("err = %v, want errUnknownMessage", err)
		}
	})
}

func TestReadStream(t *testing.T) {
	t.Parallel()
	commit := time.Date(2026, 11, 26, 8, 0, 0, 123000, time.UTC)
	msgs := [][]byte{relationMsg(), beginMsg(commit), insertMsg([]byte("1\n2"), nil), insertMsg([]byte("3")), commitMsg()}
	var stream []byte
	for _, m := range msgs {
		stream = append(append(stream, m...), '\n')
	}
	tests := []struct {
		name    string
		stream  []byte
		wantErr bool
	}{
		{"whole stream", stream, false},
		{"cut inside the last message", stream[:len(stream)-5], true},
		{"no newline after a message", append(append([]byte{}, commitMsg()...), 'x'), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][]byte
			var lat commitLatencies
			lat.record.Store(true)
			err := readStream(iotest.OneByteReader(bytes.NewReader(tt.stream)), func(msg []byte, at time.Time) error {
				got = append(got, bytes.Clone(msg))
				return lat.onMsg(msg, at)
			})
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(msgs) {
				t.Fatalf("got %d messages, want %d", len(got), len(msgs))
			}
			for i := range msgs {
				if !bytes.Equal(got[i], msgs[i]) {
					t.Errorf("message %d = %q, want %q", i, got[i], msgs[i])
				}
			}
			if n := lat.inserts.Load(); n != 2 || len(lat.samples) != 2 {
				t.Fatalf("inserts %d, samples %d; want 2, 2", n, len(lat.samples))
			}
			if !lat.commit.Equal(commit) {
				t.Errorf("commit time %v, want %v", lat.commit, commit)
			}
		})
	}
}

const benchOutput = `goos: linux
pkg: github.com/cdcbench/cdcbench/changeevent
BenchmarkDecodeSchema 	  256035	      3916 ns/op	 767.85 MB/s	    255353 events/s	       0 B/op	       0 allocs/op
BenchmarkDecodeBare-2 	 1245518	      1009 ns/op	 531.19 MB/s	    191021 events/s	      16 B/op	       1 allocs/op
BenchmarkObserve/outlier         	24241052	        45.97 ns/op	       0 B/op	       0 allocs/op
BenchmarkRecord 	72359772	        15.72 ns/op	       0 B/op	       0 allocs/op
PASS
`

func TestParseBench(t *testing.T) {
	t.Parallel()
	res, err := parseBench(strings.NewReader(benchOutput))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, unit string
		procs      int
		want       float64
	}{
		{"BenchmarkDecodeSchema", "events/s", 1, 255353},
		{"BenchmarkDecodeBare", "allocs/op", 2, 1},
		{"BenchmarkObserve/outlier", "ns/op", 1, 45.97},
		{"BenchmarkRecord", "ns/op", 1, 15.72},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := res[tt.name]
			if !ok {
				t.Fatalf("%s missing from %v", tt.name, res)
			}
			if r.procs != tt.procs || r.metrics[tt.unit] != tt.want {
				t.Fatalf("procs %d, %s %v; want %d, %v", r.procs, tt.unit, r.metrics[tt.unit], tt.procs, tt.want)
			}
		})
	}
	if _, err := parseBench(strings.NewReader("BenchmarkX 10 5 ns/op 3\n")); err == nil {
		t.Error("a line with an odd number of metric fields parsed")
	}
}

func TestHotPathChecks(t *testing.T) {
	res, err := parseBench(strings.NewReader(benchOutput))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]check{}
	for _, c := range hotPathChecks(res) {
		got[c.name] = c
	}
	tests := []struct {
		name    string
		met     bool
		info    bool
		whyHint string
	}{
		{"decode, schema-wrapped (1 core)", true, false, ""},
		{"decode, schema-wrapped (1 core) allocs", true, false, ""},
		{"decode, bare payload (1 core)", false, false, "GOMAXPROCS=2"},
		{"decode, bare payload (1 core) allocs", false, false, "allocates"},
		{"record (1 core)", true, false, ""},
		{"Observe/outlier", false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := got[tt.name]
			if !ok {
				t.Fatalf("no check %q in %v", tt.name, got)
			}
			if c.met != tt.met || c.info != tt.info || !strings.Contains(c.why, tt.whyHint) {
				t.Fatalf("met %v info %v why %q; want %v %v containing %q", c.met, c.info, c.why, tt.met, tt.info, tt.whyHint)
			}
		})
	}
	t.Run("missing benchmark", func(t *testing.T) {
		cs := hotPathChecks(map[string]benchResult{})
		if len(cs) != len(hotPathTargets) || cs[0].met {
			t.Fatalf("checks for no benchmarks: %+v", cs)
		}
	})
}

const traces = `File: perf
Type: cpu
-----------+-------------------------------------------------------
      10ms   runtime.memclrNoHeapPointers
             runtime.growslice
             github.com/cdcbench/cdcbench/changeevent.AppendValue
             github.com/cdcbench/cdcbench/relay.(*Relay).handleWAL
-----------+-------------------------------------------------------
     190ms   runtime.memmove
             github.com/twmb/franz-go/pkg/kfake.(*memFile).Write
             github.com/twmb/franz-go/pkg/kfake.(*Cluster).run
-----------+-------------------------------------------------------
      20ms   github.com/valyala/fastjson.(*cache).parseObject
             github.com/cdcbench/cdcbench/changeevent.(*Decoder).Decode
             github.com/cdcbench/cdcbench/bench.(*agentRun).handle
-----------+-------------------------------------------------------
      30ms   github.com/cdcbench/cdcbench/agents.(*Velocity).Observe
             github.com/cdcbench/cdcbench/bench.(*agentRun).handle
-----------+-------------------------------------------------------
    1.25s   runtime.schedule
             runtime.goschedImpl
             runtime.gosched_m
             runtime.mcall
-----------+-------------------------------------------------------
      40ms   runtime.futex
             runtime.notesleep
             runtime.mstart
-----------+-------------------------------------------------------
      50ms   github.com/twmb/franz-go/pkg/kgo.(*sink).createReq
             github.com/twmb/franz-go/pkg/kgo.(*sink).drain
-----------+-------------------------------------------------------
`

func TestSplit(t *testing.T) {
	t.Parallel()
	got, total, err := split(strings.NewReader(traces))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{
		"relay":                                10 * time.Millisecond,
		"kfake (broker)":                       190 * time.Millisecond,
		"decode (changeevent)":                 20 * time.Millisecond,
		"agents (detectors)":                   30 * time.Millisecond,
		"producer spin-wait (runtime.Gosched)": 1250 * time.Millisecond,
		otherComponent:                         40 * time.Millisecond,
		"kafka client (kgo goroutines)":        50 * time.Millisecond,
	}
	for name, d := range want {
		t.Run(name, func(t *testing.T) {
			if got[name] != d {
				t.Fatalf("%s = %v, want %v (all: %v)", name, got[name], d, got)
			}
		})
	}
	if len(got) != len(want) || total != 1590*time.Millisecond {
		t.Errorf("split = %v, total %v; want %v, 1.59s", got, total, want)
	}
	if _, _, err := split(strings.NewReader("-----------+---\n      x10   runtime.main\n")); err == nil {
		t.Error("a malformed sample value parsed")
	}
}

func TestChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		c     check
		met   bool
		ratio float64
	}{
		{"at least, met", atLeast("s", "n", 150, 100, "x"), true, 1.5},
		{"at least, missed", atLeast("s", "n", 50, 100, "x"), false, 0.5},
		{"below, met", below("s", "n", 0.4, 0.5, "cores"), true, 0.8},
		{"below, at the limit", below("s", "n", 0.5, 0.5, "cores"), false, 1},
		{"paired, met", paired("s", "n", []float64{95, 50, 300}, []float64{100, 100, 300}, "rows/s", "psql", 0.9), true, 0.95},
		{"paired, two pairs", paired("s", "n", []float64{85, 200}, []float64{100, 200}, "rows/s", "psql", 0.9), true, 0.925},
		{"paired, one pair", paired("s", "n", []float64{85}, []float64{100}, "rows/s", "psql", 0.9), false, 0.85},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.c.met != tt.met || math.Abs(tt.c.ratio-tt.ratio) > 1e-9 {
				t.Fatalf("met %v ratio %v; want %v %v", tt.c.met, tt.c.ratio, tt.met, tt.ratio)
			}
		})
	}
	var out bytes.Buffer
	missed := printTable(&out, []check{tests[0].c, tests[1].c, infoCheck("s", "i", "1")})
	if missed != 1 || !strings.Contains(out.String(), "NOT MET") {
		t.Errorf("printTable: %d missed, output:\n%s", missed, out.String())
	}
}

func TestNum(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    float64
		want string
	}{
		{1234567, "1,234,567"},
		{-1234.4, "-1,234"},
		{999, "999"},
		{12.34, "12.3"},
		{0.7104, "0.71"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := num(tt.v); got != tt.want {
				t.Fatalf("num(%v) = %q, want %q", tt.v, got, tt.want)
			}
		})
	}
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if got := percentiles(ds); got != [3]float64{50, 90, 99} {
		t.Fatalf("percentiles = %v, want [50 90 99]", got)
	}
	if got := median([]float64{3, 1, 2, 10}); got != 2.5 {
		t.Fatalf("median = %v, want 2.5", got)
	}
}

func TestPrefixWriter(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	p := &prefixWriter{w: &out, prefix: "| "}
	for _, s := range []string{"a\nb", "c\n", "\nd\n"} {
		if _, err := p.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if want := "| a\n| bc\n| \n| d\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

func TestFlatOut(t *testing.T) {
	t.Parallel()
	for _, batches := range []int{1, 200, 600, 1001} {
		if _, n := flatOut(batches); n < batches-1 || n > batches+1 {
			t.Errorf("flatOut(%d) schedules %d batches", batches, n)
		}
	}
}

// TestCapturesBelowBaseline: the paths' order, moved here from bench's unit
// test, is judged on the burst run's medians, each capture against the
// baseline, and not at all without the baseline.
func TestCapturesBelowBaseline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		p50      map[string]float64
		baseline string
		met      []bool
		figures  []string
	}{
		{"capture faster", map[string]float64{"cdc": 4.5, "poll-100ms": 48}, "poll-100ms", []bool{true}, []string{"4.50 ms (poll-100ms 48.0 ms)"}},
		{"capture slower on a loaded machine", map[string]float64{"cdc": 89.5, "poll-100ms": 80.2}, "poll-100ms", []bool{false}, []string{"89.5 ms (poll-100ms 80.2 ms)"}},
		{"two captures, in name order", map[string]float64{"debezium": 600, "cdc": 4.5, "poll-1s": 500}, "poll-1s", []bool{true, false},
			[]string{"4.50 ms (poll-1s 500 ms)", "600 ms (poll-1s 500 ms)"}},
		{"no baseline", map[string]float64{"cdc": 4.5}, "", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checks := capturesBelowBaseline(tc.p50, tc.baseline)
			if len(checks) != len(tc.met) {
				t.Fatalf("%d checks, want %d: %+v", len(checks), len(tc.met), checks)
			}
			for i, c := range checks {
				if c.met != tc.met[i] || c.figure != tc.figures[i] {
					t.Errorf("check %d = %+v; want met %v, figure %q", i, c, tc.met[i], tc.figures[i])
				}
			}
		})
	}
}
