package bench

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/source"
	"github.com/cdcbench/cdcbench/internal/table"
	"github.com/cdcbench/cdcbench/producer"
)

// agentRun is one agent on one path: it sits between a Source and a
// Detector, drops redelivered rows (at-least-once delivery must not make an
// agent alert twice), and times every stage of each row's trip.
type agentRun struct {
	name      string
	set       *recorder.Set
	log       *producer.BatchLog
	batchSize int
	// Rows created before measureFromUs are warm-up: counted, not timed.
	// Set once the probe is through, read on the source goroutine.
	measureFromUs atomic.Int64
	delay         time.Duration
	// slices, when the plan has any, time e2e per slice of the schedule,
	// which started at startUs (set with measureFromUs).
	slices  []*recorder.Single
	plan    *Plan
	startUs atomic.Int64
	publish func(AlertRecord)
	path    string

	probe     chan struct{}
	probeOnce sync.Once

	seenMu sync.Mutex // instances of the agent share the accounting
	seen   idSet
	// lastID is the highest id the producer has generated so far: a row
	// above it (or below the first id) was not written by this run, such
	// as a stray message on a shared topic, and is counted, not judged.
	lastID        *atomic.Int64
	foreign       atomic.Int64
	events        atomic.Int64
	duplicates    atomic.Int64
	beforeCommit  atomic.Int64 // rows received before the producer saw their commit ack
	alertsMu      sync.Mutex
	alerts        idSet
	delayed       chan verdict
	delayLineDone chan struct{}
	closeOnce     sync.Once
}

// verdict is a judged row waiting in the --agent-delay line.
type verdict struct {
	d     source.Delivery
	alert bool
	a     agents.Alert
	due   time.Time
}

// newAgentRun times agent name on path against the producer's log.
func newAgentRun(path, name string, log *producer.BatchLog, plan *Plan, lastID *atomic.Int64,
	publish func(AlertRecord)) *agentRun {
	r := &agentRun{
		name: name, set: recorder.NewSet(), log: log, batchSize: plan.BatchSize, delay: plan.AgentDelay,
		plan: plan, lastID: lastID, publish: publish, path: path, probe: make(chan struct{}),
	}
	for range plan.Slices {
		r.slices = append(r.slices, recorder.NewSingle())
	}
	r.measureFromUs.Store(1<<63 - 1)
	if r.delay > 0 {
		// The delay is pipelined, not a sleep in the consumer loop: every
		// verdict is released exactly delay later, and throughput is what it
		// was, so the end-to-end figures must grow by delay and nothing else.
		r.delayed = make(chan verdict, 1<<16)
		r.delayLineDone = make(chan struct{})
		go r.delayLine()
	}
	return r
}

// handler returns the Source callback of one instance of the agent, with
// its own detector state; it runs on that instance's source goroutine.
func (r *agentRun) handler(det agents.Detector) func(d *source.Delivery) {
	return func(d *source.Delivery) {
		if d.Tx.ID == table.ProbeID {
			r.probeOnce.Do(func() { close(r.probe) })
			return
		}
		if d.Tx.ID < producer.FirstID || d.Tx.ID > r.lastID.Load() {
			r.foreign.Add(1)
			return
		}
		r.seenMu.Lock()
		fresh := r.seen.add(d.Tx.ID)
		r.seenMu.Unlock()
		if !fresh {
			r.duplicates.Add(1)
			return
		}
		a, alert := det.Observe(&d.Tx)
		if r.delay > 0 {
			r.delayed <- verdict{d: *d, alert: alert, a: a, due: time.Unix(0, d.ReceivedNs).Add(r.delay)}
			return
		}
		r.record(d, alert, a, time.Now().UnixNano())
	}
}

// probed reports whether the probe row reached the agent.
func (r *agentRun) probed() bool {
	select {
	case <-r.probe:
		return true
	default:
		return false
	}
}

