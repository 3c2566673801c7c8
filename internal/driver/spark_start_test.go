package driver

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/jvm"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// elsewhere is a stack whose PostgreSQL is at an address nothing listens
// on, as a server on another host that Spark cannot reach would be. Only
// DSN is used by a Spark path's start; the embedded nil Stack makes any
// other call fail loudly.
type elsewhere struct {
	stack.Stack
	dsn string
}

func (e elsewhere) DSN() string { return e.dsn }

// TestSparkStartFailures starts the real Spark program in ways it cannot
// start: each ends Start with one error that says what failed and quotes
// the last lines of Spark's log, and leaves no JVM running. (A heap size
// Java refuses is bench's TestSparkStartFailure; no Java and a damaged jar
// cache are jvm's TestFindJava and cache tests: they fail before any
// Spark-specific code.)
func TestSparkStartFailures(t *testing.T) {
	testtier.JVM(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	for _, tc := range []struct {
		name     string
		settings map[string]string
		want     []string
	}{
		// Settings given past the scenario check (a Go caller, a file
		// edited after --plan): the program refuses and names the key.
		{"unknown option", map[string]string{"fetchsiez": "10"}, []string{
			"exited during start-up", "its log", "unknown option fetchsiez=10: the options are [fetchsize, numPartitions]"}},
		{"unreachable JDBC URL", nil, []string{
			"exited during start-up", "its log", fmt.Sprintf("Connection to 127.0.0.1:%d refused", closed)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			ctx, cancel := context.WithTimeout(context.Background(), sparkReadyTimeout+time.Minute)
			defer cancel()
			d, err := New(Path{Kind: kindSpark, Param: "1s"}, Config{Settings: tc.settings})
			if err != nil {
				t.Fatal(err)
			}
			env := Env{Stack: elsewhere{dsn: fmt.Sprintf("postgres://cdcbench@127.0.0.1:%d/postgres", closed)}, Application: "cdcbench_start_test"}
			begin := time.Now()
			err = d.Start(ctx, env)
			if err == nil {
				_ = d.Stop(ctx)
				t.Fatal("Spark started")
			}
			t.Logf("failed after %v: %v", time.Since(begin).Round(time.Millisecond), err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q", w)
				}
			}
			// The failed start keeps its dir (the error names its log);
			// nothing may run from it.
			dirs, _ := filepath.Glob(filepath.Join(tmp, stack.SparkDirPrefix+"*"))
			if len(dirs) != 1 {
				t.Fatalf("Spark dirs %v, want the failed start's one", dirs)
			}
			if pids := jvm.Marked(dirs[0]); len(pids) > 0 {
				t.Errorf("JVMs %v still running from %s", pids, dirs[0])
			}
			if _, err := os.Stat(filepath.Join(dirs[0], "spark.log")); err != nil {
				t.Errorf("the log the error names: %v", err)
			}
		})
	}
}
