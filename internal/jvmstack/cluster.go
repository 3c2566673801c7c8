package jvmstack

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cdcbench/cdcbench/internal/jvm"
)

// Bounds of Options.Brokers and Options.ConnectWorkers: a 2-core, 24 GiB
// machine runs five brokers and three workers beside PostgreSQL and the
// harness (each broker peaks near 0.5 GiB of RSS here, a worker near 1 GiB),
// and nothing a benchmark asks needs more.
const (
	MaxBrokers        = 5
	MaxConnectWorkers = 3
)

// controllerVoters is the size of the KRaft quorum on three or more nodes.
// The first three nodes are combined broker+controller nodes rather than
// three dedicated controllers beside the brokers: on a 2-core machine three
// more JVMs (about 0.3 GiB of RSS and a share of the cores each) would
// weigh on every figure, and a quorum of three still survives one node
// killed or paused, which is all the faults need. Kafka advises dedicated
// controllers in production so that a busy broker cannot starve its
// controller; the cluster's figures hold that caveat.
const controllerVoters = 3

// cluster is the stack's shape: its brokers (each with its ports) and how
// many Connect workers share the group.
type cluster struct {
	nodes   []*brokerNode
	workers []*workerNode
}

// brokerNode is one KRaft node. Its proc and paused are guarded by
// Stack.mu.
type brokerNode struct {
	id         int // node.id, from 1
	port       int // PLAINTEXT listener
	controller int // CONTROLLER listener; 0 on a broker-only node
	metrics    int // its JMX exporter's, kept across restarts
	proc       *jvm.Process
	paused     bool // by PauseBroker, until it sends SIGCONT
}

// workerNode is one Connect worker of the group. Its process is guarded by
// Stack.mu.
type workerNode struct {
	n       int // from 1
	port    int // REST API
	metrics int // its JMX exporter's, kept across restarts
	proc    *jvm.Process
}

// replication is the replication factor of every topic: min(3, brokers).
func (c cluster) replication() int { return min(3, len(c.nodes)) }

// minISR is min.insync.replicas: 2 where there are three replicas, so that
// an acks=all write survives one broker lost and stops (rather than
// silently losing redundancy) when two are; 1 below that.
func (c cluster) minISR() int {
	if c.replication() >= 3 {
		return 2
	}
	return 1
}

// voterCount is how many nodes are controllers: one on one or two nodes (a
// quorum of two would stop with either node), three from three on.
func voterCount(brokers int) int {
	if brokers >= controllerVoters {
		return controllerVoters
	}
	return 1
}

// voters is controller.quorum.voters.
func (c cluster) voters() string {
	var v []string
	for _, n := range c.nodes {
		if n.controller != 0 {
			v = append(v, fmt.Sprintf("%d@127.0.0.1:%d", n.id, n.controller))
		}
	}
	return strings.Join(v, ",")
}

// bootstrap is every broker's address, comma-separated, as Connect takes
// bootstrap.servers.
func (c cluster) bootstrap() string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.addr()
	}
	return strings.Join(addrs, ",")
}

func (n *brokerNode) addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

// suffix tells the files of node or worker i (from 1) apart: none for the
// first, so that a one-node stack's files keep their names (server.properties,
// broker.log, kafka-data), "-2" and on for the others.
func suffix(i int) string {
	if i == 1 {
		return ""
	}
	return "-" + strconv.Itoa(i)
}

// name is the node's in errors and logs: "Kafka broker" alone,
// "Kafka broker 2" in a cluster.
func (c cluster) brokerName(n *brokerNode) string {
	if len(c.nodes) == 1 {
		return brokerName
	}
	return brokerName + " " + strconv.Itoa(n.id)
}

func (c cluster) workerName(w *workerNode) string {
	if len(c.workers) == 1 {
		return connectName
	}
	return connectName + " " + strconv.Itoa(w.n)
}

// brokerFiles are node n's properties, log and data dir in dir.
func brokerFiles(dir string, n *brokerNode) (props, log, data string) {
	s := suffix(n.id)
	return filepath.Join(dir, "server"+s+".properties"), filepath.Join(dir, "broker"+s+".log"), filepath.Join(dir, "kafka-data"+s)
}

// workerFiles are worker w's properties and log in dir.
func workerFiles(dir string, w *workerNode) (props, log string) {
	s := suffix(w.n)
	return filepath.Join(dir, "worker"+s+".properties"), filepath.Join(dir, "connect"+s+".log")
}
