package driver

import (
	"context"
	"fmt"

	"github.com/cdcbench/cdcbench/internal/source"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// kafkaDelivery is how the CDC drivers hand rows to agents: a consumer
// group per agent on the change topic, as the seed's agents consume it.
type kafkaDelivery struct {
	env Env
}

// Open joins agent's consumer group.
func (k *kafkaDelivery) Open(_ context.Context, agent string) (source.Source, error) {
	return source.NewKafka(source.KafkaConfig{Brokers: k.env.Stack.Brokers(), Topic: stack.ChangeTopic,
		Group: k.env.Groups + agent, Since: k.env.Since})
}

// Publishes marks the CDC drivers as Publishers.
func (k *kafkaDelivery) Publishes() {}

// deleteGroups removes the path's consumer groups: a real cluster should
// not collect them.
func (k *kafkaDelivery) deleteGroups(ctx context.Context) error {
	return stack.DeleteGroups(ctx, k.env.Stack.Brokers(), k.env.Groups)
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
