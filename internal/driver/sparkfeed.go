package driver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cdcbench/cdcbench/internal/source"
	"github.com/cdcbench/cdcbench/internal/txn"
)

// sparkFeed carries the rows a Spark program read from its JVM to the
// agents: the program connects to a loopback socket and writes each read
// as a "batch" line and one tab-separated line per row, in id order; the
// feed decodes a read whole, stamps its rows with the moment Spark's read
// returned (Delivery.EventUs, so that the event_receive stage is the hop
// from the JVM to the agent) and hands it to every subscribed agent
// instance. A subscriber that falls behind holds the feed, and the feed
// holds the JVM's writes: back pressure, not loss.
//
// It also keeps the path's high-water mark, the top of the contiguous run
// of ids delivered: a program started again after a crash reads from it,
// and what it reads again above it is not handed over twice.
type sparkFeed struct {
	ln   net.Listener
	fail func(error)

	mu      sync.Mutex
	subs    map[*sparkSource]struct{}
	next    int64              // every id below it was delivered
	seen    map[int64]struct{} // delivered ids at or above next
	st      sparkStats
	waiting *sparkReady // the start waiting for its ready line
	conn    net.Conn
	closed  bool
}

// sparkStats count the reads that returned rows: their rows, how long
// Spark took for them, and the hop from the read's return in the JVM to
// its last row decoded here (microseconds; the two clocks are the same
// machine's).
type sparkStats struct {
	reads, rows, readMsSum, readMsMax int64
	hopUsSum, hopUsMax                int64
}

// sparkReady is one start's ready line, once it came.
type sparkReady struct {
	once      sync.Once
	done      chan struct{}
	sessionMs int64
}

// err says whether the ready line came: nil once it did.
func (r *sparkReady) err() error {
	select {
	case <-r.done:
		return nil
	default:
		return errors.New("no ready line yet")
	}
}

func newSparkFeed(ln net.Listener, firstID int64, fail func(error)) *sparkFeed {
	f := &sparkFeed{ln: ln, fail: fail, subs: map[*sparkSource]struct{}{}, next: firstID, seen: map[int64]struct{}{}}
	go f.accept()
	return f
}

// addr is the socket's address for the program's --sink.
func (f *sparkFeed) addr() string { return f.ln.Addr().String() }

// mark is the high-water mark: the lowest id not delivered yet.
func (f *sparkFeed) mark() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.next
}

// expect readies the feed for a program's connection and returns what its
// ready line will be recorded in.
func (f *sparkFeed) expect() *sparkReady {
	r := &sparkReady{done: make(chan struct{})}
	f.mu.Lock()
	f.waiting = r
	f.mu.Unlock()
	return r
}

// accept serves each program's connection in turn: one at a time, the
// next after a crash.
func (f *sparkFeed) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		f.mu.Lock()
		if f.conn != nil {
			_ = f.conn.Close() // a killed program's, whose EOF may not have come yet
		}
		f.conn = c
		r := f.waiting
		f.mu.Unlock()
		go f.serve(c, r)
	}
}

// serve decodes one program's connection until it ends.
func (f *sparkFeed) serve(c net.Conn, ready *sparkReady) {
	err := f.read(c, ready)
	f.mu.Lock()
	current := f.conn == c
	closed := f.closed
	f.mu.Unlock()
	if current && !closed {
		if err == nil {
			err = errors.New("closed its connection")
		}
		f.fail(fmt.Errorf("driver: spark: the program stopped sending rows: %w", err))
	}
}

