package jvmstack_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/jvm"
	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// SkipEnv is the one opt-out of the tests that need Java, Maven and Maven
// Central: CDCBENCH_SKIP_JVM=1 skips them and says so. Without it a machine
// lacking any of them fails those tests with Resolve's message.
const skipEnv = "CDCBENCH_SKIP_JVM"

var (
	resolveOnce sync.Once
	artifacts   *jvmstack.Artifacts
	resolveErr  error
)

func TestMain(m *testing.M) {
	if os.Getenv(skipEnv) == "1" {
		fmt.Printf("jvmstack: %s=1: skipping the tests that resolve Kafka %s, Connect and Debezium %s with mvn and start them "+
			"(broker, worker, Debezium plugin, kcat read-back, restarts, start-up failures, damaged cache)\n",
			skipEnv, jvmstack.KafkaVersion, jvmstack.DebeziumVersion)
	}
	os.Exit(m.Run())
}

// needJVM skips under CDCBENCH_SKIP_JVM=1 and otherwise returns the
// resolved jars (downloading them on the first call of the package), or
// fails the test with Resolve's message.
func needJVM(t *testing.T) *jvmstack.Artifacts {
	t.Helper()
	testtier.JVM(t)
	resolveOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		t0 := time.Now()
		artifacts, resolveErr = jvmstack.Resolve(ctx, jvmstack.ResolveOptions{Progress: os.Stderr})
		if resolveErr == nil {
			for _, r := range []*jvm.Resolved{artifacts.Broker, artifacts.Connect} {
				fmt.Fprintf(os.Stderr, "jvmstack: %s (fresh=%v, downloaded %d bytes, %d bytes on disk)\n", r.Dir, r.Fresh, r.Downloaded, r.Size)
			}
			fmt.Fprintf(os.Stderr, "jvmstack: resolve took %s\n", time.Since(t0).Round(time.Millisecond))
		}
	})
	if resolveErr != nil {
		t.Fatalf("%v\n(set %s=1 to skip the tests that need Java and Maven)", resolveErr, skipEnv)
	}
	return artifacts
}
