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
