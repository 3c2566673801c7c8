package bench

import (
	"context"
	"sync"
	"time"

	"github.com/cdcbench/cdcbench/internal/source"
	"github.com/cdcbench/cdcbench/internal/wait"
)

// agentSource runs one agent's instances, each a Source with its own
// detector (a consumer in the agent's group, or a poller), and can replace
// an instance mid-run as a crashed agent process would be: the new one
// starts from whatever the path kept (the group's committed offset, or
// nothing for a poller).
type agentSource struct {
	open func(context.Context) (source.Source, error)
	// handlers holds one callback per instance.
	handlers []func(*source.Delivery)
	fail     func(error)

	mu    sync.Mutex
	insts []instance
	all   []source.Source
}

type instance struct {
	cancel context.CancelFunc
	done   chan struct{}
	src    source.Source
}

// start starts every instance.
func (a *agentSource) start(ctx context.Context) error {
	a.mu.Lock()
	a.insts = make([]instance, len(a.handlers))
	a.mu.Unlock()
	for i := range a.handlers {
		if err := a.startInstance(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

func (a *agentSource) startInstance(ctx context.Context, i int) error {
	src, err := a.open(ctx)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	a.mu.Lock()
	a.insts[i] = instance{cancel: cancel, done: done, src: src}
	a.all = append(a.all, src)
	a.mu.Unlock()
	go func() {
		defer close(done)
		if err := src.Run(sctx, a.handlers[i]); err != nil {
			a.fail(err)
		}
	}()
	return nil
}

// assigned waits until every Kafka instance holds partitions (up to
// partitions of them can), so a probe sent next finds the group settled.
func (a *agentSource) assigned(ctx context.Context, partitions int) {
	a.mu.Lock()
	var waits []<-chan struct{}
	for _, in := range a.insts {
		if k, ok := in.src.(*source.Kafka); ok {
			waits = append(waits, k.Assigned())
		}
	}
	a.mu.Unlock()
	need := min(len(waits), partitions)
	for _, w := range waits {
		if need == 0 {
			return
		}
		select {
		case <-w:
			need--
		case <-ctx.Done():
			return
		}
	}
}

func (a *agentSource) stopInstance(i int) {
	a.mu.Lock()
	in := a.insts[i]
	a.insts[i].cancel = nil
	a.mu.Unlock()
	if in.cancel != nil {
		in.cancel()
		<-in.done
	}
}

// stop ends every instance and waits for them.
func (a *agentSource) stop() {
	for i := range a.insts {
		a.stopInstance(i)
	}
}

// restart stops the first instance and starts a new one in its place after
// down, with the same detector: a restarted process would lose its state
// too, but the oracle could not follow that, so the loss measured is the
// delivery's, not the detector's.
func (a *agentSource) restart(ctx context.Context, down time.Duration) error {
	a.stopInstance(0)
	if wait.Sleep(ctx, down) != nil {
		return nil
	}
	return a.startInstance(ctx, 0)
}

// skipped sums the skip counts of every source the agent had.
func (a *agentSource) skipped() map[string]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int64{}
	for _, s := range a.all {
		for k, v := range s.Skipped() {
			out[k] += v
		}
	}
	return out
}

// statements sums the queries of every polling source the agent had.
func (a *agentSource) statements() int64 { return a.pollSum((*source.Poll).Statements) }

// reconnects sums the connections every polling source of the agent
// replaced after the server dropped them; read it after stop.
func (a *agentSource) reconnects() int64 { return a.pollSum((*source.Poll).Reconnects) }

// pollSum sums count over every polling source the agent had.
func (a *agentSource) pollSum(count func(*source.Poll) int64) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var n int64
	for _, s := range a.all {
		if p, ok := s.(*source.Poll); ok {
			n += count(p)
		}
	}
	return n
}
