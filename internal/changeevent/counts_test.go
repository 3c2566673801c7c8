package changeevent_test

import (
	"maps"
	"sync"
	"testing"

	"github.com/cdcbench/cdcbench/internal/changeevent"
)

func TestCounts(t *testing.T) {
	t.Parallel()
	var c changeevent.Counts
	if got := c.Snapshot(); len(got) != 0 {
		t.Fatalf("empty Counts snapshot = %v", got)
	}
	const goroutines, each = 4, 1000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				c.Add(changeevent.ReasonTombstone)
				c.Add(changeevent.ReasonOtherTable)
			}
		})
	}
	wg.Wait()
	c.Add(changeevent.ReasonBadValue)
	c.Add(changeevent.NumReasons) // out of range: ignored
	want := map[string]int64{"tombstone": goroutines * each, "other_table": goroutines * each, "bad_value": 1}
	if got := c.Snapshot(); !maps.Equal(got, want) {
		t.Fatalf("Snapshot() = %v, want %v", got, want)
	}
}
