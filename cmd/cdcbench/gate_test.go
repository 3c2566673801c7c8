package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
)

var gateMachine = result.Machine{Hostname: "ci-1", CPU: "Test CPU", Cores: 2, MemoryMB: 8000}

// writeSmoke writes a smoke result with CDC e2e p50 cdc ms and the
// poller's at 50 ms into parent/name and returns the directory.
func writeSmoke(t *testing.T, parent, name string, cdc float64, mutate ...func(*result.Result)) string {
	t.Helper()
	agent := func(name string, p50 float64) result.AgentResult {
		return result.AgentResult{
			Name: name, Events: 6000, ExpectedEvents: 6000, Alerts: 120, ExpectedAlerts: 120,
			E2E:    recorder.Summary{Count: 5000, P50: p50, P90: 1.5 * p50, P99: 3 * p50, P999: 3.5 * p50, Max: 4 * p50, Mean: p50},
			Stages: map[string]recorder.Summary{"commit_receive": {Count: 5000, P50: p50 / 2, P99: p50}},
		}
	}
	r := &result.Result{
		SchemaVersion: result.SchemaVersion, RunID: name, ScenarioName: "smoke", Machine: gateMachine, Valid: true,
		StartedAt: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC),
		Paths: []result.Path{
			{Name: "cdc", Agents: []result.AgentResult{agent("outlier", cdc), agent("velocity", cdc)}},
			{Name: "poll-100ms", Agents: []result.AgentResult{agent("outlier", 50), agent("velocity", 50)}},
		},
	}
	for _, m := range mutate {
		m(r)
	}
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const testGateFile = `alpha: 0.05
rules:
  - valid
  - missed_alerts == 0
  - cdc e2e p50 <= 0.25 x poll-100ms e2e p50
  - cdc e2e p99 < 500ms
  - cdc e2e p50 <= 1.5 x baseline
`

