package pgretry

import (
	"context"
	"time"
)

// FakeClock is a clock that moves only when Do sleeps, and records the
// pauses, so tests of the policy take no time and depend on no timing.
type FakeClock struct {
	At     time.Time
	Pauses []time.Duration
	// OnSleep, if set, runs at each pause (to cancel a context mid-retry).
	OnSleep func()
}

func (c *FakeClock) now() time.Time { return c.At }

func (c *FakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.Pauses = append(c.Pauses, d)
	c.At = c.At.Add(d)
	if c.OnSleep != nil {
		c.OnSleep()
	}
	return context.Cause(ctx)
}

// WithClock returns p on c's time.
func WithClock(p Policy, c *FakeClock) Policy {
	p.clock = c
	return p
}
