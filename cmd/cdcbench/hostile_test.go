package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/changeevent"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/testtier"
	"github.com/cdcbench/cdcbench/internal/txn"
	"github.com/cdcbench/cdcbench/producer"
)

// hostile is a record some other writer put on the change topic.
type hostile struct {
	name  string
	value []byte
	// reason is the skip reason the agents must count it under; "" for a
	// well-formed row that is not one of the run's rows, which must be
	// skipped too, under whatever reason the harness gives it.
	reason string
}

// hostileRecords builds the garbage: malformed values, events that are not
// inserts of the table, inserts with impossible values, and well-formed rows
// of another writer whose ids are outside the run's range.
func hostileRecords(t *testing.T) []hostile {
	t.Helper()
	now := time.Now().UnixMicro()
	src := changeevent.Source{Version: "hostile/1", Connector: "postgresql", Name: "dbserver1", DB: "postgres",
		Schema: "public", Table: "transactions", TsUs: now}
	// A real user of the workload with an amount far above anyone's mean:
	// fed to the detectors, it would raise an alert the oracle does not know.
	row := txn.Row{ID: 4242, UserID: producer.FirstUserID, MerchantID: 1, AmountCents: 9_999_999, Card: txn.CardAmex, CreatedAt: now}
	valid := changeevent.AppendValue(nil, &row, &src, 'c', now)
	other := src
	other.Table = "accounts"

	// edit rewrites the payload of the valid envelope.
	edit := func(f func(payload map[string]any)) []byte {
		var doc map[string]any
		dec := json.NewDecoder(bytes.NewReader(valid))
		dec.UseNumber() // keeps ids and timestamps exact
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		f(doc["payload"].(map[string]any))
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	after := func(f func(after map[string]any)) []byte {
		return edit(func(p map[string]any) { f(p["after"].(map[string]any)) })
	}
	return []hostile{
		{"not JSON", []byte("this is not JSON"), "not_json"},
		{"truncated JSON", valid[:len(valid)/2], "not_json"},
		{"an insert of another table", changeevent.AppendValue(nil, &row, &other, 'c', now), "other_table"},
		{"a delete", edit(func(p map[string]any) { p["op"], p["before"], p["after"] = "d", p["after"], nil }), "delete"},
		{"a tombstone", nil, "tombstone"},
		{"a null amount", after(func(a map[string]any) { a["amount"] = nil }), "missing_field"},
		{"a negative amount", after(func(a map[string]any) { a["amount"] = json.Number("-12.50") }), "bad_value"},
		{"a huge amount string", after(func(a map[string]any) { a["amount"] = "123456789012345678901234567890.00" }), "bad_value"},
		{"another writer's row with an extra column, id 9e15", after(func(a map[string]any) {
			a["id"], a["risk"] = json.Number("9000000000000000"), "high"
		}), ""},
		{"another writer's row just past the run's ids", after(func(a map[string]any) { a["id"] = json.Number("50000000") }), ""},
	}
}

// TestHostileChangeTopic: records on the change topic that are not the
// run's inserts must neither crash the agents nor count as rows. Each is
// counted as skipped, by reason, and the run stays valid: every row
// arrived, no alert the oracle did not expect.
func TestHostileChangeTopic(t *testing.T) {
	testtier.Integration(t)
	pg, kc := externalStack(t, kfake.SeedTopics(1, stack.ChangeTopic))
	garbage := hostileRecords(t)

	results := t.TempDir()
	p := startCdcbench(t, nil, "run", "--scenario", "smoke", "--paths", "cdc", "--duration", "3s", "--warmup", "1s",
		"--stack", "external", "--pg-dsn", pg.DSN(), "--brokers", kc.ListenAddrs()[0], "--results", results)
	// The agents read from the path's start on: the garbage goes out once
	// the probe made its trip, while the producer writes.
	if !eventually(90*time.Second, func() bool {
		return p.exited() || strings.Contains(p.stderr.String(), "path cdc: probe made the round trip")
	}) || p.exited() {
		t.Fatalf("the cdc path never started producing\nstderr:\n%s", p.stderr.String())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.DefaultProduceTopic(stack.ChangeTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := map[string]int64{}
	for i, h := range garbage {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte{byte(i)}, Value: h.value}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", h.name, err)
		}
		if h.reason != "" {
			want[h.reason]++
		}
	}

	p.waitExit(t, 2*time.Minute)
	stderr := p.stderr.String()
	if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
		t.Fatalf("cdcbench crashed on the garbage (%v):\n%s", p.waitErr, lastLines(stderr, 30))
	}
	runs, _ := filepath.Glob(filepath.Join(results, "smoke-*"))
	if len(runs) != 1 {
		t.Fatalf("result dirs %v (exit: %v)\nstderr:\n%s", runs, p.waitErr, lastLines(stderr, 20))
	}
	res, err := result.Read(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Paths) != 1 || res.Paths[0].Name != "cdc" || len(res.Paths[0].Agents) == 0 {
		t.Fatalf("paths %+v, want the cdc path with its agents", res.Paths)
	}
	for _, a := range res.Paths[0].Agents {
		t.Logf("%s: %d of %d events, skipped %v", a.Name, a.Events, a.ExpectedEvents, a.Skipped)
		var total int64
		for _, n := range a.Skipped {
			total += n
		}
		known := maps.Clone(a.Skipped)
		maps.DeleteFunc(known, func(reason string, _ int64) bool { _, ok := want[reason]; return !ok })
		if !maps.Equal(known, want) {
			t.Errorf("%s: skipped %v, want %v among them", a.Name, a.Skipped, want)
		}
		if total != int64(len(garbage)) {
			t.Errorf("%s: %d records skipped in all (%v), want all %d hostile ones: rows of another writer must be skipped too",
				a.Name, total, a.Skipped, len(garbage))
		}
		if a.Events != a.ExpectedEvents || a.DuplicateEvents != 0 {
			t.Errorf("%s: %d events (%d duplicates), want exactly the run's %d rows", a.Name, a.Events, a.DuplicateEvents, a.ExpectedEvents)
		}
		if a.UnexpectedAlerts != 0 || a.MissedAlerts != 0 {
			t.Errorf("%s: %d unexpected and %d missed alerts", a.Name, a.UnexpectedAlerts, a.MissedAlerts)
		}
	}
	if !res.Valid || p.cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("valid %v (%q), exit %v", res.Valid, res.InvalidReasons, p.waitErr)
	}
}

