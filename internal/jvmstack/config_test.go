package jvmstack

import (
	"strings"
	"testing"
	"time"
)

// TestClusterProperties checks the properties of each shape: one node and
// one worker as before the cluster existed (replication factor 1, the
// worker's rebalance delay 0), three nodes as production runs them
// (replication factor 3, min.insync.replicas 2, acks=all, a quorum of
// three combined nodes), nodes past the third broker-only, and a group of
// workers on Connect's own rebalance delay.
func TestClusterProperties(t *testing.T) {
	for _, tc := range []struct {
		name             string
		brokers, workers int
		// node: the node whose server.properties is checked (from 1).
		node           int
		broker, worker []string // lines that must be there
		notWorker      []string // keys that must not be
	}{
		{"one node, one worker", 1, 1, 1,
			[]string{"process.roles=broker,controller", "default.replication.factor=1", "min.insync.replicas=1", "offsets.topic.replication.factor=1", "controller.quorum.voters=1@127.0.0.1:9101"},
			[]string{"scheduled.rebalance.max.delay.ms=0", "config.storage.replication.factor=1", "bootstrap.servers=127.0.0.1:9001"},
			[]string{"producer.acks"}},
		{"three nodes, two workers", 3, 2, 2,
			[]string{"node.id=2", "process.roles=broker,controller", "default.replication.factor=3", "min.insync.replicas=2", "offsets.topic.replication.factor=3", "transaction.state.log.min.isr=2",
				"controller.quorum.voters=1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103", "listeners=PLAINTEXT://127.0.0.1:9002,CONTROLLER://127.0.0.1:9102"},
			[]string{"producer.acks=all", "status.storage.replication.factor=3", "bootstrap.servers=127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003"},
			[]string{"scheduled.rebalance.max.delay.ms"}},
		{"two nodes: one controller", 2, 1, 2,
			[]string{"process.roles=broker\n", "default.replication.factor=2", "min.insync.replicas=1", "controller.quorum.voters=1@127.0.0.1:9101\n", "listeners=PLAINTEXT://127.0.0.1:9002\n"},
			[]string{"producer.acks=all", "scheduled.rebalance.max.delay.ms=0"}, nil},
		{"five nodes: the fourth is a broker only", 5, 1, 4,
			[]string{"node.id=4", "process.roles=broker\n", "default.replication.factor=3", "controller.quorum.voters=1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103\n"},
			nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c cluster
			for id := 1; id <= tc.brokers; id++ {
				n := &brokerNode{id: id, port: 9000 + id}
				if id <= voterCount(tc.brokers) {
					n.controller = 9100 + id
				}
				c.nodes = append(c.nodes, n)
			}
			for i := 1; i <= tc.workers; i++ {
				c.workers = append(c.workers, &workerNode{n: i, port: 8080 + i})
			}
			server := brokerProperties(c, c.nodes[tc.node-1], "/data", nil)
			worker := connectProperties(c, 8081, "/plugins", time.Second, nil)
			for _, want := range tc.broker {
				if !strings.Contains(server, want) {
					t.Errorf("server.properties lacks %q:\n%s", want, server)
				}
			}
			for _, want := range tc.worker {
				if !strings.Contains(worker, want) {
					t.Errorf("worker.properties lacks %q:\n%s", want, worker)
				}
			}
			for _, key := range tc.notWorker {
				if strings.Contains(worker, key+"=") {
					t.Errorf("worker.properties sets %s:\n%s", key, worker)
				}
			}
		})
	}
}

// TestClusterFiles: the first node's and worker's files keep the names of
// a one-node stack; the others are told apart by their number.
func TestClusterFiles(t *testing.T) {
	props, log, data := brokerFiles("/d", &brokerNode{id: 1})
	wprops, wlog := workerFiles("/d", &workerNode{n: 1})
	if props != "/d/server.properties" || log != "/d/broker.log" || data != "/d/kafka-data" || wprops != "/d/worker.properties" || wlog != "/d/connect.log" {
		t.Errorf("first node's files: %s %s %s %s %s", props, log, data, wprops, wlog)
	}
	props, log, data = brokerFiles("/d", &brokerNode{id: 3})
	wprops, wlog = workerFiles("/d", &workerNode{n: 2})
	if props != "/d/server-3.properties" || log != "/d/broker-3.log" || data != "/d/kafka-data-3" || wprops != "/d/worker-2.properties" || wlog != "/d/connect-2.log" {
		t.Errorf("other nodes' files: %s %s %s %s %s", props, log, data, wprops, wlog)
	}
}

// TestShapeBounds: a cluster larger than the machine holds, or a negative
// one, is refused before anything starts (no jars are resolved).
func TestShapeBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"too many brokers", Options{Brokers: MaxBrokers + 1}, "brokers: want 1 to 5"},
		{"negative brokers", Options{Brokers: -1}, "brokers: want 1 to 5"},
		{"too many workers", Options{ConnectWorkers: MaxConnectWorkers + 1}, "Connect workers: want 1 to 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start(t.Context(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start: %v, want %q", err, tc.want)
			}
		})
	}
}
