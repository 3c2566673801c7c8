// Package jvmstack runs the JVM half of cdcbench's "local" stack: a
// single-node KRaft Apache Kafka broker and a Kafka Connect distributed
// worker with the Debezium PostgreSQL connector, as child processes of
// cdcbench on free 127.0.0.1 ports in a temp dir of their own. Options
// Brokers and ConnectWorkers make it a replicated cluster and a group of
// workers instead (cluster.go), whose processes the cluster faults kill
// and pause (faults.go).
//
// It exists because cdcbench is meant to measure the seed's pipeline
// (PostgreSQL → Debezium in Kafka Connect → Kafka → agents) and the project's
// machines have no Docker: the compose stack never ran there, and the
// embedded default measures cdcbench's own relay against an in-process fake
// broker. Kafka, Connect and Debezium are all published on Maven Central, so
// with a JDK and Maven they can run anywhere.
//
// The jars come from two Maven projects checked in next to this file and
// embedded in the binary (maven/broker and maven/connect; maven/pom.xml
// pins every version), one per component, each resolved once into its own
// per-user cache directory keyed by its versions (BrokerKey, ConnectKey)
// by package jvm; later runs only verify the jars. Start formats the
// broker's storage, starts the broker and then the worker through
// jvm.Start, and waits until the broker answers metadata requests and the
// worker's REST API lists the Debezium connector.
//
// No JVM outlives cdcbench (jvm.Start: Pdeathsig from a locked OS thread,
// its own process group), and the stack's temp dir is claimed with
// ownerpid and named on the JVMs' command lines, so that FindLeftovers can
// tell a live stack from what a killed cdcbench left, and RemoveLeftover
// kill and remove the latter. The package is Linux-only.
package jvmstack