func (r *agentRun) delayLine() {
	defer close(r.delayLineDone)
	for v := range r.delayed {
		if w := time.Until(v.due); w > 0 {
			time.Sleep(w)
		}
		r.record(&v.d, v.alert, v.a, time.Now().UnixNano())
	}
}

// close waits for the delay line to empty. Call it once the source stopped;
// calling it again is harmless.
func (r *agentRun) close() {
	if r.delayed == nil {
		return
	}
	r.closeOnce.Do(func() {
		close(r.delayed)
		<-r.delayLineDone
	})
}

// record times d's stages, counts it, and raises its alert.
func (r *agentRun) record(d *source.Delivery, alert bool, a agents.Alert, verdictNs int64) {
	if alert {
		r.alertsMu.Lock()
		r.alerts.add(a.TxID)
		r.alertsMu.Unlock()
		if r.publish != nil {
			r.publish(AlertRecord{Path: r.path, Agent: r.name, TxID: a.TxID, UserID: a.UserID, Score: a.Score,
				CreatedAtUs: d.Tx.CreatedAt, ReceivedNs: d.ReceivedNs, VerdictNs: verdictNs})
		}
	}
	r.events.Add(1)
	batch := producer.BatchOf(d.Tx.ID, r.batchSize)
	commitNs := r.log.Commit(batch)
	if commitNs == 0 || commitNs > d.ReceivedNs {
		// The row reached the agent before the producer's COPY returned:
		// the WAL sender can beat the client's commit acknowledgement.
		r.beforeCommit.Add(1)
	}
	if d.Tx.CreatedAt < r.measureFromUs.Load() {
		return
	}
	intendedNs := d.Tx.CreatedAt * 1000
	sendNs := r.log.Send(batch)
	us := func(ns int64) int64 { return ns / 1000 }
	s := r.set
	s.Record(recorder.E2E, us(verdictNs-intendedNs))
	if len(r.slices) > 0 {
		if i := r.plan.sliceOf(time.Duration(d.Tx.CreatedAt-r.startUs.Load()) * time.Microsecond); i >= 0 {
			r.slices[i].Record(us(verdictNs - intendedNs))
		}
	}
	if alert {
		s.Record(recorder.Alert, us(verdictNs-intendedNs))
	}
	s.Record(recorder.Agent, us(verdictNs-d.ReceivedNs))
	if sendNs != 0 {
		s.Record(recorder.E2EUncorrected, us(verdictNs-sendNs))
		s.Record(recorder.ScheduleLag, us(sendNs-intendedNs))
		if commitNs != 0 {
			s.Record(recorder.InsertCommit, us(commitNs-sendNs))
			s.Record(recorder.CommitReceive, us(max(d.ReceivedNs-commitNs, 0)))
		}
	}
	switch {
	case d.CommitUs != 0 && d.EventUs != 0:
		s.Record(recorder.CommitEvent, d.EventUs-d.CommitUs)
	case d.EventUs != 0 && commitNs != 0:
		// An event without the WAL's commit time (a Spark read's rows):
		// from the producer's commit acknowledgement to the read's return.
		s.Record(recorder.CommitEvent, max(d.EventUs-us(commitNs), 0))
	}
	if d.EventUs != 0 {
		s.Record(recorder.EventReceive, us(d.ReceivedNs)-d.EventUs)
		if d.AppendUs != 0 {
			s.Record(recorder.EventAppend, d.AppendUs-d.EventUs)
			s.Record(recorder.AppendReceive, us(d.ReceivedNs)-d.AppendUs)
		}
	}
}

// alertDiff compares the agent's alerts with expected, on the rows in
// within (all rows when nil).
func (r *agentRun) alertDiff(expected, within *idSet) alertDiff {
	r.alertsMu.Lock()
	defer r.alertsMu.Unlock()
	received := &r.alerts
	if within != nil {
		received = received.and(within)
	}
	return diffAlerts(expected, received)
}

// duplicatesOf sums the events the agents received more than once.
func duplicatesOf(runs []*agentRun) int64 {
	var n int64
	for _, r := range runs {
		n += r.duplicates.Load()
	}
	return n
}
