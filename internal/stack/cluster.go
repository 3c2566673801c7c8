package stack

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/connect"
	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/wait"
)

// Cluster is a stack whose Kafka brokers and Connect workers are
// cdcbench's own processes on this machine (the local stack): the cluster
// faults kill and pause them. A stack cdcbench did not start is never one:
// it does not kill processes it did not start.
type Cluster interface {
	// KillLeader kills (SIGKILL) the broker leading partition 0 of topic
	// and starts it again after down; it returns that broker's name.
	KillLeader(ctx context.Context, topic string, down time.Duration) (string, error)
	// PauseLeader stops (SIGSTOP) the broker leading partition 0 of
	// topic for d and resumes it (SIGCONT); it returns its name.
	PauseLeader(ctx context.Context, topic string, d time.Duration) (string, error)
	// KillTaskWorker kills (SIGKILL) the Connect worker running task 0 of
	// connector and starts it again after down, and follows the task:
	// when it ran again and where.
	KillTaskWorker(ctx context.Context, connector, slot string, down time.Duration) (TaskMove, error)
}

// TaskMove is what became of a Connect task whose worker was killed.
type TaskMove struct {
	// Killed is the worker that ran it ("connect-1").
	Killed string
	// RanAgainAfter is from the kill to the task streaming again, seen as
	// its replication slot taken by a new WAL sender; 0 when it did not
	// within the bound (taskBound after the worker's restart).
	RanAgainAfter time.Duration
	// On is the worker that runs it then, as Connect's status reports.
	On string
}

// KillTaskWorker follows the task until the killed worker could have
// started again and Connect's default scheduled.rebalance.max.delay.ms
// (5 minutes) could have run out, whichever is later, plus taskBound for a
// rebalance and a task start on a loaded machine.
const (
	connectDefaultRebalanceDelay = 5 * time.Minute
	taskBound                    = 2 * time.Minute
)

var _ Cluster = jvmLocal{}

// KillLeader implements Cluster.
func (s jvmLocal) KillLeader(ctx context.Context, topic string, down time.Duration) (string, error) {
	return s.onLeader(ctx, topic, func(id int) error { return s.jvm.KillBroker(ctx, id, down) })
}

// PauseLeader implements Cluster.
func (s jvmLocal) PauseLeader(ctx context.Context, topic string, d time.Duration) (string, error) {
	return s.onLeader(ctx, topic, func(id int) error { return s.jvm.PauseBroker(ctx, id, d) })
}

// onLeader does fault to the leader of topic's partition 0 and names it.
func (s jvmLocal) onLeader(ctx context.Context, topic string, fault func(id int) error) (string, error) {
	id, err := s.leader(ctx, topic)
	if err != nil {
		return "", err
	}
	if err := fault(id); err != nil {
		return brokerNode(id), fmt.Errorf("stack: %w", err)
	}
	return brokerNode(id), nil
}

func brokerNode(id int) string { return fmt.Sprintf("broker-%d", id) }

// leader is the node id of the leader of topic's partition 0.
func (s jvmLocal) leader(ctx context.Context, topic string) (int, error) {
	adm, err := NewAdmin(s.brokers, kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return 0, err
	}
	defer adm.Close()
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	td, err := adm.ListTopics(cctx, topic)
	if err != nil {
		return 0, fmt.Errorf("stack: leader of %s: %w", topic, err)
	}
	p, ok := td[topic].Partitions[0]
	if !ok || p.Leader < 0 {
		return 0, fmt.Errorf("stack: %s partition 0 has no leader (%v)", topic, td[topic].Err)
	}
	return int(p.Leader), nil
}

