#!/usr/bin/env bash
# ensure-java.sh makes sure a Java 17+ runtime (java), Maven (mvn) and kcat
# are installed, because the "local" stack (package internal/jvmstack) runs
# Apache Kafka, Kafka Connect and Debezium from Maven Central's jars, and its
# tests read the real broker's topic with kcat, a client that is not
# cdcbench's own. When something is missing and it runs as root on a
# Debian/Ubuntu machine, it installs openjdk-17-jdk-headless, maven and
# kcat with apt-get (after apt-get update). Prints one line on success.
set -euo pipefail

hint='install a JDK 17+, Maven and kcat: "apt-get install openjdk-17-jdk-headless maven kcat" (Debian/Ubuntu); set CDCBENCH_SKIP_JVM=1 to skip the tests that need them'

# java_major prints the major version of the java on PATH (or JAVA_HOME).
java_major() {
	local java=java
	[[ -n "${JAVA_HOME:-}" ]] && java="$JAVA_HOME/bin/java"
	"$java" -version 2>&1 | sed -nE '1s/.*version "(1\.)?([0-9]+).*/\2/p'
}

have_java() { local v; v=$(java_major 2>/dev/null) && [[ -n "$v" && "$v" -ge 17 ]]; }
have_mvn() { command -v mvn >/dev/null; }
have_kcat() { command -v kcat >/dev/null || command -v kafkacat >/dev/null; }

if [[ "${CDCBENCH_SKIP_JVM:-}" == 1 ]]; then
	echo "ensure-java: CDCBENCH_SKIP_JVM=1: not checking Java, Maven and kcat; the tests of the local stack (Kafka, Connect, Debezium) will skip"
	exit 0
fi

missing=()
have_java || missing+=(openjdk-17-jdk-headless)
have_mvn || missing+=(maven)
have_kcat || missing+=(kcat)

if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
		echo "ensure-java: missing ${missing[*]}; $hint" >&2
		exit 1
	fi
	log=$(mktemp)
	trap 'rm -f "$log"' EXIT
	if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		echo "ensure-java: apt-get install ${missing[*]} failed; $hint" >&2
		exit 1
	fi
	if ! have_java || ! have_mvn || ! have_kcat; then
		echo "ensure-java: installed ${missing[*]} but java 17+, mvn or kcat is still missing; $hint" >&2
		exit 1
	fi
	verb="installed ${missing[*]}; "
fi
kcat=$(command -v kcat || command -v kafkacat)
echo "ensure-java: ${verb:-}Java $(java_major), $(mvn -v 2>/dev/null | sed -nE '1s/.*Apache Maven ([0-9.]+).*/Maven \1/p'), $kcat"
