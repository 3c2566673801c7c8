// Package compose holds docker-compose.yml, the real stack cdcbench measures
// with --stack compose: PostgreSQL 17, Apache Kafka in KRaft mode, Debezium
// in Kafka Connect and Kafka UI, on pinned images.
//
// The package has no Go API. Its test checks the file's structure (pinned
// images, health checks, ports, logical WAL, the JSON converters) because
// the project's machines have no Docker engine to run the stack; where the
// docker CLI has the compose plugin, the test also runs
// `docker compose config -q`.
package compose
