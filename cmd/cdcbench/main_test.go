package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/testtier"
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
	badSetting := filepath.Join(dir, "setting.yaml")
	if err := os.WriteFile(badSetting, []byte("name: s\ndescription: x\nduration: 5s\nbatch_size: 10\nrate: {shape: constant, unit: rows/s, rate: 100}\npaths: [debezium]\nsettings: {debezium: {slot.name: mine}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	killConnect := filepath.Join(dir, "kill-connect.yaml")
	if err := os.WriteFile(killConnect, []byte("name: kc\ndescription: x\nduration: 10s\nbatch_size: 10\nrate: {shape: constant, unit: rows/s, rate: 100}\npaths: [cdc]\nfaults: [{kind: kill-connect, at: 2s, duration: 2s}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	killWorker := filepath.Join(dir, "kill-connect-worker.yaml")
	if err := os.WriteFile(killWorker, []byte("name: kw\ndescription: x\nduration: 10s\nbatch_size: 10\nrate: {shape: constant, unit: rows/s, rate: 100}\npaths: [cdc]\nstack: {connect_workers: 2}\nfaults: [{kind: kill-connect-worker, at: 2s, duration: 2s}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		// Both before the stack starts: the unreachable database would say so.
		{"dashboard address without a port", []string{"run", "--scenario", "smoke", "--dashboard-addr", "localhost", "--pg-dsn", "postgres://127.0.0.1:1/db"}, 2, `--dashboard-addr: address "localhost": want host:port`},
		{"dashboard port taken", []string{"run", "--scenario", "smoke", "--dashboard", "--dashboard-addr", taken.Addr().String(), "--pg-dsn", "postgres://127.0.0.1:1/db"}, exitCouldNotRun, "dashboard: cannot listen on " + taken.Addr().String()},
		{"kill-connect without a debezium path", []string{"run", "--scenario", killConnect, "--plan"}, 2, "injects kill-connect, but none of its paths (cdc) runs through Kafka Connect"},
		{"kill-connect on an external Connect", []string{"run", "--scenario", killConnect, "--plan", "--paths", "debezium", "--connect-url", "http://127.0.0.1:1", "--brokers", "127.0.0.1:1", "--pg-dsn", "postgres://127.0.0.1:1/db"}, 2, "only the local stack's own Kafka Connect worker"},
		// The cluster faults kill or pause processes: only the local stack's.
		{"cluster faults on the embedded stack", []string{"run", "--scenario", "cluster-faults", "--plan"}, 2, "injects kill-broker, which kills or pauses a process of the local stack's Kafka cluster: cdcbench does not kill processes it did not start (--stack embedded)"},
		{"cluster faults on an external stack", []string{"run", "--scenario", "cluster-faults", "--plan", "--stack", "external", "--connect-url", "http://127.0.0.1:1", "--brokers", "127.0.0.1:1", "--pg-dsn", "postgres://127.0.0.1:1/db"}, 2, "cdcbench does not kill processes it did not start (--stack external)"},
		{"a cluster on an external stack", []string{"run", "--scenario", "smoke", "--plan", "--broker-count", "3", "--brokers", "127.0.0.1:1", "--pg-dsn", "postgres://127.0.0.1:1/db"}, 2, "several brokers or Connect workers run only on --stack local"},
		// The scenario's shape is the local stack's: elsewhere it is noted
		// and left out, and the run goes on to reach the (here missing)
		// database.
		{"replication-cost on an external stack", []string{"run", "--scenario", "replication-cost", "--stack", "external", "--connect-url", "http://127.0.0.1:1", "--brokers", "127.0.0.1:1", "--pg-dsn", "postgres://127.0.0.1:1/db"}, exitCouldNotRun, "stack section shapes --stack local only"},
		{"too many brokers", []string{"run", "--scenario", "smoke", "--plan", "--stack", "local", "--broker-count", "9"}, 2, "stack.brokers: must be within 1..5, got 9"},
		{"kill-broker on one broker", []string{"run", "--scenario", "cluster-faults", "--plan", "--stack", "local", "--broker-count", "1"}, 2, "kill-broker needs stack.brokers of at least 3"},
		{"kill-connect-worker without a debezium path", []string{"run", "--scenario", killWorker, "--plan", "--stack", "local", "--paths", "cdc"}, 2, "injects kill-connect-worker, but none of its paths (cdc) runs through Kafka Connect"},
		{"unknown scenario", []string{"run", "--scenario", "nope"}, 2, `unknown scenario "nope"`},
		{"misspelt field", []string{"run", "--scenario", bad}, 2, `bad.yaml:3: unknown field "bach_size"`},
		{"impossible override", []string{"run", "--scenario", "smoke", "--batch-size", "0"}, 2, "batch_size: must be at least 1"},
		{"rate below a batch per second", []string{"run", "--scenario", "smoke", "--rate", "100", "--batch-size", "500"}, 2, "at least 1 batch/s is needed"},
		{"batch larger than the rate", []string{"run", "--scenario", "smoke", "--rate", "1000", "--batch-size", "5000"}, 2, "at least 1 batch/s is needed"},
		{"a seeded window without a batch", []string{"run", "--scenario", "smoke", "--rate", "20", "--batch-size", "20", "--duration", "1s", "--warmup", "0s", "--seed", "1"}, 2, "puts no batch in the measured window"},
		{"warmup longer than the run", []string{"run", "--scenario", "smoke", "--warmup", "1m"}, 2, "warmup: must not be longer than duration"},
		{"bad path", []string{"run", "--scenario", "smoke", "--paths", "cdc,poll-fast"}, 2, `"poll-fast"`},
		{"unknown stack", []string{"run", "--stack", "cloud"}, 2, "--stack must be"},
		{"external without a database", []string{"run", "--stack", "external", "--brokers", "127.0.0.1:1"}, 2, "--stack external needs --pg-dsn"},
		{"debezium without connect", []string{"run", "--cdc", "debezium", "--brokers", "127.0.0.1:1"}, 2, "--connect-url"},
		{"unreachable database", []string{"run", "--scenario", "smoke", "--pg-dsn", "postgres://u:secret@127.0.0.1:1/db", "--brokers", "127.0.0.1:1"}, exitCouldNotRun, "PostgreSQL at 127.0.0.1:1"},
		{"connect url that is not connect", []string{"run", "--cdc", "debezium", "--connect-url", "http://127.0.0.1:1", "--brokers", "127.0.0.1:1"}, exitCouldNotRun, "127.0.0.1:1"},
		{"replay of a missing file", []string{"replay", filepath.Join(dir, "missing.jsonl")}, 2, "no such file"},
		{"show without a name", []string{"scenarios", "show"}, 2, "want one scenario"},
		// Refused before the stack starts: the unreachable database would be exit 1.
		{"results is a file", []string{"run", "--scenario", "smoke", "--results", bad, "--pg-dsn", "postgres://127.0.0.1:1/db"}, 2, "bad.yaml is not a directory"},
		{"results under a file", []string{"run", "--scenario", "smoke", "--results", filepath.Join(bad, "runs"), "--pg-dsn", "postgres://127.0.0.1:1/db"}, 2, "bad.yaml is not a directory"},
		// A Debezium path on the embedded stack: refused before any stack
		// starts or a sweep directory is made.
		{"a debezium path without connect", []string{"run", "--scenario", "debezium-tuning", "--results", filepath.Join(dir, "none")}, 2, "scenario debezium-tuning: a debezium path needs Kafka Connect"},
		{"a setting cdcbench owns", []string{"run", "--scenario", badSetting}, 2, `settings.debezium.slot.name: set by cdcbench`},
		{"restart-kafka on an external Kafka", []string{"run", "--scenario", "faults", "--brokers", "127.0.0.1:1", "--pg-dsn", "postgres://127.0.0.1:1/db"}, 2, "restart-kafka, which only the in-process Kafka can do"},
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

// TestReplayFixtures runs the real Debezium messages through replay, one
// per line as kcat prints them and pretty-printed as they are usually shown:
// the seed's own row decodes exactly, everything else is skipped with a
// reason, both layouts give the same answers, and the last line counts them.
func TestReplayFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "internal", "changeevent", "testdata", "debezium", "0*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures found (%v): internal/changeevent/testdata/debezium", err)
	}
	var compact, pretty bytes.Buffer
	values := 0
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
		line, _ := json.Marshal(v)
		compact.Write(append(line, '\n'))
		doc, _ := json.MarshalIndent(v, "", "  ")
		pretty.Write(append(doc, "\n\n"...))
		values++
	}
	var answers []string
	for _, layout := range []struct {
		name string
		in   []byte
	}{{"one per line", compact.Bytes()}, {"pretty-printed", pretty.Bytes()}} {
		t.Run(layout.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in.json")
			if err := os.WriteFile(path, layout.in, 0o644); err != nil {
				t.Fatal(err)
			}
			out, stderr, code := cdcbench(t, "replay", path)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != values {
				t.Fatalf("%d output lines for %d values:\n%s", len(lines), values, out)
			}
			decoded, skipped := 0, 0
			var got []string
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
					got = append(got, fmt.Sprint(r.Tx.ID))
					// The fixtures' transactions rows: the seed's (001) and
					// Debezium 3.6.1's on cdcbench's table (020).
					if want := map[int64]string{38352: "2358.73", 1002: "4999.99"}[r.Tx.ID]; r.Tx.Amount != want {
						t.Errorf("decoded %+v, want row 38352 of 2358.73 or row 1002 of 4999.99", *r.Tx)
					}
				case r.Skip == "":
					t.Errorf("line neither decoded nor skipped: %s", l)
				default:
					skipped++
					got = append(got, r.Skip)
				}
			}
			if decoded != 2 {
				t.Errorf("decoded %d rows, want exactly the fixtures' two transactions rows", decoded)
			}
			if want := fmt.Sprintf("replay: %d decoded, %d skipped (", decoded, skipped); !strings.HasPrefix(stderr, want) {
				t.Errorf("stderr %q, want the counts %q...", stderr, want)
			}
			answers = append(answers, strings.Join(got, " "))
		})
	}
	if len(answers) == 2 && answers[0] != answers[1] {
		t.Errorf("the layouts differ:\n%s\n%s", answers[0], answers[1])
	}
}

