package jvmstack

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/cdcbench/cdcbench/internal/wait"
)

// ErrNoSuchNode reports a node id or worker index the stack does not run.
var ErrNoSuchNode = errors.New("no such node")

// KillBroker kills node id (node.id, from 1) with SIGKILL, as a machine
// that dies does (no controlled shutdown: its partitions' leadership moves
// only once the controller misses its heartbeats), waits down, and starts
// it again on the same ports with the same data. It returns once the node
// answers metadata requests again.
func (s *Stack) KillBroker(ctx context.Context, id int, down time.Duration) error {
	n, err := s.node(id)
	if err != nil {
		return err
	}
	if p := s.proc(&n.proc); p != nil {
		p.Kill()
	}
	// A cancelled run still gets its broker back: Close stops it in order.
	_ = wait.Sleep(ctx, down)
	return s.startBroker(context.WithoutCancel(ctx), n)
}

// PauseBroker stops node id with SIGSTOP for d and resumes it with SIGCONT:
// a broker that is slow (a long GC, a stalled disk), not dead. It is
// resumed also when ctx ends first.
func (s *Stack) PauseBroker(ctx context.Context, id int, d time.Duration) error {
	n, err := s.node(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	p := n.proc
	if p == nil || p.Exited() {
		s.mu.Unlock()
		return fmt.Errorf("jvmstack: %s is not running", s.cluster.brokerName(n))
	}
	// To the process group, as jvm.Process.Kill signals it.
	if err := syscall.Kill(-p.PID(), syscall.SIGSTOP); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("jvmstack: SIGSTOP %s: %w", s.cluster.brokerName(n), err)
	}
	n.paused = true
	s.mu.Unlock()
	_ = wait.Sleep(ctx, d)
	return s.resume(n)
}

// resume sends SIGCONT to a paused node.
func (s *Stack) resume(n *brokerNode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !n.paused {
		return nil
	}
	n.paused = false
	if n.proc == nil || n.proc.Exited() {
		return nil
	}
	if err := syscall.Kill(-n.proc.PID(), syscall.SIGCONT); err != nil {
		return fmt.Errorf("jvmstack: SIGCONT %s: %w", s.cluster.brokerName(n), err)
	}
	return nil
}

// resumeAll resumes every paused node, so that Close can stop it (a
// stopped JVM does not act on SIGTERM).
func (s *Stack) resumeAll() {
	for _, n := range s.cluster.nodes {
		_ = s.resume(n)
	}
}

// KillWorker kills worker i (from 1, the order of WorkerURLs) with
// SIGKILL, waits down and starts it again on the same port, group and
// storage topics; it returns once its REST API is ready again. The others
// keep running: what the group does meanwhile with the killed worker's
// tasks is what Connect's scheduled.rebalance.max.delay.ms decides.
func (s *Stack) KillWorker(ctx context.Context, i int, down time.Duration) error {
	if i < 1 || i > len(s.cluster.workers) {
		return fmt.Errorf("jvmstack: worker %d: %w (the stack runs %d)", i, ErrNoSuchNode, len(s.cluster.workers))
	}
	w := s.cluster.workers[i-1]
	s.killWorker(w)
	_ = wait.Sleep(ctx, down)
	return s.restartWorker(context.WithoutCancel(ctx), w)
}

func (s *Stack) node(id int) (*brokerNode, error) {
	if id < 1 || id > len(s.cluster.nodes) {
		return nil, fmt.Errorf("jvmstack: broker %d: %w (the stack runs %d)", id, ErrNoSuchNode, len(s.cluster.nodes))
	}
	return s.cluster.nodes[id-1], nil
}
