package driver

import (
	"context"
	"fmt"
	"time"

	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/source"
	"github.com/cdcbench/cdcbench/internal/table"
)

// pollDriver is the baseline: each agent instance queries the table every
// interval; nothing to set up on the server.
type pollDriver struct {
	interval time.Duration
	mode     string
	limit    int
	dsn, app string
}

func (p *pollDriver) Start(_ context.Context, env Env) error {
	p.dsn, p.app = env.Stack.DSN(), env.Application
	return nil
}

func (p *pollDriver) Open(ctx context.Context, _ string) (source.Source, error) {
	return source.NewPoll(ctx, source.PollConfig{DSN: p.dsn, AppName: p.app, Interval: p.interval, Mode: p.mode,
		Limit: p.limit, FirstID: table.ProbeID})
}

func (p *pollDriver) Report(res *result.Path) {
	res.PollMode = p.mode
	res.Capture = fmt.Sprintf("SELECT every %v (%s cursor)", p.interval, p.mode)
}

func (p *pollDriver) Stop(context.Context) error { return nil }

// LosesRows: a naive cursor (id > last seen) skips rows that commit out of
// id order, which is what the baseline is there to show.
func (p *pollDriver) LosesRows() bool { return p.mode == source.PollNaive }