func TestGateExitStatus(t *testing.T) {
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	dir := t.TempDir()
	rules := writeFile(t, filepath.Join(dir, "ci.yaml"), testGateFile)
	badRules := writeFile(t, filepath.Join(dir, "bad.yaml"), "rules:\n  - cdc e2e p99 < 250\n")
	fast := writeSmoke(t, dir, "fast", 4)
	slow := writeSmoke(t, dir, "slow", 104) // --agent-delay 100ms
	missed := writeSmoke(t, dir, "missed", 4, func(r *result.Result) { r.Paths[0].Agents[1].MissedAlerts = 3 })
	invalid := writeSmoke(t, dir, "invalid", 4, func(r *result.Result) {
		r.Valid, r.InvalidReasons = false, []string{"the producer fell 3s behind its schedule"}
	})
	base := filepath.Join(dir, "baseline.json")
	if _, stderr, code := cdcbench(t, "gate", "--record-baseline", base, fast, fast, fast); code != 0 {
		t.Fatalf("record baseline: %s", stderr)
	}
	foreignBase := filepath.Join(dir, "foreign.json")
	other := writeSmoke(t, dir, "laptop", 4, func(r *result.Result) { r.Machine.CPU = "Apple M3" })
	if _, stderr, code := cdcbench(t, "gate", "--record-baseline", foreignBase, other); code != 0 {
		t.Fatalf("record baseline: %s", stderr)
	}

	tests := []struct {
		name   string
		args   []string
		code   int
		errHas string // on stderr
		outHas string // in the markdown on stdout
	}{
		{"pass", []string{"--rules", rules, fast}, 0, "", "## cdcbench gate: PASS"},
		{"pass with a baseline", []string{"--rules", rules, "--baseline", base, fast}, 0, "", "pass: unconfirmed (1 run)"},
		{"slow agents fail the ratio", []string{"--rules", rules, slow}, 1,
			"gate: FAIL (exit 1): 2 checks broke their limit:\n  line 5 `cdc e2e p50 <= 0.25 x poll-100ms e2e p50` on cdc/outlier: observed 2.08x (104 ms / 50.0 ms), limit <= 0.25x poll-100ms/outlier e2e p50", "## cdcbench gate: FAIL"},
		{"missed alerts fail", []string{"--rules", rules, missed}, 1, "line 4 `missed_alerts == 0` on cdc/velocity: observed 3, limit == 0", "**FAIL**"},
		{"an invalid run fails", []string{"--rules", rules, invalid}, 1, "line 3 `valid` on 1 run: observed 1 of 1 invalid, limit valid (invalid: the producer fell 3s behind its schedule)", ""},
		{"an unreadable result is bad input", []string{"--rules", rules, filepath.Join(dir, "missing")}, 2, "cdcbench: gate: result: stat " + filepath.Join(dir, "missing") + ": no such file or directory", ""},
		{"a bad gate file is bad input", []string{"--rules", badRules, fast}, 2, "bad.yaml:2: e2e p99 needs a duration such as 250ms or 1.5s", ""},
		{"a missing gate file is bad input", []string{"--rules", filepath.Join(dir, "nope.yaml"), fast}, 2, "no such file", ""},
		{"a foreign baseline is bad input", []string{"--rules", rules, "--baseline", foreignBase, fast}, 2, "the baseline was recorded on another machine", ""},
		{"a foreign baseline allowed", []string{"--rules", rules, "--baseline", foreignBase, "--allow-foreign-baseline", fast}, 0, "", "> **Warning:** baseline"},
		{"a flag after the runs", []string{"--rules", rules, fast, "--baseline", base}, 0, "", "pass: unconfirmed (1 run)"},
		{"--results with runs named", []string{"--rules", rules, "--results", fast, slow}, 2, "drop --results and name every run", ""},
		{"no runs under --results", []string{"--rules", rules, "--results", filepath.Join(dir, "empty")}, 2, "no RESULT_DIR given", ""},
		{"recording invalid runs is bad input", []string{"--record-baseline", filepath.Join(dir, "b2.json"), fast, invalid}, 2, "record a baseline from valid runs only", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := cdcbench(t, append([]string{"gate"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d\nstderr: %s\nstdout: %s", code, tt.code, stderr, out)
			}
			if !strings.Contains(stderr, tt.errHas) {
				t.Errorf("stderr\n%s\ndoes not contain\n%s", stderr, tt.errHas)
			}
			if !strings.Contains(out, tt.outHas) {
				t.Errorf("stdout does not contain %q:\n%s", tt.outHas, out)
			}
		})
	}
}

func TestGateNewestRun(t *testing.T) {
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	dir := t.TempDir()
	rules := writeFile(t, filepath.Join(dir, "ci.yaml"), testGateFile)
	results := filepath.Join(dir, "results")
	older := writeSmoke(t, results, "smoke-older", 104)
	writeSmoke(t, results, "smoke-newer", 4)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(older, "result.json"), old, old); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := cdcbench(t, "gate", "--rules", rules, "--results", results)
	if code != 0 || !strings.Contains(out, "`smoke-newer`") {
		t.Errorf("exit code %d (%s); want the newest run gated:\n%s", code, stderr, out)
	}
}

func TestGateStepSummary(t *testing.T) {
	dir := t.TempDir()
	rules := writeFile(t, filepath.Join(dir, "ci.yaml"), testGateFile)
	summary := writeFile(t, filepath.Join(dir, "summary.md"), "# earlier step\n")
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	fast, slow := writeSmoke(t, dir, "fast", 4), writeSmoke(t, dir, "slow", 104)

	stdout, _, passCode := cdcbench(t, "gate", "--rules", rules, fast)
	_, _, failCode := cdcbench(t, "gate", "--rules", rules, slow)
	_, _, badCode := cdcbench(t, "gate", "--rules", rules, filepath.Join(dir, "missing"))
	if passCode != 0 || failCode != 1 || badCode != 2 {
		t.Fatalf("exit codes %d, %d, %d; want 0, 1, 2", passCode, failCode, badCode)
	}
	b, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if !strings.HasPrefix(got, "# earlier step\n"+stdout+"\n## cdcbench gate: FAIL\n") {
		t.Errorf("the summary does not hold the earlier step, then the passing and failing reports:\n%s", got)
	}
	if !strings.Contains(got, "## cdcbench gate: ERROR\n\ngate: result: stat ") || !strings.HasSuffix(got, "(exit 2)\n\n") {
		t.Errorf("the summary does not end with the input error:\n%s", got)
	}
}
