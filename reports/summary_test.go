package reports

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
)

// TestWriteExternalInstances: "1 instance", not "1 instances".
func TestWriteExternalInstances(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		instances []string
		want      string
	}{
		{[]string{"a"}, "cdc external velocity (1 instance):"},
		{[]string{"a", "b"}, "cdc external velocity (2 instances):"},
	} {
		var b strings.Builder
		writeExternal(&b, &result.Result{Paths: []result.Path{{Name: "cdc", ExternalAgents: []result.ExternalAgentResult{{Name: "velocity", Instances: tc.instances}}}}})
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("%q, want %q", b.String(), tc.want)
		}
	}
}

func TestPlural(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    int
		one  string
		many []string
		want string
	}{
		{0, "run", nil, "runs"}, {1, "run", nil, "run"}, {2, "check", nil, "checks"}, {1, "its", []string{"their"}, "its"}, {3, "its", []string{"their"}, "their"},
	} {
		if got := Plural(tc.n, tc.one, tc.many...); got != tc.want {
			t.Errorf("Plural(%d, %q, %q) = %q, want %q", tc.n, tc.one, tc.many, got, tc.want)
		}
	}
}

// TestSettingsShown: a tuned path says what was tuned, in the summary and
// the report, sorted; an untuned one adds nothing.
func TestSettingsShown(t *testing.T) {
	t.Parallel()
	res := &result.Result{Valid: true, Paths: []result.Path{
		{Name: "debezium", Capture: "debezium 3.6.1.Final on Kafka Connect 4.3.1"},
		{Name: "debezium-tuned", Capture: "debezium 3.6.1.Final on Kafka Connect 4.3.1",
			Settings: map[string]string{"poll.interval.ms": "10", "producer.override.linger.ms": "0"}},
	}}
	var b strings.Builder
	if err := WriteSummary(&b, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"path debezium: debezium 3.6.1.Final on Kafka Connect 4.3.1\n",
		"path debezium-tuned: debezium 3.6.1.Final on Kafka Connect 4.3.1; settings poll.interval.ms=10, producer.override.linger.ms=0\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

// TestSliceCores: a slice's CPU per component comes highest first, so the
// component that ran out leads the line.
func TestSliceCores(t *testing.T) {
	t.Parallel()
	res := &result.Result{Paths: []result.Path{{Name: "debezium-tuned", Agents: []result.AgentResult{{Name: "outlier"}},
		Slices: []result.SliceResult{
			{ToS: 8, TargetRowsPerS: 10000, CPUCores: map[string]float64{"cdcbench": 0.41, "kafka broker": 0.51, "kafka connect": 0.95}},
			{FromS: 8, ToS: 16, TargetRowsPerS: 12500},
		}}}}
	var b strings.Builder
	writeKnees(&b, res)
	if want := "cpu cores: kafka connect 0.95, kafka broker 0.51, cdcbench 0.41\n"; !strings.Contains(b.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, b.String())
	}
	if strings.Count(b.String(), "cpu cores") != 1 {
		t.Errorf("a slice without figures shows some:\n%s", b.String())
	}
}

// TestKneeMetAgain: a miss that a higher rate did not repeat is named,
// with the rates written as the summary writes rates.
func TestKneeMetAgain(t *testing.T) {
	t.Parallel()
	miss := result.SliceResult{TargetRowsPerS: 7500, E2E: map[string]recorder.Summary{"outlier": {Count: 5, P99: 131}}}
	res := &result.Result{Paths: []result.Path{{Name: "debezium-tuned", Slices: []result.SliceResult{miss},
		Knee: &result.Knee{ObjectiveP99Ms: 100, TargetRowsPerS: 5000, P99Ms: 29.3, FirstMiss: &miss, MetAgain: []float64{10000, 12500}}}}}
	var b strings.Builder
	writeKnees(&b, res)
	for _, want := range []string{
		"knee: 5000 rows/s met p99 < 100 ms (29.3 ms), as every lower rate did; 7500 rows/s did not (131.0 ms)\n",
		"met again at 10000, 12500 rows/s: the miss may have been a transient",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

// TestSummaryFaultsAndCapture: the faults table shows each fault's
// duplicates (they were only in result.json), and a run without a cdc path
// names no relay it never ran.
func TestSummaryFaultsAndCapture(t *testing.T) {
	res := &result.Result{Paths: []result.Path{{Name: "debezium", Capture: "debezium 3.6.1.Final on Kafka Connect 4.3.1",
		Faults: []result.FaultResult{{Kind: "kill-connect", AtS: 5, DurationS: 2, PeakP99Ms: 900, Duplicates: 137}}}}}
	var b strings.Builder
	if err := WriteSummary(&b, res); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "duplicates") || !regexp.MustCompile(`debezium\s+kill-connect\s+5\.0\s+2\.0\s+900\.0\s+137\s`).MatchString(out) {
		t.Errorf("faults table without the fault's 137 duplicates:\n%s", out)
	}
	if strings.Contains(out, "CDC") {
		t.Errorf("a run without a cdc path names a CDC:\n%s", out)
	}
	var md bytes.Buffer
	writeMetadata(&md, &run{res: res})
	writeFaultTable(&md, res)
	if !strings.Contains(md.String(), "| debezium | kill-connect | – | 5 | 2 | 900 | 137 |") || strings.Contains(md.String(), "| CDC |") {
		t.Errorf("report's faults table without the 137 duplicates, or a CDC row:\n%s", md.String())
	}
}
