package bench_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/ownerpid"
	"github.com/cdcbench/cdcbench/internal/pgtest"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// signal is a progress log that closes ch once a line contains match.
type signal struct {
	match string
	ch    chan struct{}
	once  sync.Once
	mu    sync.Mutex
	buf   strings.Builder
}

func (s *signal) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	if strings.Contains(s.buf.String(), s.match) {
		s.once.Do(func() { close(s.ch) })
	}
	return len(p), nil
}

func (s *signal) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestCleanDuringLiveRun runs `cdcbench clean`'s find and remove on the
// server and temp dir of a run while its CDC path streams: the run must
// finish valid, with every row, while what a killed run left (a
// publication and an inactive slot in another database, a Kafka dir whose
// owner is dead) is removed.
func TestCleanDuringLiveRun(t *testing.T) {
	testtier.Integration(t)
	// A temp dir of its own, so that clean sees only this test's
	// directories.
	tmp := pgtest.ServerTempDir(t, "cdcbench-cleantest-")
	st := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A killed run's leftovers.
	deadKafka := filepath.Join(tmp, "cdcbench-kafka-1234")
	if err := os.Mkdir(deadKafka, 0o755); err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(deadKafka, ownerpid.File), fmt.Appendf(nil, "%d 1\n", dead.Process.Pid), 0o644); err != nil {
		t.Fatal(err)
	}
	otherCfg, err := pgx.ParseConfig(st.DSN())
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.ConnectConfig(ctx, otherCfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.Exec(ctx, "CREATE DATABASE other")
	admin.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	otherCfg.Database = "other"
	other, err := pgx.ConnectConfig(ctx, otherCfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{"CREATE PUBLICATION cdcbench_killed", "SELECT pg_create_logical_replication_slot('cdcbench_killed_cdc', 'pgoutput')"} {
		if _, err := other.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	other.Close(ctx)

	log := &signal{match: "probe made the round trip", ch: make(chan struct{})}
	p := plan(20, 4, 0, driver.Path{Kind: "cdc"})
	// The test is about clean, not timing: a loaded 2-core machine running
	// -race may lag the schedule by a second.
	p.ScheduleTolerance = 10 * time.Second
	done := runAsync(ctx, bench.Config{DropExisting: true, Plan: p, Stack: st, ResultsDir: t.TempDir(), Version: "test", Log: log})
	select {
	case <-log.ch:
	case r := <-done:
		t.Fatalf("the run ended before its probe: %v", r.err)
	}

	ls, err := stack.FindLeftovers(ctx, st.DSN())
	if err != nil {
		t.Fatalf("FindLeftovers: %v", err)
	}
	live := map[string]bool{}
	for _, l := range ls {
		live[l.Kind+" "+l.Database+" "+filepath.Base(l.Name)] = l.Live
		t.Logf("%s %s (%s): live %v: %s", l.Kind, l.Name, l.Database, l.Live, l.Detail)
	}
	for key, want := range map[string]bool{
		"publication other cdcbench_killed":  false,
		"slot other cdcbench_killed_cdc":     false,
		"kafka dir  cdcbench-kafka-1234":     false,
		"cluster dir  " + clusterDir(t, tmp): true,
	} {
		if got, found := live[key]; !found || got != want {
			t.Errorf("%s: found %v, live %v; want found, live %v", key, found, got, want)
		}
	}
	runs := 0
	for key, l := range live {
		if strings.HasPrefix(key, "slot postgres cdcbench_") || strings.HasPrefix(key, "publication postgres cdcbench_") {
			runs++
			if !l {
				t.Errorf("%s belongs to the live run but is not marked live", key)
			}
		}
	}
	if runs != 2 {
		t.Errorf("found %d of the live run's slot and publication, want 2", runs)
	}
	// What a run starting now would warn about: the killed run's slot only.
	inactive, err := stack.InactiveSlots(ctx, st.DSN())
	if err != nil || len(inactive) != 1 || inactive[0].Name != "cdcbench_killed_cdc" || inactive[0].RetainedBytes <= 0 {
		t.Errorf("InactiveSlots = %+v, %v; want cdcbench_killed_cdc retaining WAL", inactive, err)
	}
	if err := stack.RemoveLeftovers(ctx, st.DSN(), ls); err != nil {
		t.Fatalf("RemoveLeftovers: %v", err)
	}

	r := <-done
	if r.err != nil {
		t.Fatalf("the run failed after clean: %v", r.err)
	}
	if !r.res.Valid {
		t.Fatalf("the run is invalid after clean: %v", r.res.InvalidReasons)
	}
	if a := r.res.Paths[0].Agents[0]; a.Events != r.res.Paths[0].RowsProduced || a.Events == 0 {
		t.Errorf("%s received %d of %d rows", a.Name, a.Events, r.res.Paths[0].RowsProduced)
	}
	if _, err := os.Stat(deadKafka); !os.IsNotExist(err) {
		t.Errorf("the dead run's Kafka dir is still there (%v)", err)
	}
	left, err := stack.FindLeftovers(ctx, st.DSN())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range left {
		if !l.Live || l.Kind == stack.LeftoverSlot || l.Kind == stack.LeftoverPublication {
			t.Errorf("left after clean and the run's end: %+v", l)
		}
	}
}

// clusterDir is the name of the stack's private cluster directory in tmp.
func clusterDir(t *testing.T, tmp string) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(tmp, "cdcbench-pg-*"))
	if len(dirs) != 1 {
		t.Fatalf("cluster dirs in %s: %v, want one", tmp, dirs)
	}
	return filepath.Base(dirs[0])
}
