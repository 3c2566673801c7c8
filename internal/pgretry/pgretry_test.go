package pgretry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cdcbench/cdcbench/internal/pgretry"
)

func pgErr(code string) error { return &pgconn.PgError{Severity: "FATAL", Code: code, Message: "m"} }

func TestLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"admin shutdown (pg_terminate_backend)", pgErr("57P01"), true},
		{"crash shutdown", pgErr("57P02"), true},
		{"cannot connect now (starting up)", pgErr("57P03"), true},
		{"slot still held by the dropped WAL sender", pgErr("55006"), true},
		{"wrapped admin shutdown", fmt.Errorf("copy: %w", pgErr("57P01")), true},
		{"unique violation", pgErr("23505"), false},
		{"query canceled", pgErr("57014"), false},
		{"wrong password", pgErr("28P01"), false},
		{"syntax error", pgErr("42601"), false},
		{"EOF", io.EOF, true},
		{"unexpected EOF, wrapped", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"connection reset", fmt.Errorf("read: %w", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), true},
		{"pgconn closed", fmt.Errorf("insert: %w", pgconn.ErrConnClosed), true},
		{"context canceled", context.Canceled, false},
		{"deadline, even as a net error", fmt.Errorf("%w: %w", context.DeadlineExceeded, &net.OpError{Op: "read", Err: syscall.ETIMEDOUT}), false},
		{"plain error", errors.New("relay: decode pgoutput"), false},
		{"a PgError beats a wrapped EOF", fmt.Errorf("%w: %w", pgErr("23505"), io.EOF), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pgretry.Lost(tc.err); got != tc.want {
				t.Errorf("Lost(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestDo(t *testing.T) {
	lost := pgErr("57P01")
	fatal := pgErr("23505")
	policy := pgretry.Policy{First: 100 * time.Millisecond, Max: 400 * time.Millisecond, For: 2 * time.Second}
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	for _, tc := range []struct {
		name         string
		results      []error // op's result per call; the last repeats
		cancelAt     int     // cancel ctx at this pause (1-based), 0 = never
		wantAttempts int
		wantPauses   []time.Duration
		wantIs       []error // errors.Is targets of the returned error; none = nil
	}{
		{name: "succeeds at once", results: []error{nil}, wantAttempts: 1},
		{name: "succeeds after three losses", results: []error{lost, lost, lost, nil},
			wantAttempts: 4, wantPauses: ms(100, 200, 400)},
		{name: "an error that is not a loss stops at once", results: []error{lost, fatal},
			wantAttempts: 2, wantPauses: ms(100), wantIs: []error{fatal}},
		{name: "gives up when the next pause would end past For", results: []error{lost},
			// 100+200+400+400+400 = 1500; the next 400 would end at 1900 < 2000; then 2300 > 2000.
			wantAttempts: 7, wantPauses: ms(100, 200, 400, 400, 400, 400), wantIs: []error{pgretry.ErrGaveUp, lost}},
		{name: "context ends during a pause", results: []error{lost}, cancelAt: 2,
			wantAttempts: 2, wantPauses: ms(100, 200), wantIs: []error{context.Canceled, lost}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			clk := &pgretry.FakeClock{At: time.Unix(1e9, 0)}
			clk.OnSleep = func() {
				if len(clk.Pauses) == tc.cancelAt {
					cancel()
				}
			}
			calls := 0
			attempts, err := pgretry.WithClock(policy, clk).Do(ctx, func(context.Context) error {
				r := tc.results[min(calls, len(tc.results)-1)]
				calls++
				return r
			})
			if attempts != tc.wantAttempts || calls != tc.wantAttempts {
				t.Errorf("attempts %d (op called %d times), want %d", attempts, calls, tc.wantAttempts)
			}
			if fmt.Sprint(clk.Pauses) != fmt.Sprint(tc.wantPauses) {
				t.Errorf("pauses %v, want %v", clk.Pauses, tc.wantPauses)
			}
			if len(tc.wantIs) == 0 && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
			for _, target := range tc.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("err = %v, want it to wrap %v", err, target)
				}
			}
		})
	}
}

func TestZeroPolicyIsDefault(t *testing.T) {
	clk := &pgretry.FakeClock{At: time.Unix(1e9, 0)}
	attempts, err := pgretry.WithClock(pgretry.Policy{}, clk).Do(context.Background(), func(context.Context) error { return io.EOF })
	if !errors.Is(err, pgretry.ErrGaveUp) {
		t.Fatalf("err = %v, want ErrGaveUp", err)
	}
	var total time.Duration
	for _, p := range clk.Pauses {
		total += p
		if p > pgretry.Default.Max {
			t.Errorf("pause %v above Default.Max %v", p, pgretry.Default.Max)
		}
	}
	if clk.Pauses[0] != pgretry.Default.First || total > pgretry.Default.For || total+pgretry.Default.Max <= pgretry.Default.For {
		t.Errorf("pauses %v (total %v, %d attempts) do not follow Default %+v", clk.Pauses, total, attempts, pgretry.Default)
	}
}
