package driver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/connectorkeys"
	"github.com/cdcbench/cdcbench/internal/jvm"
)

// TestDebeziumServerVersionMatchesPom: the version results report is the
// one Maven unpacks.
func TestDebeziumServerVersionMatchesPom(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("debeziumserver/pom.xml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<version.debezium>([^<]+)</version.debezium>`).FindSubmatch(b)
	if m == nil || string(m[1]) != DebeziumServerVersion {
		t.Errorf("debeziumserver/pom.xml pins %q, DebeziumServerVersion is %s", m, DebeziumServerVersion)
	}
}

// TestCheckDebeziumServerSetting: the connector's and the engine's
// properties under debezium.source., the producer's under
// debezium.sink.kafka.producer.; what cdcbench sets refused with why; a
// misspelt key named with the one meant; a key written the Connect way
// told how Debezium Server spells it.
func TestCheckDebeziumServerSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key, value string
		want       error  // nil: accepted
		says       string // in the error
	}{
		{"debezium.source.max.batch.size", "8192", nil, ""},
		{"debezium.source.poll.interval.ms", "50", nil, ""},
		{"debezium.source.offset.flush.interval.ms", "1000", nil, ""},
		{"debezium.sink.kafka.producer.linger.ms", "5", nil, ""},
		{"debezium.sink.kafka.producer.compression.type", "lz4", nil, ""},
		{"debezium.source.max.batch.size", " ", nil, "has no value"},
		{"debezium.source.max.batch.sise", "1", connectorkeys.ErrUnknown, `did you mean "debezium.source.max.batch.size"?`},
		{"debezium.sink.kafka.producer.linger.msec", "1", connectorkeys.ErrUnknown, `did you mean "debezium.sink.kafka.producer.linger.ms"?`},
		{"debezium.source.slot.name", "x", connectorkeys.ErrReserved, "each path gets a fresh slot"},
		{"debezium.source.decimal.handling.mode", "precise", connectorkeys.ErrReserved, "double"},
		{"debezium.source.offset.storage.file.filename", "/tmp/x", connectorkeys.ErrReserved, "the path's directory"},
		{"debezium.sink.kafka.producer.bootstrap.servers", "x:9092", connectorkeys.ErrReserved, "the stack's Kafka"},
		{"max.batch.size", "1", connectorkeys.ErrUnknown, `is written "debezium.source.max.batch.size"`},
		{"producer.override.linger.ms", "1", connectorkeys.ErrUnknown, `is written "debezium.sink.kafka.producer.linger.ms"`},
		{"debezium.format.value", "avro", connectorkeys.ErrUnknown, "takes debezium.source.<connector property> and debezium.sink.kafka.producer.<producer setting>"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			err := CheckSetting(Path{Kind: kindDebeziumServer, Param: "tuned"}, tc.key, tc.value)
			switch {
			case tc.says == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)):
				t.Errorf("error %v, want one saying %q", err, tc.says)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDebeziumServerNeedsJava21: on a machine whose only Java is 17 the
// path fails at its start with one message that says what it needs, what
// was found and what to install, before downloading anything and leaving
// nothing behind. No JVM runs: the JDKs are scripts answering -version.
func TestDebeziumServerNeedsJava21(t *testing.T) {
	jdk17 := filepath.Join(t.TempDir(), "jdk-17")
	java := filepath.Join(jdk17, "bin", "java")
	if err := os.MkdirAll(filepath.Dir(java), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(java, []byte("#!/bin/sh\necho 'openjdk version \"17.0.15\" 2025-04-15' >&2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JAVA_HOME", jdk17)
	t.Setenv("PATH", t.TempDir())
	t.Setenv(jvm.JDKDirEnv, t.TempDir())
	cache, tmp := t.TempDir(), t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("TMPDIR", tmp)

	d, err := New(Path{Kind: kindDebeziumServer}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Start(context.Background(), Env{})
	if !errors.Is(err, jvm.ErrNoJava) {
		t.Fatalf("Start = %v, want ErrNoJava", err)
	}
	for _, want := range []string{"Debezium Server " + DebeziumServerVersion + " needs Java 21 or later", java + " is Java 17", "openjdk-21-jdk-headless", "JAVA_HOME"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := strings.Count(err.Error(), "\n"); n != 0 {
		t.Errorf("error has %d more lines than one: %q", n, err)
	}
	for _, dir := range []string{cache, tmp} {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("left in %s: %v", dir, entries)
		}
	}
	if err := d.Stop(context.Background()); err != nil {
		t.Errorf("Stop after a failed Start: %v", err)
	}
	t.Log("the message:", err)
}
