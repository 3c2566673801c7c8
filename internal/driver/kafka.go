package driver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cdcbench/cdcbench/internal/relay"
	"github.com/cdcbench/cdcbench/internal/source"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// kafkaDelivery is how the CDC drivers hand rows to agents: a consumer
// group per agent on the change topic, as the seed's agents consume it.
type kafkaDelivery struct {
	env Env
	mu  sync.Mutex
	// pinned are the groups whose start was committed (pinStart).
	pinned map[string]bool
}

// Open joins agent's consumer group, whose start its first consumer pins.
func (k *kafkaDelivery) Open(ctx context.Context, agent string) (source.Source, error) {
	group := k.env.Groups + agent
	if err := k.pinStart(ctx, group); err != nil {
		return nil, err
	}
	return source.NewKafka(source.KafkaConfig{Brokers: k.env.Stack.Brokers(), Topic: stack.ChangeTopic,
		Group: group, Since: k.env.Since})
}

// pinStart commits the change topic's end offsets for a group before its
// first consumer joins, once: nothing of the path has been published yet,
// so the path's first row is the first one the group reads. Resolving
// "the first record after the path started" by time instead lets a
// consumer that joins while the probe is being appended to an empty
// partition start after it (franz-go answers a by-time miss with the end
// offset of a later request): a probe that never arrives (seen in CI). A
// consumer that rejoins later (kill-agent) resumes from the group's
// commits, so the pin is never repeated.
func (k *kafkaDelivery) pinStart(ctx context.Context, group string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pinned[group] {
		return nil
	}
	if err := stack.CommitEndOffsets(ctx, k.env.Stack.Brokers(), group, stack.ChangeTopic); err != nil {
		return err
	}
	if k.pinned == nil {
		k.pinned = map[string]bool{}
	}
	k.pinned[group] = true
	return nil
}

// deleteGroups removes the path's consumer groups: a real cluster should
// not collect them.
func (k *kafkaDelivery) deleteGroups(ctx context.Context) error {
	return stack.DeleteGroups(ctx, k.env.Stack.Brokers(), k.env.Groups)
}

// dropCapture removes what a capture that creates its own slot leaves
// (Debezium's, in Connect or Debezium Server; it never drops the slot
// itself): the slot once its WAL sender let go, the publication and the
// path's consumer groups, within 30 s.
func (k *kafkaDelivery) dropCapture(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var errs []error
	// The slot may not exist if the capture never ran.
	if err := relay.DropSlot(ctx, k.env.Stack.ReplicationDSN(), k.env.Slot); err != nil {
		errs = append(errs, err)
	}
	if err := dropPublication(ctx, k.env.Stack, k.env.Publication); err != nil {
		errs = append(errs, err)
	}
	if err := k.deleteGroups(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// createPublication publishes the table for a CDC driver.
func createPublication(ctx context.Context, env Env) error {
	if _, err := env.Admin.Exec(ctx, "CREATE PUBLICATION "+env.Publication+" FOR TABLE public.transactions"); err != nil {
		return fmt.Errorf("create publication: %w", err)
	}
	return nil
}

// dropPublication drops pub on a connection of its own: the run's admin
// connection is closed by pgx when a query on it is cancelled, which is
// exactly when cleanup matters most.
func dropPublication(ctx context.Context, st stack.Stack, pub string) error {
	conn, err := stack.ConnectHarness(ctx, st.DSN())
	if err != nil {
		return fmt.Errorf("drop publication %s: %w", pub, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pub); err != nil {
		return fmt.Errorf("drop publication %s: %w", pub, err)
	}
	return nil
}
