package bench_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// TestInterruptedRunReportsRows stops a run while it produces: the result
// is invalid ("interrupted") and still says how many rows were produced.
func TestInterruptedRunReportsRows(t *testing.T) {
	testtier.Integration(t)
	st := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := &signal{match: "probe made the round trip", ch: make(chan struct{})}
	p := plan(20, 30, 0, driver.Path{Kind: "poll", Param: "100ms"})
	rctx, interrupt := context.WithCancel(ctx)
	done := runAsync(rctx, bench.Config{DropExisting: true, Plan: p, Stack: st, ResultsDir: t.TempDir(), Version: "test", Log: log})
	<-log.ch
	for { // until a few batches are in
		n, err := psql(st.DSN(), "SELECT count(*)::text FROM transactions")
		if err != nil {
			t.Fatal(err)
		}
		if rows, _ := strconv.Atoi(n); rows > 1500 { // past the 1 s warm-up
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	interrupt()
	r := <-done
	if r.res == nil || len(r.res.Paths) != 1 {
		t.Fatalf("no result for the interrupted path: %+v, %v", r.res, r.err)
	}
	if r.res.Valid || !slices.Contains(r.res.InvalidReasons, "interrupted") {
		t.Errorf("valid %v, reasons %q; want invalid, interrupted", r.res.Valid, r.res.InvalidReasons)
	}
	if got := r.res.Paths[0].RowsProduced; got < 500 || got%50 != 0 || r.res.Paths[0].Batches < got/50 {
		t.Errorf("rows_produced %d, batches %d; want the (more than 500) rows committed before the interrupt, whole batches", got, r.res.Paths[0].Batches)
	}
	// What the agents measured until the interrupt is kept (it was
	// "agents": null).
	if a := r.res.Paths[0].Agents; len(a) != 2 || a[0].Events == 0 || a[0].E2E.Count == 0 || a[1].Events == 0 || a[1].E2E.Count == 0 {
		t.Errorf("agents %+v; want both, with their events and histograms until the interrupt", a)
	}
	// A run without a cdc path names no CDC it did not run.
	if r.res.Stack.CDC != "" {
		t.Errorf("stack.cdc %q on a polling-only run", r.res.Stack.CDC)
	}
}
