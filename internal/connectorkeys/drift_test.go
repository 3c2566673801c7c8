package connectorkeys_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/connectorkeys"
	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// TestProducerListMatchesKafkaClients asks the pinned kafka-clients for
// its producer configuration names (ProducerConfig.configNames(), through
// jshell beside the java the local stack runs) and compares them with the
// embedded list, so that a Kafka version bump cannot leave it stale.
// CDCBENCH_SKIP_JVM=1 skips it.
func TestProducerListMatchesKafkaClients(t *testing.T) {
	testtier.JVM(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	art, err := jvmstack.Resolve(ctx, jvmstack.ResolveOptions{})
	if err != nil {
		t.Fatalf("%v\n(set CDCBENCH_SKIP_JVM=1 to skip the tests that need Java and Maven)", err)
	}
	script := filepath.Join(t.TempDir(), "names.jsh")
	code := `System.out.println("NAMES " + String.join(" ", new java.util.TreeSet<>(org.apache.kafka.clients.producer.ProducerConfig.configNames())));` + "\n/exit\n"
	if err := os.WriteFile(script, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	jshell := filepath.Join(filepath.Dir(art.Java), "jshell")
	out, err := exec.CommandContext(ctx, jshell, "-q", "--class-path", filepath.Join(art.ConnectLib, "*"), script).Output()
	if err != nil {
		t.Fatalf("%s: %v", jshell, err)
	}
	var live []string
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "NAMES "); ok {
			live = strings.Fields(rest)
		}
	}
	if len(live) == 0 {
		t.Fatalf("jshell printed no names:\n%s", out)
	}
	slices.Sort(live)
	if !slices.Equal(live, connectorkeys.Producer) {
		t.Errorf("kafka-clients %s's producer settings differ from kafka-producer-%s.txt:\nlive: %v\nembedded: %v", jvmstack.KafkaVersion, jvmstack.KafkaVersion, live, connectorkeys.Producer)
	}
}
