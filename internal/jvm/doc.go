// Package jvm is the one way cdcbench runs a Java program: the local
// stack's Kafka broker and Kafka Connect worker today, and the captures
// that run on a JVM (Spark, Debezium Server, Flink CDC) as they come.
//
// A program is three steps, each done here once:
//
//   - FindJava picks a java executable of at least the version the program
//     needs (JAVA_HOME, PATH, then the JDKs in /usr/lib/jvm), or says what
//     to install.
//   - Cache.Resolve fetches the program's jars: each component is its own
//     pinned Maven project, resolved by the ordinary mvn client into a
//     per-user cache directory named by its versions, once, when a run
//     first needs it; later runs only verify it.
//   - Start runs it from a Spec (a main class on a classpath, or a
//     distribution's own start script), waits for its readiness probe and
//     quotes its log when it fails or dies.
//
// No JVM outlives cdcbench: each is started with Pdeathsig=SIGKILL from an
// OS thread that lives as long as the JVM, in its own process group (a
// terminal's Ctrl-C reaches cdcbench, which stops the JVMs in its order).
// Its directory is claimed with ownerpid and named on its command line, so
// that `cdcbench clean` tells a live run's JVM from what a killed one left
// (Marked). The package is Linux-only.
package jvm
