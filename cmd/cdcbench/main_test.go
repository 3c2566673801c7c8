package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/result"
)

// cdcbench runs the command line in-process and returns its output and
// exit code.
func cdcbench(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code = run(ctx, append([]string{"cdcbench"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// TestBadInput: every mistake gets a clear message and a non-zero exit,
// quickly, never a hang or a stack trace.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\ndescription: x\nbach_size: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown scenario", []string{"run", "--scenario", "nope"}, 2, `unknown scenario "nope"`},
		{"misspelt field", []string{"run", "--scenario", bad}, 2, `bad.yaml:3: unknown field "bach_size"`},
		{"impossible override", []string{"run", "--scenario", "smoke", "--batch-size", "0"}, 2, "batch_size: must be at least 1"},
		{"rate below a batch per second", []string{"run", "--scenario", "smoke", "--rate", "100", "--batch-size", "500"}, 2, "at least 1 batch/s is needed"},
		{"batch larger than the rate", []string{"run", "--scenario", "smoke", "--rate", "1000", "--batch-size", "5000"}, 2, "at least 1 batch/s is needed"},
		{"warmup longer than the run", []string{"run", "--scenario", "smoke", "--warmup", "1m"}, 2, "warmup: must not be longer than duration"},
		{"bad path", []string{"run", "--scenario", "smoke", "--paths", "cdc,poll-fast"}, 2, `"poll-fast"`},
		{"unknown stack", []string{"run", "--stack", "cloud"}, 2, "--stack must be"},
		{"external without a database", []string{"run", "--stack", "external", "--brokers", "127.0.0.1:1"}, 2, "--stack external needs --pg-dsn"},
		{"debezium without connect", []string{"run", "--cdc", "debezium", "--brokers", "127.0.0.1:1"}, 2, "--connect-url"},
		{"unreachable database", []string{"run", "--scenario", "smoke", "--pg-dsn", "postgres://u:secret@127.0.0.1:1/db", "--brokers", "127.0.0.1:1"}, exitCouldNotRun, "PostgreSQL at 127.0.0.1:1"},
		{"connect url that is not connect", []string{"run", "--cdc", "debezium", "--connect-url", "http://127.0.0.1:1", "--brokers", "127.0.0.1:1"}, exitCouldNotRun, "127.0.0.1:1"},
		{"replay of a missing file", []string{"replay", filepath.Join(dir, "missing.jsonl")}, 2, "no such file"},
		{"show without a name", []string{"scenarios", "show"}, 2, "want one scenario"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, stderr, code := cdcbench(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, c.code, c.want)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "secret") {
				t.Fatalf("stderr leaks a stack trace or a password: %s", stderr)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Fatalf("took %v to fail", d)
			}
		})
	}
}

// TestReplayFixtures runs the real Debezium messages through replay: the
// seed's own row decodes exactly, everything else is skipped with a reason.
func TestReplayFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "internal", "changeevent", "testdata", "debezium", "0*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures found (%v): internal/changeevent/testdata/debezium", err)
	}
	var in bytes.Buffer
	for _, f := range files {
		if strings.HasSuffix(f, ".key.json") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		line, _ := json.Marshal(v) // one document per line
		in.Write(append(line, '\n'))
	}
	path := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(path, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := cdcbench(t, "replay", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	decoded := 0
	for _, l := range lines {
		var r struct {
			Tx *struct {
				ID     int64  `json:"id"`
				Amount string `json:"amount"`
			} `json:"tx"`
			Skip string `json:"skip"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("replay printed %q: %v", l, err)
		}
		switch {
		case r.Tx != nil:
			decoded++
			if r.Tx.ID != 38352 || r.Tx.Amount != "2358.73" {
				t.Errorf("decoded %+v, want the seed's row 38352 of 2358.73", *r.Tx)
			}
		case r.Skip == "":
			t.Errorf("line neither decoded nor skipped: %s", l)
		}
	}
	if decoded != 1 {
		t.Errorf("decoded %d rows, want exactly the seed's one transactions row", decoded)
	}
}

// TestExternalStack runs against a PostgreSQL and a Kafka started outside
// cdcbench, proving nothing assumes the embedded stack.
func TestExternalStack(t *testing.T) {
	pg, kc := externalStack(t)
	results := t.TempDir()
	out, stderr, code := cdcbench(t, "run", "-q", "--scenario", "smoke", "--duration", "2s", "--warmup", "1s",
		"--stack", "external", "--pg-dsn", pg.DSN(), "--brokers", kc.ListenAddrs()[0], "--results", results)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	dirs, _ := filepath.Glob(filepath.Join(results, "smoke-*"))
	if len(dirs) != 1 {
		t.Fatalf("result dirs %v", dirs)
	}
	// A second run finds the first run's table: on a database cdcbench did
	// not start it refuses to drop it unless told to, and leaves no result
	// directory: nothing was measured.
	refused := t.TempDir()
	if _, stderr, code := cdcbench(t, "run", "-q", "--scenario", "smoke", "--duration", "1s", "--warmup", "0s", "--paths", "cdc",
		"--stack", "external", "--pg-dsn", pg.DSN(), "--brokers", kc.ListenAddrs()[0], "--results", refused); code != exitCouldNotRun || !strings.Contains(stderr, "--reset-table") {
		t.Fatalf("second run over an existing table: exit %d, %s", code, stderr)
	}
	if left, _ := os.ReadDir(refused); len(left) > 0 {
		t.Errorf("a run refused before producing left %v in its results directory", left)
	}
	res, err := result.Read(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid || res.Stack.Postgres != "external" || res.Stack.Kafka != "external" || len(res.Paths) != 2 {
		t.Fatalf("result: valid %v, stack %+v, %d paths", res.Valid, res.Stack, len(res.Paths))
	}
	// The run cleaned up on a server it does not own.
	if left, _, code := cdcbench(t, "clean", "--dry-run", "--pg-dsn", pg.DSN()); code != 0 || strings.Contains(left, "slot") || strings.Contains(left, "publication") {
		t.Fatalf("leftovers after a run: %s", left)
	}
}

// externalStack starts a PostgreSQL and a Kafka outside cdcbench, as a user's
// own services would be, and stops them when the test ends.
func externalStack(t *testing.T, kopts ...kfake.Opt) (*pgcluster.Cluster, *kfake.Cluster) {
	t.Helper()
	pg, err := pgcluster.Start(context.Background(), pgcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })
	kc, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation()}, kopts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	return pg, kc
}
