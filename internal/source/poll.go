package source

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cdcbench/cdcbench/internal/pgretry"
	"github.com/cdcbench/cdcbench/internal/txn"
)

// Polling cursor modes.
const (
	// PollNaive is what most people write: remember the highest id seen and
	// ask for ids above it. Concurrent writers commit ids out of order, so a
	// row committed after a higher id was read is never seen.
	PollNaive = "naive"
	// PollSafe never moves its cursor past an id it has not seen: the
	// cursor is the top of the contiguous run of seen ids, rows above it are
	// re-read until the gaps below them fill, and rows already delivered are
	// not delivered again. With the producer's dense ids it misses nothing,
	// whatever the commit order; a gap that never fills (a rolled-back
	// insert) costs re-reads, never a lost row.
	PollSafe = "safe"
)

// PollConfig configures a polling source.
type PollConfig struct {
	DSN string
	// AppName is the connections' application_name, by which the
	// harness finds their backends (machine cost); empty keeps the DSN's.
	AppName  string
	Interval time.Duration
	Mode     string
	Limit    int   // rows per query
	FirstID  int64 // the lowest id that will ever be written (safe mode)
}

// Poll is the baseline: an agent that queries the table every Interval.
type Poll struct {
	cfg  PollConfig
	conn *pgx.Conn
	// Safe mode state: every id below next is seen; seen holds ids at or
	// above next that were delivered.
	next int64
	seen map[int64]struct{}
	// Statements counts the queries issued (database cost).
	statements int64
	// reconnects counts connections replaced after the server dropped them.
	reconnects int64
}

var _ Source = (*Poll)(nil)

const pollSQL = `SELECT id, user_id, amount, card_type, merchant_id, created_at FROM transactions WHERE id > $1 ORDER BY id LIMIT $2`

// NewPoll connects.
func NewPoll(ctx context.Context, cfg PollConfig) (*Poll, error) {
	switch {
	case cfg.Mode != PollNaive && cfg.Mode != PollSafe:
		return nil, fmt.Errorf("poll source: mode must be %q or %q, got %q", PollSafe, PollNaive, cfg.Mode)
	case cfg.Interval <= 0:
		return nil, fmt.Errorf("poll source: interval must be positive, got %v", cfg.Interval)
	case cfg.Limit < 1:
		return nil, fmt.Errorf("poll source: limit must be positive, got %d", cfg.Limit)
	}
	p := &Poll{cfg: cfg, next: cfg.FirstID, seen: make(map[int64]struct{})}
	conn, err := p.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("poll source: %w", err)
	}
	p.conn = conn
	return p, nil
}

// connect opens a connection to the table's database, named AppName.
func (p *Poll) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(p.cfg.DSN)
	if err != nil {
		return nil, err
	}
	if p.cfg.AppName != "" {
		cfg.RuntimeParams["application_name"] = p.cfg.AppName
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// Reconnects returns how many times the source replaced its connection;
// read it after Run returned.
func (p *Poll) Reconnects() int64 { return p.reconnects }

// Statements returns how many queries the source has issued.
func (p *Poll) Statements() int64 { return p.statements }

// Skipped implements Source: polling reads only rows of the table.
func (p *Poll) Skipped() map[string]int64 { return nil }

// Run implements Source. Polls are spaced by Interval from the start of one
// to the start of the next, as a ticker-driven poller would be; a poll that
// returns a full page asks again at once.
func (p *Poll) Run(ctx context.Context, fn func(d *Delivery)) error {
	defer func() { _ = p.conn.Close(context.WithoutCancel(ctx)) }() // the last connection, after reconnects
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	var last int64 = p.cfg.FirstID - 1 // naive cursor
	for {
		for {
			cursor := last
			if p.cfg.Mode == PollSafe {
				cursor = p.next - 1
			}
			n, top, err := p.poll(ctx, cursor, fn)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if err := p.reconnect(ctx, err); err != nil {
					return err
				}
				break // poll again at the next tick, on the new connection
			}
			last = max(last, top)
			if n < p.cfg.Limit {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// reconnect replaces a connection the server dropped, under pgretry's
// policy, and reports whether it could; an error that is not a lost
// connection is returned as it is. The cursor is kept: a poller that
// reconnects carries on where it was, as a production poller would.
func (p *Poll) reconnect(ctx context.Context, err error) error {
	if !pgretry.Lost(err) {
		return err
	}
	_, err = pgretry.Default.Do(ctx, func(ctx context.Context) error {
		c, err := p.connect(ctx)
		if err != nil {
			return fmt.Errorf("poll source: reconnect: %w", err)
		}
		_ = p.conn.Close(context.WithoutCancel(ctx))
		p.conn = c
		p.reconnects++
		return nil
	})
	return err
}

// poll runs one query from cursor and returns the rows it read and the
// highest id among them.
func (p *Poll) poll(ctx context.Context, cursor int64, fn func(d *Delivery)) (int, int64, error) {
	p.statements++
	rows, err := p.conn.Query(ctx, pollSQL, cursor, p.cfg.Limit)
	if err != nil {
		return 0, cursor, fmt.Errorf("poll source: query: %w", err)
	}
	defer rows.Close()
	var (
		d       Delivery
		amount  pgtype.Numeric
		card    []byte
		created time.Time
		n       int
		top     = cursor
	)
	for rows.Next() {
		n++
		if err := rows.Scan(&d.Tx.ID, &d.Tx.UserID, &amount, &card, &d.Tx.MerchantID, &created); err != nil {
			return n, top, fmt.Errorf("poll source: scan: %w", err)
		}
		top = d.Tx.ID
		if p.cfg.Mode == PollSafe && !p.admit(d.Tx.ID) {
			continue
		}
		cents, err := numericCents(amount)
		if err != nil {
			return n, top, fmt.Errorf("poll source: row %d: %w", d.Tx.ID, err)
		}
		d.Tx.AmountCents = cents
		d.Tx.Card = txn.ParseCard(card)
		d.Tx.CreatedAt = created.UnixMicro()
		d.ReceivedNs = time.Now().UnixNano()
		fn(&d)
	}
	if err := rows.Err(); err != nil {
		return n, top, fmt.Errorf("poll source: rows: %w", err)
	}
	return n, top, nil
}

// admit records id as seen and reports whether it is new, advancing the
// contiguous cursor over ids seen earlier.
func (p *Poll) admit(id int64) bool {
	if id < p.next {
		return false
	}
	if _, dup := p.seen[id]; dup {
		return false
	}
	if id == p.next {
		p.next++
		for {
			if _, ok := p.seen[p.next]; !ok {
				break
			}
			delete(p.seen, p.next)
			p.next++
		}
		return true
	}
	p.seen[id] = struct{}{}
	return true
}

var errNumeric = errors.New("amount is not a finite numeric(10,2)")

// numericCents converts a numeric(10,2) to cents exactly.
func numericCents(n pgtype.Numeric) (int64, error) {
	if !n.Valid || n.NaN || n.InfinityModifier != pgtype.Finite || n.Int == nil || !n.Int.IsInt64() {
		return 0, errNumeric
	}
	v := n.Int.Int64()
	switch {
	case n.Exp == -2:
		return v, nil
	case n.Exp > -2:
		for e := n.Exp; e > -2; e-- {
			v *= 10
		}
		return v, nil
	default:
		for e := n.Exp; e < -2; e++ {
			if v%10 != 0 {
				return 0, errNumeric
			}
			v /= 10
		}
		return v, nil
	}
}
