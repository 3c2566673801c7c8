// Package wait holds the one loop behind every "until this holds or the
// deadline passes" in cdcbench: a probe row reaching the agents, a drain,
// a component becoming ready. One loop means one answer to how often to
// look, what a deadline reports, and how cancellation ends it.
package wait

import (
	"context"
	"errors"
	"time"
)

// ErrDeadline reports a condition that did not hold by the deadline.
var ErrDeadline = errors.New("deadline passed")

// Until calls cond every interval until it reports done, returns an error,
// ctx ends or the deadline passes (ErrDeadline). cond is called once at
// once, and once more at the deadline, so a condition that holds by then
// is never reported as missed.
func Until(ctx context.Context, deadline time.Time, every time.Duration, cond func() (done bool, err error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.NewTimer(time.Until(deadline))
	defer last.Stop()
	for {
		if done, err := cond(); done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-last.C:
			if done, err := cond(); done || err != nil {
				return err
			}
			return ErrDeadline
		case <-t.C:
		}
	}
}

// Sleep waits d, or until ctx ends, whichever comes first; it returns
// ctx.Err() when ctx ended first (also when it had ended before the call),
// nil otherwise. A d of zero or less returns at once. It is the one
// cancellable pause: a fault's duration, a retry's backoff, a restart's
// downtime.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
