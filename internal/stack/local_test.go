package stack_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// TestLocalJVM starts the local stack (private PostgreSQL, real Kafka broker,
// Kafka Connect with Debezium) and checks what it reports, that it created
// the topics, that its faults work and that Close leaves nothing.
// CDCBENCH_SKIP_JVM=1 skips it.
func TestLocalJVM(t *testing.T) {
	if os.Getenv("CDCBENCH_SKIP_JVM") == "1" {
		t.Skip("CDCBENCH_SKIP_JVM=1: skipping the local stack with a real Kafka broker and Kafka Connect")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Options{JVM: true, Partitions: 2})
	if err != nil {
		t.Fatalf("%v\n(set CDCBENCH_SKIP_JVM=1 to skip the tests that need Java and Maven)", err)
	}
	defer st.Close(context.Background())
	info := st.Info()
	if info.Postgres != "embedded" || info.Kafka != stack.LocalKafka || info.KafkaVersion != jvmstack.KafkaVersion ||
		info.ConnectVersion != jvmstack.KafkaVersion || info.DebeziumVersion != jvmstack.DebeziumVersion ||
		info.ConnectURL == "" || info.Brokers != st.Brokers()[0] {
		t.Fatalf("info %+v", info)
	}
	cw, ok := st.(stack.ConnectWorker)
	if !ok || cw.ConnectURL() != info.ConnectURL {
		t.Fatalf("not a ConnectWorker with %s", info.ConnectURL)
	}
	adm := admin(t, st.Brokers())
	td, err := adm.ListTopics(ctx, stack.ChangeTopic, stack.AlertTopic)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(td[stack.ChangeTopic].Partitions); n != 2 {
		t.Errorf("%s has %d partitions, want 2", stack.ChangeTopic, n)
	}
	if _, ok := td[stack.AlertTopic]; !ok {
		t.Errorf("no %s topic", stack.AlertTopic)
	}
	if err := st.(stack.KafkaRestarter).RestartKafka(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := cw.KillConnect(ctx, 0); err != nil {
		t.Fatal(err)
	}
	jvm := st.(interface{ JVM() *jvmstack.Stack }).JVM()
	dir := jvm.Dir()
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if b, c := jvm.PIDs(); b != 0 || c != 0 {
		t.Errorf("JVMs still running after Close: broker %d, connect %d", b, c)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left behind", dir)
	}
}

func admin(t *testing.T, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}
