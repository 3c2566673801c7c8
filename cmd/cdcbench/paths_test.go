package main

import (
	"slices"
	"testing"
)

// TestWithDebezium: on the local stack a scenario's cdc path gets a
// debezium path beside it, once, and a scenario without a cdc path is
// left alone.
func TestWithDebezium(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"cdc", "poll-100ms"}, []string{"cdc", "debezium", "poll-100ms"}},
		{[]string{"cdc"}, []string{"cdc", "debezium"}},
		{[]string{"poll-1s", "cdc"}, []string{"poll-1s", "cdc", "debezium"}},
		{[]string{"debezium", "cdc"}, []string{"debezium", "cdc"}},
		{[]string{"cdc", "debezium-tuned"}, []string{"cdc", "debezium-tuned"}},
		{[]string{"poll-100ms"}, []string{"poll-100ms"}},
	} {
		in := slices.Clone(tc.in)
		if got := withDebezium(in); !slices.Equal(got, tc.want) {
			t.Errorf("withDebezium(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("withDebezium changed its argument to %v", in)
		}
	}
}
