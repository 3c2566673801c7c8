package stack_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/ownerpid"
	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/pgtest"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// TestLeftoverDirs starts a stack with a persistent in-process Kafka in a
// temp dir of its own: its cluster and Kafka directories are listed as in
// use while it runs and are gone once it is closed; a directory without an
// owner file counts as left behind only once it is older than a start-up.
func TestLeftoverDirs(t *testing.T) {
	testtier.Integration(t)
	tmp := pgtest.ServerTempDir(t, "cdcbench-leftovertest-")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Options{PersistKafka: true})
	if err != nil {
		t.Fatal(err)
	}
	young := filepath.Join(tmp, "cdcbench-kafka-young")
	old := filepath.Join(tmp, "cdcbench-kafka-old")
	for _, d := range []string{young, old} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(old, time.Now().Add(-time.Hour), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}

	ls, err := stack.FindLeftovers(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{} // kind → live, for the stack's own dirs
	for _, l := range ls {
		switch l.Name {
		case young:
			t.Errorf("a directory without an owner file, younger than a start-up, is listed: %+v", l)
		case old:
			if l.Live {
				t.Errorf("an old directory without an owner file is in use: %+v", l)
			}
		default:
			got[l.Kind] = l.Live
		}
	}
	if len(got) != 2 || !got[stack.LeftoverClusterDir] || !got[stack.LeftoverKafkaDir] {
		t.Errorf("the running stack's dirs: %v (all: %+v); want its cluster dir and Kafka dir, both in use", got, ls)
	}

	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ls, err = stack.FindLeftovers(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || ls[0].Name != old {
		t.Errorf("after Close: %+v, want only the old ownerless dir", ls)
	}
}

// TestOrphanPostmaster: a postmaster restarted from outside (pg_ctl
// restart) and left on its cluster's removed directory, as cdcbench left it
// before it stopped whatever the directory held, is listed by clean and
// stopped when removed; a cluster directory whose owner is gone but whose
// server runs is not in use, and its server goes with it.
func TestOrphanPostmaster(t *testing.T) {
	testtier.Integration(t)
	pgtest.ServerTempDir(t, "cdcbench-orphantest-")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	pgtest.PgCtl(t, c.Dir(), c.PID(), "-m", "fast", "restart")
	orphan := pgcluster.DirPostmaster(c.Dir())
	if orphan == 0 {
		t.Fatal("no postmaster serves the cluster after pg_ctl restart")
	}
	defer syscall.Kill(orphan, syscall.SIGKILL) // should the test fail
	if err := os.RemoveAll(c.Dir()); err != nil {
		t.Fatal(err)
	}
	ls, err := stack.FindLeftovers(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var found []stack.Leftover
	for _, l := range ls {
		if l.Kind == stack.LeftoverPostmaster && l.Name == strconv.Itoa(orphan) {
			found = append(found, l)
		}
	}
	if len(found) != 1 || found[0].Live || !strings.Contains(found[0].Detail, c.Dir()) {
		t.Fatalf("leftovers %+v; want postmaster %d listed as left behind on %s", ls, orphan, c.Dir())
	}
	if err := stack.RemoveLeftovers(ctx, "", found); err != nil {
		t.Fatal(err)
	}
	if ownerpid.Running(orphan) {
		t.Errorf("postmaster %d still runs after clean", orphan)
	}
}
