package reports

import (
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/result"
)

// TestWriteExternalInstances: "1 instance", not "1 instances".
func TestWriteExternalInstances(t *testing.T) {
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