// read decodes the ready line, then reads, handing each to the subscribers.
func (f *sparkFeed) read(c net.Conn, ready *sparkReady) error {
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var batch []source.Delivery
	want := 0
	for sc.Scan() {
		line := sc.Text()
		if want > 0 {
			d, err := parseSparkRow(line)
			if err != nil {
				return err
			}
			d.EventUs = batch[0].EventUs
			batch = append(batch, d)
			if want--; want == 0 {
				hop := time.Now().UnixMicro() - batch[0].EventUs
				f.mu.Lock()
				f.st.hopUsSum += hop
				f.st.hopUsMax = max(f.st.hopUsMax, hop)
				f.mu.Unlock()
				f.hand(batch[1:])
			}
			continue
		}
		fields := strings.Split(line, "\t")
		switch {
		case fields[0] == "ready" && len(fields) == 2 && ready != nil:
			ms, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return fmt.Errorf("ready line %q: %w", line, err)
			}
			ready.once.Do(func() { ready.sessionMs = ms; close(ready.done) })
		case fields[0] == "batch" && len(fields) == 5:
			var n [4]int64
			for i := range n {
				v, err := strconv.ParseInt(fields[i+1], 10, 64)
				if err != nil {
					return fmt.Errorf("batch line %q: %w", line, err)
				}
				n[i] = v
			}
			f.mu.Lock()
			f.st.reads++
			f.st.rows += n[2]
			f.st.readMsSum += n[3]
			f.st.readMsMax = max(f.st.readMsMax, n[3])
			f.mu.Unlock()
			// batch[0] carries the read's time for its rows.
			batch = append(batch[:0], source.Delivery{EventUs: n[1]})
			want = int(n[2])
		default:
			return fmt.Errorf("unexpected line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if want > 0 {
		return fmt.Errorf("connection ended %d rows into a read", len(batch)-1)
	}
	return nil
}

// parseSparkRow decodes "ID USER_ID AMOUNT_CENTS CARD MERCHANT_ID CREATED_US".
func parseSparkRow(line string) (source.Delivery, error) {
	var d source.Delivery
	fields := strings.Split(line, "\t")
	if len(fields) != 6 {
		return d, fmt.Errorf("row line %q: want 6 fields", line)
	}
	var n [5]int64
	for i, j := range []int{0, 1, 2, 4, 5} {
		v, err := strconv.ParseInt(fields[j], 10, 64)
		if err != nil {
			return d, fmt.Errorf("row line %q: %w", line, err)
		}
		n[i] = v
	}
	d.Tx = txn.Row{ID: n[0], UserID: int32(n[1]), AmountCents: n[2], Card: txn.ParseCard([]byte(fields[3])),
		MerchantID: int32(n[3]), CreatedAt: n[4]}
	return d, nil
}

// hand delivers the rows of one read that were not delivered before (a
// program started again reads from the mark) to every subscriber, and
// moves the mark.
func (f *sparkFeed) hand(rows []source.Delivery) {
	f.mu.Lock()
	fresh := make([]source.Delivery, 0, len(rows))
	for _, d := range rows {
		if _, dup := f.seen[d.Tx.ID]; d.Tx.ID < f.next || dup {
			continue
		}
		f.seen[d.Tx.ID] = struct{}{}
		fresh = append(fresh, d)
	}
	for {
		if _, ok := f.seen[f.next]; !ok {
			break
		}
		delete(f.seen, f.next)
		f.next++
	}
	subs := make([]*sparkSource, 0, len(f.subs))
	for s := range f.subs {
		subs = append(subs, s)
	}
	f.mu.Unlock()
	if len(fresh) == 0 {
		return
	}
	for _, s := range subs {
		select {
		case s.ch <- fresh:
		case <-s.done:
		}
	}
}

// stats returns the reads counted so far.
func (f *sparkFeed) stats() sparkStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

// subscribe adds an agent instance.
func (f *sparkFeed) subscribe() *sparkSource {
	s := &sparkSource{feed: f, ch: make(chan []source.Delivery, 64), done: make(chan struct{})}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s
}

// detach lets the current connection go without a failure: its program
// is being killed on purpose.
func (f *sparkFeed) detach() {
	f.mu.Lock()
	c := f.conn
	f.conn = nil
	f.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// close stops accepting and ends the current connection.
func (f *sparkFeed) close() {
	f.mu.Lock()
	f.closed = true
	c := f.conn
	f.mu.Unlock()
	_ = f.ln.Close()
	if c != nil {
		_ = c.Close()
	}
}

// sparkSource is one agent instance's share of a sparkFeed.
type sparkSource struct {
	feed *sparkFeed
	ch   chan []source.Delivery
	done chan struct{} // closed when Run returns
}

var _ source.Source = (*sparkSource)(nil)

// Run hands each row to fn with the time it is handed over, until ctx
// ends; the instance then leaves the feed.
func (s *sparkSource) Run(ctx context.Context, fn func(d *source.Delivery)) error {
	defer func() {
		s.feed.mu.Lock()
		delete(s.feed.subs, s)
		s.feed.mu.Unlock()
		close(s.done)
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case rows := <-s.ch:
			for i := range rows {
				d := rows[i]
				d.ReceivedNs = time.Now().UnixNano()
				fn(&d)
			}
		}
	}
}

// Skipped implements source.Source: Spark reads only rows of the table.
func (s *sparkSource) Skipped() map[string]int64 { return nil }
