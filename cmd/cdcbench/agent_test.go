package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/changeevent"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/testtier"
	"github.com/cdcbench/cdcbench/internal/txn"
)

// TestAgentCommand runs a standalone velocity agent against a broker and
// reads its alert back from fraud.alerts.
func TestAgentCommand(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, stack.ChangeTopic, stack.AlertTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.ConsumeTopics(stack.AlertTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	src := changeevent.Source{Version: "test", Connector: "postgresql", Name: "dbserver1", DB: "db", Schema: "public", Table: "transactions"}
	for i := int64(1); i <= 6; i++ {
		tx := txn.Row{ID: i, UserID: 1001, AmountCents: 100, Card: txn.CardVisa, MerchantID: 1, CreatedAt: 1767806283000000 + i}
		if i == 6 {
			tx.AmountCents = 450000 // the sixth in 60 s, above 4000: 40 + 50
		}
		v := changeevent.AppendValue(nil, &tx, &src, 'c', tx.CreatedAt)
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: stack.ChangeTopic, Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: stack.ChangeTopic, Value: []byte("not json")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"cdcbench", "agent", "--agent", "velocity", "--brokers", kc.ListenAddrs()[0]}, &bytes.Buffer{}, &stderr)
	}()
	fctx, fcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer fcancel()
	var got bench.AlertRecord
	for got.TxID == 0 {
		f := cl.PollFetches(fctx)
		if err := f.Err(); err != nil {
			t.Fatalf("no alert: %v", err)
		}
		for _, r := range f.Records() {
			if err := json.Unmarshal(r.Value, &got); err != nil {
				t.Fatal(err)
			}
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("agent exited %d: %s", code, stderr.String())
	}
	if got.Agent != "velocity" || got.TxID != 6 || got.Score != 90 || got.CreatedAtUs != 1767806283000006 || got.VerdictNs < got.ReceivedNs || got.Clock == "" {
		t.Fatalf("alert %+v", got)
	}
	if !bytes.Contains(stderr.Bytes(), []byte("6 events, 1 alerts, skipped: not_json 1")) {
		t.Fatalf("summary: %s", stderr.String())
	}
}

// TestAgentUnreachableBrokers: an agent whose brokers do not answer says so
// and that it keeps trying, every retry, until it is stopped; its summary
// has no empty "skipped:" field.
func TestAgentUnreachableBrokers(t *testing.T) {
	defer func(d time.Duration) { kafkaRetry = d }(kafkaRetry)
	kafkaRetry = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"cdcbench", "agent", "--agent", "outlier", "--brokers", "127.0.0.1:1"}, &bytes.Buffer{}, stderr)
	}()
	const want = "agent outlier: cannot reach Kafka at 127.0.0.1:1 (attempt 3"
	if !eventually(20*time.Second, func() bool { return strings.Contains(stderr.String(), want) }) {
		t.Fatalf("after 20 s stderr is\n%s\nwant %q", stderr.String(), want)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit %d after Ctrl-C, want 0: an agent runs until it is stopped", code)
	}
	if s := stderr.String(); strings.Contains(s, "consuming") || !strings.Contains(s, "retrying every 50ms") || !strings.HasSuffix(s, "agent outlier: stopped before Kafka answered\n") {
		t.Errorf("stderr:\n%s", s)
	}
}

// TestAgentSummary: the summary lists skipped records only when there were
// some, by reason in order.
func TestAgentSummary(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, stack.ChangeTopic, stack.AlertTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"cdcbench", "agent", "--agent", "outlier", "--brokers", kc.ListenAddrs()[0]}, &bytes.Buffer{}, stderr)
	}()
	if !eventually(20*time.Second, func() bool { return strings.Contains(stderr.String(), "consuming") }) {
		t.Fatalf("stderr: %s", stderr.String())
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit %d", code)
	}
	if s := stderr.String(); !strings.HasSuffix(s, "agent outlier: 0 events, 0 alerts\n") {
		t.Errorf("summary:\n%s", s)
	}
}

// TestExternalAgents runs both agents as their own `cdcbench agent`
// processes and a run that collects their alerts from fraud.alerts: every
// alert the oracle expects arrives once, timed on the collector's clock.
func TestExternalAgents(t *testing.T) {
	testtier.Integration(t)
	pg, kc := externalStack(t)
	var procs []*cdcProc
	for _, name := range []string{"outlier", "velocity"} {
		procs = append(procs, startCdcbench(t, nil, "agent", "--agent", name, "--brokers", kc.ListenAddrs()[0], "--from-now"))
	}
	for _, p := range procs {
		if !eventually(30*time.Second, func() bool { return strings.Contains(p.stderr.String(), "consuming") || p.exited() }) || p.exited() {
			t.Fatalf("agent did not start: %s", p.stderr.String())
		}
	}
	results := t.TempDir()
	out, stderr, code := cdcbench(t, "run", "-q", "--scenario", "smoke", "--duration", "3s", "--warmup", "1s", "--paths", "cdc",
		"--stack", "external", "--pg-dsn", pg.DSN(), "--brokers", kc.ListenAddrs()[0], "--results", results,
		"--external-agents", "outlier,velocity")
	for _, p := range procs {
		p.signal(t, syscall.SIGINT, false)
		p.waitExit(t, 10*time.Second)
		if p.waitErr != nil {
			t.Errorf("agent: %v\n%s", p.waitErr, p.stderr.String())
		}
	}
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	dirs, _ := filepath.Glob(filepath.Join(results, "smoke-*"))
	res, err := result.Read(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	ext := res.Paths[0].ExternalAgents
	if len(ext) != 2 {
		t.Fatalf("external agents: %+v", ext)
	}
	for _, e := range ext {
		if e.ExpectedAlerts == 0 || e.Alerts != e.ExpectedAlerts || e.MissedAlerts != 0 || e.DuplicateAlerts != 0 ||
			len(e.Instances) != 1 || e.AlertMs.Count != e.Alerts || e.AlertMs.P50 <= 0 || e.Clock != bench.CollectorClock {
			t.Errorf("%s: %+v", e.Name, e)
		}
	}
}
