package extagent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/cdcbench/cdcbench/internal/wait"
)

// StartAtEnd commits the topic's current end offsets for group before any
// member joins it. An agent joining the group then starts exactly there,
// whatever its auto.offset.reset: "earliest" would replay the topic's
// history (an earlier path's or run's rows, with the same ids), and
// "latest" is resolved only after the join, so rows produced in between
// would be lost.
func StartAtEnd(ctx context.Context, adm *kadm.Client, group, topic string) error {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	resp, err := adm.CommitOffsets(ctx, group, ends.Offsets())
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("commit start offsets for group %s: %w", group, err)
	}
	return nil
}

// WaitJoined waits until group is stable with a member assigned a
// partition of topic: the agent is consuming. It returns early with the
// agent's own error when it exits first, and with its last output lines
// when it has not joined by timeout.
func WaitJoined(ctx context.Context, adm *kadm.Client, group, topic string, p *Process, timeout time.Duration) error {
	var last string
	err := wait.Until(ctx, time.Now().Add(timeout), 100*time.Millisecond, func() (bool, error) {
		select {
		case <-p.Exited():
			return false, p.Err()
		default:
		}
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		gs, err := adm.DescribeGroups(dctx, group)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		g, ok := gs[group]
		if !ok || g.Err != nil {
			last = fmt.Sprintf("group not described: %v", g.Err)
			return false, nil
		}
		last = fmt.Sprintf("group state %q, %d members", g.State, len(g.Members))
		return g.State == "Stable" && assigned(g, topic), nil
	})
	if errors.Is(err, wait.ErrDeadline) {
		return fmt.Errorf("agent %s did not join consumer group %s on %s within %v (%s): does it read KAFKA_GROUP_ID and KAFKA_BOOTSTRAP_SERVERS, or name its own group in the agent's group field?%s",
			p.cfg.Name, group, topic, timeout, last, p.Tail())
	}
	return err
}

// assigned reports a member of g holding a partition of topic.
func assigned(g kadm.DescribedGroup, topic string) bool {
	for _, m := range g.Members {
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				if t.Topic == topic && len(t.Partitions) > 0 {
					return true
				}
			}
		}
	}
	return false
}