// TestValueReader: values in any layout, and broken ones skipped without
// losing the values after them.
func TestValueReader(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // value@line
	}{
		{"one per line", "{\"a\":1}\n{\"b\":2}\n", []string{`{"a":1}@1`, `{"b":2}@2`}},
		{"pretty-printed", "{\n  \"a\": {\n    \"b\": [1, 2]\n  }\n}\n\n{\n  \"c\": 3\n}\n", []string{"{\n  \"a\": {\n    \"b\": [1, 2]\n  }\n}@1", "{\n  \"c\": 3\n}@7"}},
		{"several on a line", `{"a":1} {"b":2}[3]`, []string{`{"a":1}@1`, `{"b":2}@1`, `[3]@1`}},
		{"brackets in strings", `{"a":"}{\"]"} {"b":1}`, []string{`{"a":"}{\"]"}@1`, `{"b":1}@1`}},
		{"garbage and null", "not json\nnull\n{\"a\":1}", []string{"not json@1", "null@2", `{"a":1}@3`}},
		{"a truncated value", "{\"a\": {\"b\":\n{\"c\":1}\n", []string{`{"a": {"b":@1`, `{"c":1}@2`}},
		{"a truncated value at the end", `{"a": [1,`, []string{`{"a": [1,@1`}},
		{"blank", "\n \n\t\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vr := newValueReader(strings.NewReader(tc.in))
			var got []string
			for {
				v, line, err := vr.next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%s@%d", v, line))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
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
	testtier.Integration(t)
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
