package main

import (
	"testing"

	"github.com/cdcbench/cdcbench/internal/stack"
)

// TestCleanSummary: clean says what it removed, by kind, and mentions slots
// only when there were some.
func TestCleanSummary(t *testing.T) {
	dir := stack.Leftover{Kind: "cluster dir", Name: "/tmp/cdcbench-pg-1"}
	slot := stack.Leftover{Kind: "slot", Name: "cdcbench_a"}
	active := stack.Leftover{Kind: "slot", Name: "cdcbench_b", Live: true}
	pub := stack.Leftover{Kind: "publication", Name: "cdcbench_a"}
	for _, tc := range []struct {
		name string
		ls   []stack.Leftover
		want string
	}{
		{"a directory", []stack.Leftover{dir}, "removed 1 cluster dir"},
		{"two directories", []stack.Leftover{dir, dir}, "removed 2 cluster dirs"},
		{"slots and a publication", []stack.Leftover{slot, pub, slot}, "removed 2 slots, 1 publication"},
		{"an active slot kept", []stack.Leftover{dir, active}, "removed 1 cluster dir; kept 1 slot in use by live runs (never removed)"},
		{"only an active slot", []stack.Leftover{active}, "removed nothing; kept 1 slot in use by live runs (never removed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cleanSummary(tc.ls); got != tc.want {
				t.Errorf("%q, want %q", got, tc.want)
			}
		})
	}
}
