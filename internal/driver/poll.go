package driver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/source"
	"github.com/cdcbench/cdcbench/internal/spell"
	"github.com/cdcbench/cdcbench/internal/table"
)

// MinPollInterval is the shortest polling interval accepted. Below it the
// poller would spin on the database, measuring its own load rather than
// the path.
const MinPollInterval = time.Millisecond

// kindPoll is the baseline: agents query the table every interval, as in
// "poll-100ms".
const kindPoll = "poll"

func init() {
	Register(Kind{
		Name: kindPoll, Param: pollInterval,
		Syntax:  `"poll-<interval>" such as "poll-100ms"`,
		Default: kindPoll + "-100ms",
		New: func(p Path, cfg Config) (Driver, error) {
			d, err := time.ParseDuration(p.Param)
			if err != nil {
				return nil, fmt.Errorf("driver: path %s: %w", p, err)
			}
			return &pollDriver{interval: d, mode: cfg.PollMode, limit: cfg.PollLimit}, nil
		},
		Traits: func(string) Traits {
			return Traits{Baseline: true, Harness: "producer and polling agents", Setup: 2 * time.Second}
		},
	})
}

// pollInterval checks a polling path's interval, a Go duration of at
// least MinPollInterval, and spells it as scenario files do.
func pollInterval(param string) (string, error) {
	d, err := time.ParseDuration(param)
	if err != nil {
		return "", errors.New("the interval is a Go duration such as 100ms or 1s")
	}
	if d < MinPollInterval {
		return "", fmt.Errorf("the interval must be at least %v", MinPollInterval)
	}
	return spell.Duration(d), nil
}

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

// Report names the query and the cursor's mode (poll_mode).
func (p *pollDriver) Report(res *result.Path) {
	res.Driver = map[string]any{"poll_mode": p.mode}
	res.Capture = fmt.Sprintf("SELECT every %v (%s cursor)", p.interval, p.mode)
}

func (p *pollDriver) Stop(context.Context) error { return nil }

// LosesRows: a naive cursor (id > last seen) skips rows that commit out of
// id order, which is what the baseline is there to show.
func (p *pollDriver) LosesRows() bool { return p.mode == source.PollNaive }