// KillTaskWorker implements Cluster.
func (s jvmLocal) KillTaskWorker(ctx context.Context, connector, slot string, down time.Duration) (TaskMove, error) {
	urls := s.jvm.WorkerURLs()
	st, err := s.taskStatus(ctx, urls, connector)
	if err != nil {
		return TaskMove{}, err
	}
	i := workerIndex(urls, st.WorkerID)
	if i == 0 {
		return TaskMove{}, fmt.Errorf("stack: task 0 of %s runs on %s, not a worker of this stack (%v)", connector, st.WorkerID, urls)
	}
	var mv TaskMove
	mv.Killed = workerName(i)
	oldPID, err := slotPID(ctx, s.dsn, slot)
	if err != nil {
		return mv, err
	}
	killed := time.Now()
	var restartErr error
	back := make(chan struct{}) // closed once the killed worker runs again
	go func() {
		defer close(back)
		restartErr = s.jvm.KillWorker(ctx, i, down)
	}()
	// The task runs again once a new WAL sender holds its slot: on the
	// returning worker, on another one, or after Connect's default delay.
	bound := killed.Add(max(down+jvmstack.DefaultConnectReadyTimeout, connectDefaultRebalanceDelay) + taskBound)
	err = wait.Until(ctx, bound, 200*time.Millisecond, func() (bool, error) {
		pid, err := slotPID(ctx, s.dsn, slot)
		return err == nil && pid != 0 && pid != oldPID, nil
	})
	if err == nil {
		mv.RanAgainAfter = time.Since(killed)
		mv.On = s.taskWorker(ctx, urls, connector, i, back)
	}
	<-back
	if restartErr != nil {
		return mv, fmt.Errorf("stack: %w", restartErr)
	}
	if err != nil && ctx.Err() == nil {
		return mv, fmt.Errorf("stack: task 0 of %s did not run again within %s of the kill: %w", connector, bound.Sub(killed).Round(time.Second), err)
	}
	return mv, nil
}

// taskWorker names the worker that runs task 0 of connector once it runs
// again. The new owner writes its status only after the task started (and
// took the slot), and until then the status still names the killed worker
// killed: that answer is taken only once the killed worker is back (it
// may be the owner again, under the same id), else the status is asked
// again for up to a minute.
func (s jvmLocal) taskWorker(ctx context.Context, urls []string, connector string, killed int, back <-chan struct{}) string {
	var j int
	_ = wait.Until(ctx, time.Now().Add(time.Minute), 500*time.Millisecond, func() (bool, error) {
		st, err := s.taskStatus(ctx, urls, connector)
		if err != nil {
			return false, nil
		}
		j = workerIndex(urls, st.WorkerID)
		select {
		case <-back:
			return j > 0, nil
		default:
			return j > 0 && j != killed, nil
		}
	})
	if j == 0 {
		return ""
	}
	return workerName(j)
}

// taskStatus asks the workers in turn (one may be down) for task 0 of
// connector, until one reports it RUNNING.
func (s jvmLocal) taskStatus(ctx context.Context, urls []string, connector string) (connect.State, error) {
	var last error
	for _, u := range urls {
		c, err := connect.New(u, connect.WithRetries(1, 0))
		if err != nil {
			return connect.State{}, err
		}
		st, err := c.Status(ctx, connector)
		if err != nil {
			last = err
			continue
		}
		for _, t := range st.Tasks {
			if t.ID == 0 && t.State == connect.StateRunning {
				return t, nil
			}
		}
		last = fmt.Errorf("%s", st)
	}
	return connect.State{}, fmt.Errorf("stack: task 0 of %s not running: %w", connector, last)
}

// workerIndex is the worker (from 1) whose REST URL ends in worker id
// (host:port, as Connect's status names it); 0 for none.
func workerIndex(urls []string, id string) int {
	for i, u := range urls {
		if u == "http://"+id {
			return i + 1
		}
	}
	return 0
}

func workerName(i int) string { return fmt.Sprintf("connect-%d", i) }

// slotPID is the WAL sender holding slot, 0 when none does.
func slotPID(ctx context.Context, dsn, slot string) (int, error) {
	conn, err := ConnectHarness(ctx, dsn)
	if err != nil {
		return 0, fmt.Errorf("stack: slot %s: %w", slot, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var pid *int32
	err = conn.QueryRow(ctx, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&pid)
	if errors.Is(err, pgx.ErrNoRows) || pid == nil {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("stack: slot %s: %w", slot, err)
	}
	return int(*pid), nil
}
