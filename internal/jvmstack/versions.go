package jvmstack

import (
	"embed"
	"io/fs"
)

// The pinned versions. maven/pom.xml holds the same values (a test checks
// that they agree, and compose/docker-compose.yml is tested against them too),
// because the pom is what Maven resolves and these are what results report.
const (
	// KafkaVersion is the broker's and the Connect worker's version.
	KafkaVersion = "4.3.1"
	// DebeziumVersion is the Debezium PostgreSQL connector's version; its
	// build is against Kafka 4.3.0, the line of KafkaVersion.
	DebeziumVersion = "3.6.1.Final"
	// Log4jVersion is log4j2 behind SLF4J 1.7.36, which Kafka 4.3 logs
	// through (its poms ask for slf4j-api 1.7.36, so the binding is
	// log4j-slf4j-impl, not the SLF4J 2 log4j-slf4j2-impl).
	Log4jVersion = "2.25.4"
	// DependencyPluginVersion pins maven-dependency-plugin: Maven 3.8's
	// default is a 2.x that lacks what the pom uses.
	DependencyPluginVersion = "3.8.1"
)

// BrokerKey and ConnectKey name the cache directories of the broker's
// and the Connect worker's jars (jvm.Project.Key), by the versions they
// run, so that a version bump resolves afresh instead of mixing jars.
const (
	BrokerKey  = "broker-kafka-" + KafkaVersion
	ConnectKey = "connect-kafka-" + KafkaVersion + "-debezium-" + DebeziumVersion
)

// PostgresConnectorClass is the Debezium connector the worker must list.
const PostgresConnectorClass = "io.debezium.connector.postgresql.PostgresConnector"

//go:embed maven/pom.xml maven/broker/pom.xml maven/connect/pom.xml
var mavenFiles embed.FS

// mavenProject is the components' Maven projects: the shared parent pom
// and one directory per component.
var mavenProject, _ = fs.Sub(mavenFiles, "maven")

//go:embed log4j2.xml
var log4j2Config []byte
