package recorder_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cdcbench/cdcbench/internal/recorder"
)

func TestSummary(t *testing.T) {
	t.Parallel()
	s := recorder.NewSet()
	for i := int64(1); i <= 1000; i++ {
		s.Record(recorder.E2E, i*1000) // 1..1000 ms
	}
	s.Record(recorder.E2E, -5)
	s.Record(recorder.E2E, recorder.HighestUs+1)
	got := s.Summary(recorder.E2E)
	if got.Count != 1000 || got.Negative != 1 || got.Overflow != 1 {
		t.Fatalf("count/negative/overflow = %d/%d/%d, want 1000/1/1", got.Count, got.Negative, got.Overflow)
	}
	checks := []struct {
		name      string
		got, want float64
	}{{"p50", got.P50, 500}, {"p90", got.P90, 900}, {"p99", got.P99, 990}, {"p999", got.P999, 999}, {"max", got.Max, 1000}}
	for _, c := range checks {
		if c.got < c.want*0.999 || c.got > c.want*1.001 {
			t.Errorf("%s = %v, want %v within 0.1%%", c.name, c.got, c.want)
		}
	}
	if other := s.Summary(recorder.Agent); other.Count != 0 || other.P99 != 0 {
		t.Errorf("stages share state: agent = %+v", other)
	}
}

func TestConcurrentRecord(t *testing.T) {
	t.Parallel()
	s := recorder.NewSet()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10000; i++ {
				s.Record(recorder.Agent, int64(i))
			}
		}()
	}
	wg.Wait()
	if n := s.Summary(recorder.Agent).Count; n != 40000 {
		t.Fatalf("count = %d, want 40000", n)
	}
}

func TestWriteHGRM(t *testing.T) {
	t.Parallel()
	s := recorder.NewSet()
	for i := int64(1); i <= 100; i++ {
		s.Record(recorder.E2E, i*100)
	}
	var buf bytes.Buffer
	if err := s.WriteHGRM(&buf, recorder.E2E); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Value", "Percentile", "TotalCount", "#[Mean", "#[Max", "Total count    =          100]"} {
		if !strings.Contains(out, want) {
			t.Errorf("hgrm lacks %q:\n%s", want, out)
		}
	}
	// Values are printed in milliseconds: the max sample is 10 ms.
	if !strings.Contains(out, "10.0") {
		t.Errorf("hgrm is not in milliseconds:\n%s", out)
	}
}

func TestStageNames(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for st := recorder.Stage(0); st < recorder.NumStages; st++ {
		n := st.String()
		if n == "" || seen[n] || strings.HasPrefix(n, "stage(") {
			t.Errorf("stage %d has a bad or duplicate name %q", st, n)
		}
		seen[n] = true
	}
}

func BenchmarkRecord(b *testing.B) {
	s := recorder.NewSet()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		v := int64(1)
		for pb.Next() {
			s.Record(recorder.E2E, v)
			v = (v*7 + 13) % 500000
		}
	})
}

func TestRotate(t *testing.T) {
	t.Parallel()
	s := recorder.NewSet()
	for i := int64(1); i <= 10; i++ {
		s.Record(recorder.E2E, i)
	}
	s.Record(recorder.Agent, 5)
	got := map[recorder.Stage]int64{}
	rotate := func() {
		got = map[recorder.Stage]int64{}
		if err := s.Rotate(func(st recorder.Stage, h *hdrhistogram.Histogram) error {
			got[st] = h.TotalCount()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	rotate()
	if got[recorder.E2E] != 10 || got[recorder.Agent] != 1 || len(got) != 2 {
		t.Fatalf("first interval = %v, want e2e 10, agent 1", got)
	}
	s.Record(recorder.E2E, 7)
	rotate()
	if got[recorder.E2E] != 1 || len(got) != 1 {
		t.Fatalf("second interval = %v, want only e2e 1 (intervals must not accumulate)", got)
	}
	rotate()
	if len(got) != 0 {
		t.Fatalf("empty interval reported %v", got)
	}
	if n := s.Summary(recorder.E2E).Count; n != 11 {
		t.Fatalf("cumulative count = %d, want 11", n)
	}
}