// TestHostileFiles: every file cdcbench reads, given as a FIFO, as
// /dev/zero or as a file far above its bound, is refused at once with exit
// 2 and a message naming it, never read (a FIFO's open blocks forever,
// /dev/zero grew to 23.6 GB resident).
func TestHostileFiles(t *testing.T) {
	kinds := []struct {
		name string
		make func(t *testing.T, path string)
		says string
	}{
		{"a FIFO", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file (a named pipe)"},
		{"/dev/zero", func(t *testing.T, path string) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file (a character device)"},
		{"a sparse 2 GiB file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, 2<<30); err != nil {
				t.Fatal(err)
			}
		}, "too large"},
	}
	// Each input names the file it makes hostile and the command line
	// reading it.
	inputs := []struct {
		name string
		args func(t *testing.T, dir, file string) []string
		file string
	}{
		{"scenario", func(t *testing.T, dir, file string) []string { return []string{"run", "--scenario", file, "--plan"} }, "s.yaml"},
		{"agent commands", func(t *testing.T, dir, file string) []string {
			return []string{"run", "--scenario", "smoke", "--agent-commands", file, "--plan"}
		}, "agents.yaml"},
		{"gate rules", func(t *testing.T, dir, file string) []string {
			return []string{"gate", writeSmoke(t, dir, "run", 10), "--rules", file}
		}, "rules.yaml"},
		{"baseline", func(t *testing.T, dir, file string) []string {
			return []string{"gate", writeSmoke(t, dir, "run", 10), "--rules", writeFile(t, filepath.Join(dir, "r.yaml"), testGateFile), "--baseline", file}
		}, "baseline.json"},
		{"result.json of gate", func(t *testing.T, dir, file string) []string { return []string{"gate", dir} }, "result.json"},
		{"result.json of report", func(t *testing.T, dir, file string) []string {
			return []string{"report", dir, "-o", filepath.Join(t.TempDir(), "r.md")}
		}, "result.json"},
		{"sweep.json", func(t *testing.T, dir, file string) []string {
			return []string{"report", dir, "-o", filepath.Join(t.TempDir(), "r.md")}
		}, "sweep.json"},
		{"latency.hlog", func(t *testing.T, dir, file string) []string {
			run := writeSmoke(t, dir, "run", 10)
			if err := os.Rename(file, filepath.Join(run, "latency.hlog")); err != nil {
				t.Fatal(err)
			}
			return []string{"report", run, "-o", filepath.Join(t.TempDir(), "r.md")}
		}, "latency.hlog"},
		{"replay file", func(t *testing.T, dir, file string) []string { return []string{"replay", file} }, "values.jsonl"},
	}
	for _, in := range inputs {
		for _, k := range kinds {
			if in.name == "replay file" && k.name == "a sparse 2 GiB file" {
				continue // streamed, each value bounded: size is no limit
			}
			t.Run(in.name+"/"+k.name, func(t *testing.T) {
				dir := t.TempDir()
				file := filepath.Join(dir, in.file)
				k.make(t, file)
				args := in.args(t, dir, file)
				type outcome struct {
					stderr string
					code   int
				}
				done := make(chan outcome, 1)
				go func() {
					_, stderr, code := cdcbench(t, args...)
					done <- outcome{stderr, code}
				}()
				select {
				case o := <-done:
					if o.code != 2 || !strings.Contains(o.stderr, k.says) || !strings.Contains(o.stderr, in.file) {
						t.Fatalf("cdcbench %s: exit %d, stderr %q; want exit 2 naming %s and saying %q", strings.Join(args, " "), o.code, o.stderr, in.file, k.says)
					}
				case <-time.After(time.Minute): // a hang, not a slow answer
					t.Fatalf("cdcbench %s still reading after a minute", strings.Join(args, " "))
				}
			})
		}
	}
}
