package result_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/cdcbench/cdcbench/internal/result"
)

// TestPathReadsOlderFiles: a path kind's own fields, which older files
// hold beside the others, read into Driver, and the properties those files
// did not record follow from them; a current file reads as written.
func TestPathReadsOlderFiles(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     result.Path
	}{
		{"relay", `{"name": "cdc", "kind": "cdc", "relay_events": 6001, "relay_restarts": 2}`,
			result.Path{Name: "cdc", Kind: "cdc", Driver: map[string]any{"relay_events": 6001.0, "relay_restarts": 2.0}}},
		{"debezium", `{"name": "debezium", "kind": "debezium", "connector_config": {"plugin.name": "pgoutput"}, "settings": {"poll.interval.ms": "10"}}`,
			result.Path{Name: "debezium", Kind: "debezium", Driver: map[string]any{"connector_config": map[string]any{"plugin.name": "pgoutput"}},
				Settings: map[string]string{"poll.interval.ms": "10"}}},
		{"safe poll", `{"name": "poll-1s", "kind": "poll", "poll_mode": "safe"}`,
			result.Path{Name: "poll-1s", Kind: "poll", Baseline: true, Driver: map[string]any{"poll_mode": "safe"}}},
		{"naive poll", `{"name": "poll-1s", "kind": "poll", "poll_mode": "naive"}`,
			result.Path{Name: "poll-1s", Kind: "poll", Baseline: true, LosesRows: true, Driver: map[string]any{"poll_mode": "naive"}}},
		{"current", `{"name": "poll-1s", "kind": "poll", "baseline": true, "driver": {"poll_mode": "safe"}}`,
			result.Path{Name: "poll-1s", Kind: "poll", Baseline: true, Driver: map[string]any{"poll_mode": "safe"}}},
		{"current without fields of its own", `{"name": "x", "kind": "x"}`, result.Path{Name: "x", Kind: "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got result.Path
			if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("read %s\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}
