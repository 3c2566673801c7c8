package result_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestReadersLinkNoDriver holds the point of this package: what reads
// results (the gate, the reports) must not link a database driver or a
// Kafka client, so that it builds and runs anywhere a result file is.
func TestReadersLinkNoDriver(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".", "../gate", "../../reports").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, banned := range []string{"github.com/jackc/", "github.com/twmb/franz-go", "github.com/cdcbench/cdcbench/bench"} {
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("a results reader depends on %s", dep)
			}
		}
	}
}

// TestInternalNeverImportsUp holds the layering the README's Layout
// promises, "down and never back up": no package under internal/ links a
// package of this module outside internal/ (bench, scenarios, producer,
// reports, agents, the commands), so that what sits below the runner
// builds, tests and changes without what sits above it. Tests may import
// upwards; the rule is about what a package links.
func TestInternalNeverImportsUp(t *testing.T) {
	const module = "github.com/cdcbench/cdcbench/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "../...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 20 {
		t.Fatalf("go list ../... listed %d packages, want every package under internal/:\n%s", len(lines), out)
	}
	for _, line := range lines {
		fields := strings.Fields(line)
		for _, dep := range fields[1:] {
			if strings.HasPrefix(dep, module) && !strings.HasPrefix(dep, module+"internal/") {
				t.Errorf("%s links %s", fields[0], dep)
			}
		}
	}
}
