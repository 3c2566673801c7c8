package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/golden"
	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
)

func TestCompareSides(t *testing.T) {
	tests := []struct {
		args    []string
		a, b    []string
		wantErr string
	}{
		{args: []string{"x", "y"}, a: []string{"x"}, b: []string{"y"}},
		{args: []string{"x1", "x2", "x3", "vs", "y1", "y2"}, a: []string{"x1", "x2", "x3"}, b: []string{"y1", "y2"}},
		{args: []string{"x"}, wantErr: "compare: want two runs A B, or two sets A1 A2... vs B1 B2...; got 1 arguments"},
		{args: []string{"x", "y", "z"}, wantErr: "got 3 arguments"},
		{args: []string{"x", "vs"}, wantErr: `runs on both sides of one "vs"`},
		{args: []string{"x", "vs", "y", "vs", "z"}, wantErr: `runs on both sides of one "vs"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			a, b, err := compareSides(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(a, tt.a) || !slices.Equal(b, tt.b) {
				t.Errorf("= %v, %v, %v; want %v, %v", a, b, err, tt.a, tt.b)
			}
		})
	}
}

func TestCompareOutput(t *testing.T) {
	dir := t.TempDir()
	var a, b []string
	for i, cdc := range []float64{4.0, 4.1, 3.9, 4.2} {
		a = append(a, writeSmoke(t, dir, "base-"+string(rune('1'+i)), cdc))
	}
	for i, cdc := range []float64{6.0, 6.2, 5.9, 6.1} {
		b = append(b, writeSmoke(t, dir, "new-"+string(rune('1'+i)), cdc, func(r *result.Result) {
			r.Paths = r.Paths[:1] // B has no poll path
		}))
	}
	tests := []struct {
		golden string
		args   []string
	}{
		{"compare-sets", append(append(append([]string{"compare"}, a...), "vs"), b...)},
		{"compare-sets-markdown", append(append(append([]string{"compare", "--markdown"}, a...), "vs"), b...)},
		{"compare-two-stages", []string{"compare", "--stages", a[0], b[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			out, stderr, code := cdcbench(t, tt.args...)
			if code != 0 {
				t.Fatalf("exit code %d: %s", code, stderr)
			}
			golden.Check(t, tt.golden+".golden", []byte(out))
		})
	}
}

func TestCompareBadInput(t *testing.T) {
	dir := t.TempDir()
	run := writeSmoke(t, dir, "run", 4)
	for name, args := range map[string][]string{
		"missing A":   {"compare", filepath.Join(dir, "nope"), run},
		"missing B":   {"compare", run, filepath.Join(dir, "nope")},
		"bad alpha":   {"compare", "--alpha", "5", run, run},
		"one operand": {"compare", run},
	} {
		t.Run(name, func(t *testing.T) {
			if _, stderr, code := cdcbench(t, args...); code != 2 {
				t.Errorf("exit code %d (%s), want 2", code, stderr)
			}
		})
	}
}

// withAgentCommand gives a smoke result's cdc path the user's agent
// my-outlier (an agent command) with alert p50 p50 ms and p99 2x that.
func withAgentCommand(p50 float64) func(*result.Result) {
	return func(r *result.Result) {
		r.Paths[0].ExternalAgents = append(r.Paths[0].ExternalAgents, result.ExternalAgentResult{
			Name: "my-outlier", Alerts: 120, ExpectedAlerts: 120,
			AlertMs:      recorder.Summary{Count: 120, P50: p50, P90: 1.5 * p50, P99: 2 * p50, P999: 2.5 * p50, Max: 3 * p50},
			AgentCommand: &result.AgentCommand{Command: "python3 my_outlier.py", Rule: "outlier", Observed: "lines"},
		})
	}
}

// TestCompareAgentCommands: compare lists the user's own agents (agent
// commands) beside the built-in ones, by their alert latency (all cdcbench
// sees of them), and names one that only a side has.
func TestCompareAgentCommands(t *testing.T) {
	dir := t.TempDir()
	a := writeSmoke(t, dir, "a", 4, withAgentCommand(30))
	b := writeSmoke(t, dir, "b", 4, withAgentCommand(45))
	plain := writeSmoke(t, dir, "plain", 4)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"both sides", []string{"compare", a, b}, []string{
			"cdc/my-outlier alert p50 30.0 45.0 +50.0% (n=1+1)",
			"cdc/my-outlier alert p99 60.0 90.0 +50.0% (n=1+1)",
			"cdc/my-outlier alert max 90.0 135 +50.0% (n=1+1)",
		}},
		{"stages too", []string{"compare", "--stages", a, b}, []string{"cdc/my-outlier alert p90 45.0 67.5"}},
		{"markdown", []string{"compare", "--markdown", a, b}, []string{"| cdc/my-outlier | alert p99 | 60.0 | 90.0 | +50.0% (n=1+1) |"}},
		{"only A", []string{"compare", a, plain}, []string{"note: only A has cdc/my-outlier"}},
		{"only B", []string{"compare", plain, b}, []string{"note: only B has cdc/my-outlier"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := cdcbench(t, tc.args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			words := strings.Join(strings.Fields(out), " ") // columns aligned to the widest
			for _, want := range tc.want {
				if !strings.Contains(words, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestCompareStacks: runs on different stacks (the embedded one against
// the local JVM stack) are compared with a plain warning, because the
// change is then the stack's; runs on the same stack get none.
func TestCompareStacks(t *testing.T) {
	embedded := func(r *result.Result) {
		r.Stack = result.StackResult{StackInfo: result.StackInfo{Postgres: "embedded", PostgresVersion: "15.18", Kafka: "kfake (in-process, franz-go)", Brokers: "127.0.0.1:40001"}, CDC: "relay cdcbench-relay/1"}
	}
	local := func(r *result.Result) {
		r.Stack = result.StackResult{StackInfo: result.StackInfo{Postgres: "embedded", PostgresVersion: "15.18", Kafka: "Apache Kafka (local JVM, KRaft)", KafkaVersion: "4.3.1",
			Brokers: "127.0.0.1:40002", ConnectURL: "http://127.0.0.1:40003", ConnectVersion: "4.3.1", DebeziumVersion: "3.6.1.Final"}, CDC: "relay cdcbench-relay/1"}
	}
	dir := t.TempDir()
	e1, e2 := writeSmoke(t, dir, "e1", 70.5, embedded), writeSmoke(t, dir, "e2", 71, embedded)
	l1 := writeSmoke(t, dir, "l1", 824, local)
	const warning = "note: the stacks differ in Kafka (A: kfake (in-process, franz-go); B: Apache Kafka (local JVM, KRaft) 4.3.1), Kafka Connect (A: none; B: 4.3.1 with Debezium 3.6.1.Final): the change includes the stack"
	for _, tc := range []struct {
		name string
		args []string
		warn bool
	}{
		{"embedded against local", []string{"compare", e1, l1}, true},
		{"markdown", []string{"compare", "--markdown", e1, l1}, true},
		{"the same stack", []string{"compare", e1, e2}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := cdcbench(t, tc.args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			want := strings.TrimPrefix(warning, "note: ")
			if got := strings.Contains(out, want); got != tc.warn {
				t.Errorf("warning shown %v, want %v:\n%s", got, tc.warn, out)
			}
			if strings.Contains(out, "stacks differ") != tc.warn {
				t.Errorf("stacks differ said %v, want %v:\n%s", !tc.warn, tc.warn, out)
			}
		})
	}
}
