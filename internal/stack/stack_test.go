package stack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/stack"
)

// TestEmbeddedTrimsWhatGroupsRead produces to the change topic, lets a
// group consume and commit, and checks the in-process broker dropped the
// records behind the commit (kfake keeps everything in memory otherwise),
// and that the run's groups can be deleted afterwards.
func TestEmbeddedTrimsWhatGroupsRead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	if i := st.Info(); i.Postgres != "embedded" || !strings.HasPrefix(i.Kafka, "kfake") || !strings.HasPrefix(i.PostgresVersion, "1") {
		t.Fatalf("info %+v", i)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(st.Brokers()...), kgo.DefaultProduceTopic(stack.ChangeTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for i := 0; i < 1000; i++ {
		prod.Produce(ctx, &kgo.Record{Value: []byte("x")}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(st.Brokers()...), kgo.ConsumerGroup("cdcbench-test-g"), kgo.ConsumeTopics(stack.ChangeTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for n < 600 {
		f := cons.PollRecords(ctx, 600-n)
		n += len(f.Records())
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	cons.Close()
	adm := kadm.NewClient(prod)
	deadline := time.Now().Add(20 * time.Second)
	for {
		starts, err := adm.ListStartOffsets(ctx, stack.ChangeTopic)
		if err != nil {
			t.Fatal(err)
		}
		o, _ := starts.Lookup(stack.ChangeTopic, 0)
		if o.Offset == 600 {
			break
		}
		if o.Offset > 600 {
			t.Fatalf("trimmed to %d, past the group's commit at 600", o.Offset)
		}
		if time.Now().After(deadline) {
			t.Fatalf("log start still %d, want 600 (the group's commit)", o.Offset)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := stack.DeleteGroups(ctx, st.Brokers(), "cdcbench-test-"); err != nil {
		t.Fatal(err)
	}
	groups, err := adm.ListGroups(ctx)
	if err != nil || len(groups) != 0 {
		t.Fatalf("groups after delete: %v %v", groups.Groups(), err)
	}
}

func TestRedactAndReplication(t *testing.T) {
	cases := []struct{ in, redacted, repl string }{
		{"postgres://u:secret@h:5/db?sslmode=disable", "postgres://u:xxxxx@h:5/db?sslmode=disable", "postgres://u:secret@h:5/db?replication=database&sslmode=disable"},
		{"postgres://u@h/db", "postgres://u@h/db", "postgres://u@h/db?replication=database"},
		{"host=h user=u", "host=h user=u", "host=h user=u replication=database"},
		{"host=h password=secret user=u", "host=h password=xxxxx user=u", "host=h password=secret user=u replication=database"},
		{"host=h password='se cret' user=u", "host=h password=xxxxx user=u", "host=h password='se cret' user=u replication=database"},
	}
	for _, c := range cases {
		if got := stack.Redact(c.in); got != c.redacted {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.redacted)
		}
		if got := stack.WithReplication(c.in); got != c.repl {
			t.Errorf("WithReplication(%q) = %q, want %q", c.in, got, c.repl)
		}
	}
}

// TestEmbeddedAlertsExpire checks that the in-process broker does not keep
// alerts forever: a long run raises millions, and kfake keeps every record
// in memory. Alerts older than the retention go; a fresh one stays.
func TestEmbeddedAlertsExpire(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	prod, err := kgo.NewClient(kgo.SeedBrokers(st.Brokers()...), kgo.DefaultProduceTopic(stack.AlertTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	old := time.Now().Add(-2 * time.Minute)
	for range 10 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("old"), Timestamp: old}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("fresh")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(prod)
	deadline := time.Now().Add(20 * time.Second)
	for {
		starts, err := adm.ListStartOffsets(ctx, stack.AlertTopic)
		if err != nil {
			t.Fatal(err)
		}
		o, _ := starts.Lookup(stack.AlertTopic, 0)
		if o.Offset == 10 {
			return
		}
		if o.Offset > 10 {
			t.Fatalf("log start %d: the fresh alert went too", o.Offset)
		}
		if time.Now().After(deadline) {
			t.Fatalf("log start still %d, want 10: old alerts are kept", o.Offset)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
