package jvmstack

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// brokerProperties is server.properties of node n of the cluster c. A
// single node is a combined broker+controller. The quorum is static
// (controller.quorum.voters), so the storage is formatted without
// --standalone (StorageTool rejects it with static voters). Replication
// factors are c.replication() (1 on one node); the internal topics get
// one partition each, which a benchmark needs no more of and creates
// faster (50 by default); group.initial.rebalance.delay.ms=0 stops the
// first consumer group from waiting 3 s, which a run would charge to its
// first events. On several nodes the default replication factor and
// min.insync.replicas are the production-like ones (c.minISR), so that the
// change and alert topics, created with the broker's defaults, get them.
func brokerProperties(c cluster, n *brokerNode, dataDir string, extra map[string]string) string {
	rf, isr := strconv.Itoa(c.replication()), strconv.Itoa(c.minISR())
	props := map[string]string{
		"process.roles":                                    "broker,controller",
		"node.id":                                          strconv.Itoa(n.id),
		"controller.quorum.voters":                         c.voters(),
		"listeners":                                        fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", n.port, n.controller),
		"advertised.listeners":                             fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", n.port),
		"controller.listener.names":                        "CONTROLLER",
		"inter.broker.listener.name":                       "PLAINTEXT",
		"listener.security.protocol.map":                   "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"log.dirs":                                         dataDir,
		"num.partitions":                                   "1",
		"default.replication.factor":                       rf,
		"min.insync.replicas":                              isr,
		"offsets.topic.replication.factor":                 rf,
		"offsets.topic.num.partitions":                     "1",
		"transaction.state.log.replication.factor":         rf,
		"transaction.state.log.min.isr":                    isr,
		"transaction.state.log.num.partitions":             "1",
		"share.coordinator.state.topic.replication.factor": rf,
		"share.coordinator.state.topic.min.isr":            isr,
		"share.coordinator.state.topic.num.partitions":     "1",
		"group.initial.rebalance.delay.ms":                 "0",
		"auto.create.topics.enable":                        "true",
	}
	if n.controller == 0 { // a broker-only node
		props["process.roles"] = "broker"
		props["listeners"] = fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", n.port)
	}
	maps.Copy(props, extra)
	return render("server.properties of cdcbench's local stack (package jvmstack)", props)
}

// connectProperties is worker.properties of a distributed worker of the
// group cdcbench-connect. JSON converters with schemas are what the seed's
// consumers read. The storage topics have c.replication() replicas and one
// partition each. plugin.discovery=service_load reads Debezium's
// META-INF/services entries instead of scanning every class (seconds, not
// minutes); Debezium 3.6.1 carries them. producer.linger.ms=0 undoes
// KIP-1030 (Kafka 4.0 made the producer's default 5 ms, which every change
// event would wait). scheduled.rebalance.max.delay.ms=0 for a worker alone
// in its group: killed and restarted, it must get its connector back at
// once, not after 5 minutes of waiting for the lost member to return. A
// group of several keeps Connect's default (what kill-connect-worker
// measures) unless extra sets it; its producers say acks=all outright
// (Connect's source producers default to it too).
func connectProperties(c cluster, port int, pluginPath string, flush time.Duration, extra map[string]string) string {
	rf := strconv.Itoa(c.replication())
	props := map[string]string{
		"bootstrap.servers":                       c.bootstrap(),
		"group.id":                                "cdcbench-connect",
		"listeners":                               fmt.Sprintf("http://127.0.0.1:%d", port),
		"rest.advertised.host.name":               "127.0.0.1",
		"rest.advertised.port":                    strconv.Itoa(port),
		"key.converter":                           "org.apache.kafka.connect.json.JsonConverter",
		"value.converter":                         "org.apache.kafka.connect.json.JsonConverter",
		"key.converter.schemas.enable":            "true",
		"value.converter.schemas.enable":          "true",
		"config.storage.topic":                    "cdcbench-connect-configs",
		"offset.storage.topic":                    "cdcbench-connect-offsets",
		"status.storage.topic":                    "cdcbench-connect-status",
		"config.storage.replication.factor":       rf,
		"offset.storage.replication.factor":       rf,
		"status.storage.replication.factor":       rf,
		"offset.storage.partitions":               "1",
		"status.storage.partitions":               "1",
		"offset.flush.interval.ms":                strconv.FormatInt(flush.Milliseconds(), 10),
		"plugin.path":                             pluginPath,
		"plugin.discovery":                        "service_load",
		"connector.client.config.override.policy": "All",
		"producer.linger.ms":                      "0",
		// The worker's and its task producers' averages and rates
		// (source-record-poll-rate, record-queue-time-avg, ...) over
		// 2 windows of 1 s instead of 30 s: the metrics sampler reads
		// them once a second beside the latency, which a 60 s average
		// would smooth away. Only the metrics' arithmetic changes.
		"metrics.sample.window.ms":          "1000",
		"producer.metrics.sample.window.ms": "1000",
	}
	if len(c.workers) == 1 {
		props["scheduled.rebalance.max.delay.ms"] = "0"
	}
	if len(c.nodes) > 1 {
		props["producer.acks"] = "all"
	}
	maps.Copy(props, extra)
	return render("worker.properties of cdcbench's local stack (package jvmstack)", props)
}

// render writes Java properties sorted by key. Values here are paths,
// numbers and class names, which need no escaping except backslashes.
func render(title string, props map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", title)
	for _, k := range slices.Sorted(maps.Keys(props)) {
		fmt.Fprintf(&b, "%s=%s\n", k, strings.ReplaceAll(props[k], `\`, `\\`))
	}
	return b.String()
}

// newClusterID returns a KRaft cluster id as kafka-storage random-uuid
// makes one: 16 random bytes in unpadded base64url, never starting with '-'
// (which the tool's command line would take for an option). Making it here
// saves a JVM start.
func newClusterID() (string, error) {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("jvmstack: cluster id: %w", err)
		}
		id := base64.RawURLEncoding.EncodeToString(b[:])
		if !strings.HasPrefix(id, "-") && b != [16]byte{} {
			return id, nil
		}
	}
}

func writeFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return fmt.Errorf("jvmstack: %w", err)
	}
	return nil
}
