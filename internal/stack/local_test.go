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
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// TestLocalJVM starts the local stack (private PostgreSQL, real Kafka broker,
// Kafka Connect with Debezium) and checks what it reports, that it created
// the topics, that its faults work and that Close leaves nothing.
// CDCBENCH_SKIP_JVM=1 skips it.
func TestLocalJVM(t *testing.T) {
	testtier.JVM(t)
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
	jvm := st.(interface{ JVM() *jvmstack.Stack }).JVM()
	procs := st.(stack.Processes).Processes()
	broker, connect := jvm.PIDs()
	assertProcesses(t, procs, map[string]int{result.RoleBroker: broker, result.RoleConnect: connect})
	if err := st.(stack.KafkaRestarter).RestartKafka(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := cw.KillConnect(ctx, 0); err != nil {
		t.Fatal(err)
	}
	// The same resolvers follow the restarted JVMs to their new pids.
	if b, c := jvm.PIDs(); b == broker || c == connect {
		t.Errorf("pids after the restarts: broker %d (was %d), connect %d (was %d)", b, broker, c, connect)
	} else {
		assertProcesses(t, procs, map[string]int{result.RoleBroker: b, result.RoleConnect: c})
	}
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

// assertProcesses checks that procs name exactly the roles of want, each
// resolving to its pid now.
func assertProcesses(t *testing.T, procs []stack.Process, want map[string]int) {
	t.Helper()
	if len(procs) != len(want) {
		t.Fatalf("processes %+v, want the roles of %v", procs, want)
	}
	for _, p := range procs {
		if p.InProcess || p.PIDs == nil {
			t.Errorf("%s: in process %v, resolver %v; want a JVM", p.Role, p.InProcess, p.PIDs != nil)
			continue
		}
		if got := p.PIDs(); len(got) != 1 || got[0] != want[p.Role] {
			t.Errorf("%s resolves to %v, want [%d]", p.Role, got, want[p.Role])
		}
	}
}
