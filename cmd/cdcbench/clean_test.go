package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/jvm"
	"github.com/cdcbench/cdcbench/internal/ownerpid"
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

// TestCleanSparkLeftovers: a Spark path's work dir left by a cdcbench that
// was killed (its owner gone), with a process still running from it, is
// listed and removed, the process killed; the dir of a live run is listed
// as in use and kept. The process carries the mark jvm.Start gives the
// Spark JVM (a real one would be Pdeathsig'd with its cdcbench: this
// stands in for one that survived).
func TestCleanSparkLeftovers(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dead, live := filepath.Join(tmp, stack.SparkDirPrefix+"dead"), filepath.Join(tmp, stack.SparkDirPrefix+"live")
	// A failed start of the other captures with programs of their own
	// keeps their dirs too.
	flink, server := filepath.Join(tmp, stack.FlinkCDCDirPrefix+"dead"), filepath.Join(tmp, stack.DebeziumServerDirPrefix+"dead")
	for _, d := range []string{dead, live, flink, server} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dead, flink, server} {
		if err := os.WriteFile(filepath.Join(d, ownerpid.File), fmt.Appendf(nil, "%d 1\n", gone.Process.Pid), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := ownerpid.Claim(live); err != nil {
		t.Fatal(err)
	}
	survivor := exec.Command("bash", "-c", "sleep 300; true", "-D"+jvm.MarkProperty+"="+dead)
	survivor.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := survivor.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan struct{})
	go func() { _ = survivor.Wait(); close(reaped) }()
	t.Cleanup(func() { _ = syscall.Kill(-survivor.Process.Pid, syscall.SIGKILL); <-reaped })

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"dry run lists", []string{"clean", "--dry-run"}, []string{
			fmt.Sprintf("spark work dir  %s  left behind  Spark path's work dir of a cdcbench that is gone; JVMs [%d] still running (killed on removal)", dead, survivor.Process.Pid),
			fmt.Sprintf("spark work dir  %s  in use       Spark path's work dir of a live run", live),
			fmt.Sprintf("%s  left behind  Flink CDC path's work dir of a cdcbench that is gone", flink),
			fmt.Sprintf("%s  left behind  Debezium Server path's work dir of a cdcbench that is gone", server),
			"dry run: nothing removed"}},
		{"clean removes", []string{"clean"}, []string{"removed 1 spark work dir, 1 flink cdc work dir, 1 debezium server work dir; kept 1 spark work dir in use by live runs (never removed)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := cdcbench(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s%s", code, out, errOut)
			}
			// The table's columns are as wide as its longest kind:
			// compare words, not padding.
			words := strings.Join(strings.Fields(out), " ")
			for _, w := range tc.want {
				if !strings.Contains(words, strings.Join(strings.Fields(w), " ")) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	select {
	case <-reaped:
	case <-time.After(10 * time.Second):
		t.Error("clean did not kill the process running from the Spark dir")
	}
	for _, d := range []string{dead, flink, server} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there (%v)", d, err)
		}
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the live run's dir was removed: %v", err)
	}
}
