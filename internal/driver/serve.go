package driver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/table"
)

// Serve gives st a fresh transactions table and runs d on it until ctx
// ends, then removes what d created. ready is called once rows inserted
// into the table flow to the change topic. It is what `cdcbench stack up`
// runs; id names the publication, slot and groups.
func Serve(ctx context.Context, st stack.Stack, d Driver, id string, dropExisting bool, ready func()) error {
	admin, err := stack.ConnectHarness(ctx, st.DSN())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	name := "cdcbench_" + id
	if err := table.Reset(ctx, admin, name, dropExisting); err != nil {
		return err
	}
	failed := make(chan error, 1)
	env := Env{Stack: st, Admin: admin, Publication: name, Slot: name, Groups: "cdcbench-" + id + "-", Since: time.Now(),
		Fail: func(err error) {
			select {
			case failed <- err:
			default:
			}
		}}
	if err := d.Start(ctx, env); err != nil {
		return err
	}
	ready()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-failed:
	}
	return errors.Join(runErr, d.Stop(context.WithoutCancel(ctx)))
}
