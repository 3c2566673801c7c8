// Package testtier sorts cdcbench's tests into the tiers `make test` runs
// one after another, so that what needs no server runs in parallel in
// seconds and what starts JVMs does not start them side by side:
//
//   - unit: every test that calls neither function below. `go test -short
//     ./...` runs only these, packages and tests in parallel.
//   - integration: tests on private PostgreSQL clusters and kfake, or that
//     run cdcbench end to end (Integration).
//   - jvm: tests on the local stack's Kafka broker, Kafka Connect and
//     Debezium JVMs (JVM), one package at a time.
//
// A test calls one of the two, first: a JVM test starts PostgreSQL too,
// and an Integration gate in it would skip it in the JVM tier.
//
// Plain `go test ./...` runs every tier. CDCBENCH_TIER=integration or
// CDCBENCH_TIER=jvm runs one of the two beside the unit tests, as `make
// test` does; CDCBENCH_SKIP_JVM=1 skips the JVM tier (no Java or Maven).
// Only tests import this package.
package testtier

import (
	"os"
	"testing"
)

// Env selects one tier: "integration" or "jvm"; unset, every tier runs.
const Env = "CDCBENCH_TIER"

// SkipJVMEnv set to 1 skips the JVM tier, for machines without Java 17,
// Maven or Maven Central.
const SkipJVMEnv = "CDCBENCH_SKIP_JVM"

// Integration skips t under -short and in the JVM tier: it starts a
// private PostgreSQL cluster, a kfake or a cdcbench run.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: an integration test (private PostgreSQL cluster, kfake, or cdcbench end to end)")
	}
	if os.Getenv(Env) == "jvm" {
		t.Skip(Env + "=jvm: an integration test")
	}
}

// JVM skips t under -short, in the integration tier and under
// CDCBENCH_SKIP_JVM=1: it starts Kafka, Kafka Connect or Debezium as JVMs,
// or resolves their jars with mvn.
func JVM(t testing.TB) {
	t.Helper()
	switch {
	case testing.Short():
		t.Skip("-short: a JVM test (Kafka, Kafka Connect, Debezium)")
	case os.Getenv(SkipJVMEnv) == "1":
		t.Skip(SkipJVMEnv + "=1: needs Java 17+, Maven and Maven Central (or a filled jar cache)")
	case os.Getenv(Env) == "integration":
		t.Skip(Env + "=integration: a JVM test")
	}
}
