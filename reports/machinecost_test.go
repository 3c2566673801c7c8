package reports

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/result"
)

// measured is a component with figures.
func measured(name, role string, cpu, per1k float64, rss int64, note string) result.ComponentCost {
	return result.ComponentCost{Name: name, Role: role, CPUSeconds: &cpu, CPUPer1000: &per1k, PeakRSSBytes: &rss, Processes: 1, Note: note}
}

// machineRun is a local-stack run: the relay, Debezium, a poll path whose
// machine cost was not measured, and a run from before machine cost.
func machineRun(paths ...string) *result.Result {
	all := map[string]result.Path{
		"cdc": {Name: "cdc", MachineCost: &result.MachineCost{Seconds: 5, Transactions: 5000, Components: []result.ComponentCost{
			measured("wal sender", result.RoleDatabase, 0.12, 0.024, 12<<20, ""),
			measured("kafka broker", result.RoleBroker, 1.5, 0.3, 400<<20, ""),
			measured("cdcbench", result.RoleHarness, 2.25, 0.45, 90<<20, "producer, agents and the relay"),
		}}},
		"debezium": {Name: "debezium", MachineCost: &result.MachineCost{Seconds: 5, Transactions: 5000, Components: []result.ComponentCost{
			{Name: "wal sender", Role: result.RoleDatabase, Note: "not measured: server not on this machine"},
			measured("kafka broker", result.RoleBroker, 1.25, 0.25, 410<<20, ""),
			measured("kafka connect", result.RoleConnect, 3, 0.6, 700<<20, "partial: 1 of its processes exited"),
			measured("cdcbench", result.RoleHarness, 1, 0.2, 80<<20, "harness only"),
		}}},
		"poll-100ms": {Name: "poll-100ms", MachineCost: &result.MachineCost{NotMeasured: "the run stopped before its measured window began"}},
		"old":        {Name: "old"},
	}
	r := &result.Result{}
	for _, p := range paths {
		r.Paths = append(r.Paths, all[p])
	}
	return r
}

func TestWriteMachineCost(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := writeMachineCost(&b, machineRun("cdc", "debezium", "poll-100ms", "old")); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`machine cost \(measured window, from /proc\):`,
		`cdc\s+wal sender\s+0\.12\s+0\.024\s+12\.0\s+\n`,
		`cdc\s+cdcbench\s+2\.25\s+0\.450\s+90\.0\s+producer, agents and the relay\n`,
		`debezium\s+wal sender\s+n/a\s+n/a\s+n/a\s+not measured: server not on this machine\n`,
		`debezium\s+kafka connect\s+3\.00\s+0\.600\s+700\.0\s+partial: 1 of its processes exited\n`,
		`poll-100ms\s+not measured\s+the run stopped before its measured window began\n`,
		`old\s+not measured\s*\n`,
		`the relay's share ≈ cdcbench CPU on cdc minus on debezium at the same load`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteMachineCostOnlyWhenMeasured(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		run   *result.Result
		block bool
		share bool
	}{
		{"relay and Debezium", machineRun("cdc", "debezium"), true, true},
		{"relay alone", machineRun("cdc", "poll-100ms"), true, false},
		{"before machine cost", machineRun("old"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s, md bytes.Buffer
			if err := writeMachineCost(&s, tc.run); err != nil {
				t.Fatal(err)
			}
			writeMachineTable(&md, tc.run)
			if got := strings.Contains(s.String(), "machine cost"); got != tc.block {
				t.Errorf("summary block shown %v, want %v:\n%s", got, tc.block, s.String())
			}
			if got := strings.Contains(md.String(), "### Machine cost"); got != tc.block {
				t.Errorf("report table shown %v, want %v:\n%s", got, tc.block, md.String())
			}
			if got := strings.Contains(s.String(), "relay's share") && strings.Contains(md.String(), "relay's share"); got != tc.share {
				t.Errorf("relay's share noted %v, want %v", got, tc.share)
			}
		})
	}
}

func TestWriteMachineTable(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	writeMachineTable(&b, machineRun("cdc", "debezium", "poll-100ms", "old"))
	out := b.String()
	for _, want := range []string{
		"| path | component | role | CPU s | CPU s per 1,000 transactions | peak RSS MiB | processes | note |\n",
		"| cdc | wal sender | database | 0.12 | 0.024 | 12.0 | 1 | – |\n",
		"| cdc | kafka broker | broker | 1.50 | 0.300 | 400.0 | 1 | – |\n",
		"| debezium | wal sender | database | n/a | n/a | n/a | – | not measured: server not on this machine |\n",
		"| debezium | kafka connect | connect | 3.00 | 0.600 | 700.0 | 1 | partial: 1 of its processes exited |\n",
		"| poll-100ms | not measured | | | | | | the run stopped before its measured window began |\n",
		"| old | not measured | | | | | | |\n",
		"On debezium cdcbench's process is the harness alone (producer and agents), on cdc the harness plus the relay",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
