package jvm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogExcerpt: the first error lines are the cause, not INFO lines that
// mention an exception class.
func TestLogExcerpt(t *testing.T) {
	log := strings.Join([]string{
		"[2026-12-06 21:00:00,001] INFO ProducerConfig values: retries = 2147483647, retry.backoff.ms = 100 (org.apache.kafka.clients.producer.ProducerConfig)",
		"[2026-12-06 21:00:00,002] INFO Ignoring NotLeaderOrFollowerException for topic-0, retrying (org.apache.kafka.clients.producer.internals.Sender)",
		"[2026-12-06 21:00:00,003] DEBUG no Exception here worth quoting",
		"[2026-12-06 21:00:01,000] WARN Connection refused, retrying: java.net.ConnectException: Connection refused",
		"[2026-12-06 21:00:02,000] ERROR WorkerSourceTask{id=c-0} Task threw an uncaught and unrecoverable exception (org.apache.kafka.connect.runtime.WorkerTask)",
		"org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer.",
		"Caused by: org.postgresql.util.PSQLException: ERROR: replication slot \"s\" is active for PID 42",
		"\tat io.debezium.Foo.bar(Foo.java:1)",
		"[2026-12-06 21:00:03,000] INFO Stopping task (org.apache.kafka.connect.runtime.Worker)",
	}, "\n")
	path := filepath.Join(t.TempDir(), "connect.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	got := logExcerpt(path)
	first, _, ok := strings.Cut(strings.SplitN(got, "first error lines:\n", 2)[1], "\n  last lines:")
	if !ok {
		t.Fatalf("no sections:\n%s", got)
	}
	for _, tc := range []struct {
		line string
		in   bool
	}{
		{"Ignoring NotLeaderOrFollowerException", false},
		{"DEBUG no Exception", false},
		{"WARN Connection refused, retrying: java.net.ConnectException", true},
		{"ERROR WorkerSourceTask", true},
		{"org.apache.kafka.connect.errors.ConnectException: An exception", true},
		{"Caused by: org.postgresql.util.PSQLException", true},
	} {
		if strings.Contains(first, tc.line) != tc.in {
			t.Errorf("first error lines have %q: %v, want %v:\n%s", tc.line, !tc.in, tc.in, first)
		}
	}
}
