package stack_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// TestEmbeddedTrimsWhatGroupsRead produces to the change topic, lets a
// group consume and commit, and checks the in-process broker dropped the
// records behind the commit (kfake keeps everything in memory otherwise),
// and that the run's groups can be deleted afterwards.
func TestEmbeddedTrimsWhatGroupsRead(t *testing.T) {
	testtier.Integration(t)
	ctx, st := embedded(t)
	if i := st.Info(); i.Postgres != "embedded" || !strings.HasPrefix(i.Kafka, "kfake") || !strings.HasPrefix(i.PostgresVersion, "1") {
		t.Fatalf("info %+v", i)
	}
	if procs := st.(stack.Processes).Processes(); len(procs) != 1 || procs[0].Role != result.RoleBroker || !procs[0].InProcess || procs[0].PIDs != nil {
		t.Errorf("processes %+v, want the in-process broker alone", procs)
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
	waitLogStart(ctx, t, adm, stack.ChangeTopic, 600, "the group's commit")
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
	testtier.Integration(t)
	ctx, st := embedded(t)
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
	waitLogStart(ctx, t, kadm.NewClient(prod), stack.AlertTopic, 10, "the old alerts dropped, the fresh one kept")
}

// TestRedact covers every form a password takes in a DSN; none may survive.
func TestRedact(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"URL userinfo", "postgres://u:secret@h:5/db?sslmode=disable", "postgres://u:xxxxx@h:5/db?sslmode=disable"},
		{"postgresql scheme", "postgresql://u:secret@h/db", "postgresql://u:xxxxx@h/db"},
		{"URL user only", "postgres://u@h/db", "postgres://u@h/db"},
		{"URL no userinfo", "postgres://h/db", "postgres://h/db"},
		{"userinfo password with an @", "postgres://u:p@ss@h/db", "postgres://u:xxxxx@h/db"},
		{"userinfo percent-encoded", "postgres://u:s%40cret@h/db", "postgres://u:xxxxx@h/db"},
		{"userinfo, several hosts", "postgres://u:secret@h1:5432,h2:5433/db", "postgres://u:xxxxx@h1:5432,h2:5433/db"},
		{"query password", "postgres://u@h/db?sslmode=disable&password=secret", "postgres://u@h/db?sslmode=disable&password=xxxxx"},
		{"query password first", "postgres://h/db?password=secret&user=u", "postgres://h/db?password=xxxxx&user=u"},
		{"query sslpassword", "postgres://h/db?sslpassword=secret", "postgres://h/db?sslpassword=xxxxx"},
		{"query key percent-encoded", "postgres://h/db?pass%77ord=secret", "postgres://h/db?pass%77ord=xxxxx"},
		{"query key in capitals", "postgres://h/db?PASSWORD=secret", "postgres://h/db?PASSWORD=xxxxx"},
		{"userinfo and query", "postgres://u:one@h/db?password=two", "postgres://u:xxxxx@h/db?password=xxxxx"},
		{"query and fragment", "postgres://h/db?password=secret#frag", "postgres://h/db?password=xxxxx#frag"},
		{"query without password", "postgres://u@h/db?application_name=password", "postgres://u@h/db?application_name=password"},
		{"key=value", "host=h password=secret user=u", "host=h password=xxxxx user=u"},
		{"key=value first", "password=secret host=h", "password=xxxxx host=h"},
		{"key=value quoted with a space", "host=h password='se cret' user=u", "host=h password=xxxxx user=u"},
		{"key=value quoted with an escaped quote", `host=h password='it\'s' user=u`, "host=h password=xxxxx user=u"},
		{"key=value spaces around =", "host=h password = secret user=u", "host=h password = xxxxx user=u"},
		{"key=value sslpassword", "host=h sslpassword=secret", "host=h sslpassword=xxxxx"},
		{"key=value empty quoted password", "host=h password='' user=u", "host=h password=xxxxx user=u"},
		// libpq skips spaces after "=": the password here is "user=u".
		{"key=value value after a space", "host=h password= user=u", "host=h password= xxxxx"},
		{"key=value without password", "host=h user=u application_name=cdcbench", "host=h user=u application_name=cdcbench"},
		{"key=value whose value holds ://", "host=h password=a://b@c user=u", "host=h password=xxxxx user=u"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := stack.Redact(tc.in)
			if got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
			for _, secret := range []string{"secret", "se cret", "one", "two", "ss@h", "s%40cret", "it\\'s"} {
				if strings.Contains(tc.in, secret) && strings.Contains(got, secret) {
					t.Errorf("Redact(%q) = %q still holds %q", tc.in, got, secret)
				}
			}
		})
	}
}

