package bench

import (
	"context"
	"sync"
	"time"

	"github.com/cdcbench/cdcbench/source"
)

// agentSource runs one agent's Source and can replace it mid-run, as a
// crashed agent process would be: the new source starts from whatever the
// path kept (the group's committed offset, or nothing for a poller).
type agentSource struct {
	open   func(context.Context) (source.Source, error)
	handle func(*source.Delivery)
	fail   func(error)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	all    []source.Source
}

// start opens a source and runs it until stop or ctx ends.
func (a *agentSource) start(ctx context.Context) error {
	src, err := a.open(ctx)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	a.mu.Lock()
	a.cancel, a.done = cancel, done
	a.all = append(a.all, src)
	a.mu.Unlock()
	go func() {
		defer close(done)
		if err := src.Run(sctx, a.handle); err != nil {
			a.fail(err)
		}
	}()
	return nil
}

// stop ends the running source and waits for it.
func (a *agentSource) stop() {
	a.mu.Lock()
	cancel, done := a.cancel, a.done
	a.cancel = nil
	a.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// restart stops the source and starts a new one after down.
func (a *agentSource) restart(ctx context.Context, down time.Duration) error {
	a.stop()
	select {
	case <-time.After(down):
	case <-ctx.Done():
		return nil
	}
	return a.start(ctx)
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
func (a *agentSource) statements() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var n int64
	for _, s := range a.all {
		if p, ok := s.(*source.Poll); ok {
			n += p.Statements()
		}
	}
	return n
}
