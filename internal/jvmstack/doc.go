// Package jvmstack runs the JVM half of cdcbench's "local" stack: a
// single-node KRaft Apache Kafka broker and a Kafka Connect distributed
// worker with the Debezium PostgreSQL connector, as child processes of
// cdcbench on free 127.0.0.1 ports in a temp dir of their own.
//
// It exists because cdcbench is meant to measure the seed's pipeline
// (PostgreSQL → Debezium in Kafka Connect → Kafka → agents) and the project's
// machines have no Docker: the compose stack never ran there, and the
// embedded default measures cdcbench's own relay against an in-process fake
// broker. Kafka, Connect and Debezium are all published on Maven Central, so
// with a JDK and Maven they can run anywhere.
//
// The jars come from a Maven project checked in next to this file and
// embedded in the binary (maven/pom.xml pins every version). Resolve runs the
// ordinary mvn client on it once and keeps the result in a per-user cache
// keyed by the versions (CacheKey); later runs only verify the jars. Start
// formats the broker's storage, starts the broker and then the worker, and
// waits until the broker answers metadata requests and the worker's REST API
// lists the Debezium connector.
//
// No JVM outlives cdcbench: each is started with Pdeathsig=SIGKILL from an
// OS thread that lives as long as the JVM, sits in its own process group
// (a terminal's Ctrl-C reaches cdcbench, which stops the JVMs in order), and
// the stack's temp dir holds an owner file naming cdcbench's pid and the
// JVMs', so that FindLeftovers can kill and remove what a killed cdcbench
// left. The package is Linux-only.
package jvmstack