// waitLogStart waits up to 20 s for partition 0 of topic to start at
// offset want (what), failing at once if it starts past it.
func waitLogStart(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, want int64, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		starts, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		o, _ := starts.Lookup(topic, 0)
		if o.Offset == want {
			return
		}
		if o.Offset > want {
			t.Fatalf("%s starts at %d, past %d (%s)", topic, o.Offset, want, what)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still starts at %d, want %d (%s)", topic, o.Offset, want, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestCommitEndOffsets: a group started at the topic's end reads what is
// appended afterwards and nothing before, whatever its reset policy says.
func TestCommitEndOffsets(t *testing.T) {
	testtier.Integration(t)
	ctx, st := embedded(t)
	prod, err := kgo.NewClient(kgo.SeedBrokers(st.Brokers()...), kgo.DefaultProduceTopic(stack.ChangeTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(v string) {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		produce("before")
	}
	if err := stack.CommitEndOffsets(ctx, st.Brokers(), "cdcbench-test-pin", stack.ChangeTopic); err != nil {
		t.Fatal(err)
	}
	produce("after")
	cons, err := kgo.NewClient(kgo.SeedBrokers(st.Brokers()...), kgo.ConsumerGroup("cdcbench-test-pin"), kgo.ConsumeTopics(stack.ChangeTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	recs := cons.PollRecords(ctx, 10).Records()
	if len(recs) != 1 || string(recs[0].Value) != "after" {
		t.Fatalf("the group read %d records; want only the one after the commit", len(recs))
	}
}

// TestEndOffsetsCancelled: a listing cut short by cancellation says so,
// rather than blaming the topic.
func TestEndOffsetsCancelled(t *testing.T) {
	testtier.Integration(t)
	ctx, st := embedded(t)
	done, stop := context.WithCancel(ctx)
	stop()
	if _, err := stack.EndOffsets(done, st.Brokers(), stack.ChangeTopic); !errors.Is(err, context.Canceled) {
		t.Errorf("EndOffsets = %v, want context.Canceled", err)
	}
	if err := stack.CommitEndOffsets(done, st.Brokers(), "cdcbench-test-g", stack.ChangeTopic); !errors.Is(err, context.Canceled) {
		t.Errorf("CommitEndOffsets = %v, want context.Canceled", err)
	}
}

// embedded starts an embedded stack for the test, closed at its end, and
// a context that bounds the test to a minute.
func embedded(t *testing.T) (context.Context, stack.Stack) {
	t.Helper()
	testtier.Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	st, err := stack.Start(ctx, stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	return ctx, st
}

// TestDeleteGroupsWithMembers: a group that still has a member is refused
// by the broker; DeleteGroups says so as a group left behind (no slot, no
// table involved), and DeleteAbandonedGroup, told its consumers are gone,
// removes the member and deletes the group.
func TestDeleteGroupsWithMembers(t *testing.T) {
	ctx, st := embedded(t)
	const group = "cdcbench-test-members"
	cons, err := kgo.NewClient(kgo.SeedBrokers(st.Brokers()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(stack.ChangeTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	adm, err := stack.NewAdmin(st.Brokers())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		cons.PollRecords(pctx, 1) // the group is joined while polling
		cancel()
		if gs, err := adm.DescribeGroups(ctx, group); err == nil && len(gs[group].Members) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the consumer never joined")
		}
	}
	err = stack.DeleteGroups(ctx, st.Brokers(), "cdcbench-test-")
	if !errors.Is(err, stack.ErrGroupsLeft) || strings.Contains(err.Error(), "slot") {
		t.Fatalf("DeleteGroups with a member = %v, want ErrGroupsLeft", err)
	}
	if err := stack.DeleteAbandonedGroup(ctx, st.Brokers(), group); err != nil {
		t.Fatalf("DeleteAbandonedGroup: %v", err)
	}
	if groups, err := adm.ListGroups(ctx); err != nil || len(groups) != 0 {
		t.Fatalf("groups after delete: %v %v", groups.Groups(), err)
	}
	if err := stack.DeleteAbandonedGroup(ctx, st.Brokers(), group); err != nil {
		t.Errorf("deleting a group that is gone: %v", err)
	}
}
