package wait_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/wait"
)

func TestUntil(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name     string
		cond     func(calls int) (bool, error)
		deadline time.Duration
		cancel   bool
		want     error
	}{
		{"holds at once", func(int) (bool, error) { return true, nil }, time.Hour, false, nil},
		{"holds later", func(n int) (bool, error) { return n >= 3, nil }, time.Hour, false, nil},
		{"never holds", func(int) (bool, error) { return false, nil }, 20 * time.Millisecond, false, wait.ErrDeadline},
		{"fails", func(n int) (bool, error) { return false, boom }, time.Hour, false, boom},
		{"cancelled", func(int) (bool, error) { return false, nil }, time.Hour, true, context.Canceled},
		{"holds at the deadline", func(n int) (bool, error) { return n >= 2, nil }, 0, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			calls := 0
			err := wait.Until(ctx, time.Now().Add(tc.deadline), time.Millisecond, func() (bool, error) {
				calls++
				return tc.cond(calls)
			})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Until = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		d      time.Duration
		cancel bool
		want   error
	}{
		{"elapses", time.Millisecond, false, nil},
		{"zero", 0, false, nil},
		{"negative", -time.Second, false, nil},
		{"cancelled before", time.Hour, true, context.Canceled},
		{"cancelled before, zero", 0, true, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			if err := wait.Sleep(ctx, tc.d); !errors.Is(err, tc.want) {
				t.Fatalf("Sleep(%v) = %v, want %v", tc.d, err, tc.want)
			}
		})
	}
	t.Run("cancelled during", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Millisecond, cancel)
		// An hour's sleep that returned at all was cut short by ctx.
		if err := wait.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep = %v, want %v", err, context.Canceled)
		}
	})
}
